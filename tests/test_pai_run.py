"""Pruning at initialization as methods of ``lottery run`` (lottery_core/loops/pai_methods.py,
docs/pai.md): every method end to end through the CLI on real MNIST with LeNet-300-100 (exact
counts of IMP's schedule, pruned weights exactly 0 after training, masks from θ_0), the
allocations, the BatchNorm mode of the scoring pass against finite differences and independent
autodiff in both modes, and bad options."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lottery_cli.main as cli
from lottery_core import sparsity
from lottery_core.config import ExperimentConfig
from lottery_core.loops import pai_methods
from lottery_core.loops.levels import Runner
from lottery_core.loops.protocol import LevelContext
from lottery_core.loops.registry import check_config, get_method
from lottery_core.models import get_model
from lottery_core.store import flatten, load_tree

METHODS = ("snip", "grasp", "synflow", "magnitude-init", "random")
#: LeNet-300-100 on MNIST at CI size: 2 levels of 20 steps, evaluated once per level
TINY = ["--model", "lenet300", "--dataset", "mnist", "--iterations", "20", "--eval-every",
        "20", "--validation-size", "1000", "--levels", "2", "--seeds", "1", "--no-progress",
        "--no-plot"]
#: per method: options beyond TINY (SynFlow: 5 rounds, linear schedule, to keep CI short;
#: random: the ERK allocation; the others the defaults: global allocation, eval BatchNorm)
OPTIONS = {"synflow": ["--synflow-rounds", "5", "--synflow-schedule", "linear"],
           "random": ["--pai-allocation", "erk"]}
LENET = {"dense_0/kernel": (784 * 300, 0.2), "dense_1/kernel": (300 * 100, 0.2),
         "dense_2/kernel": (100 * 10, 0.1)}


def imp_counts(level: int) -> dict[str, int]:
    """IMP's kept weights per layer after ``level`` levels (LeNet recipe: 20 %, output 10 %,
    each level removing floor(f·n + 1/2) of the n survivors), computed here by hand."""
    out = {}
    for path, (n, fraction) in LENET.items():
        for _ in range(level):
            n -= int(np.floor(fraction * n + 0.5))
        out[path] = n
    return out


def run_folder(out, method: str):
    folders = list(out.glob(f"{method}-*"))
    assert len(folders) == 1, folders
    return folders[0]


@pytest.fixture(scope="module")
def runs(shared_data, tmp_path_factory):
    """``lottery run METHOD`` for each PaI method into one folder (the last one also plots)."""
    out = tmp_path_factory.mktemp("pai")
    for i, method in enumerate(METHODS):
        plot = [] if i == len(METHODS) - 1 else ["--no-plot"]
        args = [a for a in TINY if a != "--no-plot"] + plot
        assert cli.main(["run", method, *args, *OPTIONS.get(method, []), "--data-dir",
                         str(shared_data), "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("method", METHODS)
def test_each_method_prunes_at_init_to_exact_counts_and_keeps_zeros(runs, method):
    folder = run_folder(runs, method)
    init = flatten(load_tree(folder / "seed_0" / "init.npz")["params"])
    for level in (1, 2):
        d = folder / "seed_0" / f"level_{level}"
        mask, params = flatten(load_tree(d / "mask.npz")), flatten(load_tree(d / "params.npz"))
        metrics = json.loads((d / "metrics.json").read_text())
        total = sum(imp_counts(level).values())
        assert sum(int(mask[p].sum()) for p in LENET) == total           # exact total
        if method == "random":       # ERK's per-layer counts (shapes only)
            erk = sparsity.erk_counts(load_tree(folder / "seed_0" / "init.npz")["params"],
                                      total, list(LENET))
            assert {p: int(mask[p].sum()) for p in LENET} == erk
        assert metrics["kept_weights"] == total and metrics["prunable_weights"] == 266200
        for path in mask:                                                # biases kept
            if path not in LENET:
                assert mask[path].all()
            assert np.all(params[path][~mask[path]] == 0.0)              # exactly zero
        assert (metrics["first_step"], metrics["steps"]) == (0, 20)      # trained from θ_0
        assert metrics["sign_flips_vs_init"]["overall"] < 0.5
        if method == "magnitude-init":       # the top |θ_0|, computed here with numpy
            theta = np.concatenate([np.abs(init[p]).ravel() for p in LENET])
            kept = np.concatenate([mask[p].ravel() for p in LENET])
            assert theta[kept].min() >= theta[~kept].max()
    masks = [flatten(load_tree(folder / "seed_0" / f"level_{k}" / "mask.npz"))
             for k in (1, 2)]
    nested = all(not np.any(masks[1][p] & ~masks[0][p]) for p in LENET)
    assert nested or method == "synflow"     # one-shot scores: same scores, fewer kept


def test_masks_are_the_scores_at_theta_0(runs, shared_data):
    """SNIP's level-2 mask is the top of SNIP's scores of θ_0 on the seed's scoring batch
    (BatchNorm mode irrelevant for LeNet), recomputed here with the score function."""
    from lottery_core.data import load_dataset

    folder = run_folder(runs, "snip")
    init = load_tree(folder / "seed_0" / "init.npz")["params"]
    data = load_dataset("mnist", shared_data, validation_size=1000)
    x, y = pai_methods.scoring_batch(data, 0, None, 1)
    assert x.shape == (100, 28, 28, 1)                # 10 × classes
    model = get_model("lenet300", input_shape=data.input_shape, num_classes=10)
    scores = flatten(sparsity.score_at_init("snip", init, {}, model.apply, x=x, y=y))
    mask = flatten(load_tree(folder / "seed_0" / "level_2" / "mask.npz"))
    s = np.concatenate([np.asarray(scores[p], np.float64).ravel() for p in LENET])
    kept = np.concatenate([mask[p].ravel() for p in LENET])
    assert s[kept].min() >= s[~kept].max()
    # SynFlow's level-1 mask is the iterative SynFlow of θ_0 with the run's rounds, schedule
    folder = run_folder(runs, "synflow")
    init = load_tree(folder / "seed_0" / "init.npz")["params"]
    groups = [(list(LENET), sum(imp_counts(1).values()))]
    expected = flatten(sparsity.synflow_mask_counts(init, {}, model.apply, (28, 28, 1), groups,
                                                    rounds=5, schedule="linear"))
    got = flatten(load_tree(folder / "seed_0" / "level_1" / "mask.npz"))
    assert all(np.array_equal(np.asarray(expected[p]), got[p]) for p in got)


def test_runs_are_plotted_resumed_and_share_imps_hash(runs, shared_data, capsys):
    assert (runs / "accuracy_vs_density.png").stat().st_size > 1000
    hashes = {m: run_folder(runs, m).name.split("-")[-1] for m in METHODS}
    assert len({h for m, h in hashes.items() if m not in OPTIONS}) == 1   # the folder's method
    assert len(set(hashes.values())) == 3             # non-default options are hashed
    identity = json.loads((run_folder(runs, "random") / "config.json").read_text())["identity"]
    assert identity["pai_allocation"] == "erk" and "score_bn" not in identity
    metrics = run_folder(runs, "synflow") / "seed_0" / "level_2" / "metrics.json"
    stamp = metrics.stat().st_mtime_ns
    assert cli.main(["run", "synflow", *TINY, *OPTIONS["synflow"], "--data-dir",
                     str(shared_data), "--out", str(runs)]) == 0
    assert metrics.stat().st_mtime_ns == stamp        # finished levels are skipped
    assert "seed 0 level" not in capsys.readouterr().out


def test_allocations_spread_the_exact_total_over_the_layers():
    """Each allocation keeps IMP's total exactly; global pools, uniform keeps one density,
    balanced equal counts capped at the layer sizes (counts by hand for LeNet-300-100)."""
    params = {f"dense_{i}": {"kernel": np.zeros(shape), "bias": np.zeros(shape[1])}
              for i, shape in enumerate([(784, 300), (300, 100), (100, 10)])}
    paths = list(LENET)
    sizes = {p: n for p, (n, _) in LENET.items()}
    for level in (1, 5):
        total = sum(imp_counts(level).values())
        for kind in sparsity.PAI_ALLOCATIONS:
            groups = sparsity.count_groups(kind, params, total, paths)
            assert sum(c for _, c in groups) == total
            counts = {g[0]: c for g, c in groups}
            if kind == "global":
                assert groups == [(paths, total)]
            if kind == "uniform":       # within one weight of the common density
                assert all(abs(c - total / 266200 * sizes[p]) <= 1.5 for p, c in counts.items())
            if kind == "balanced" and level == 1:   # two layers full, the rest in dense_0
                assert counts == {"dense_0/kernel": total - 31000, "dense_1/kernel": 30000,
                                  "dense_2/kernel": 1000}
            if kind == "erk":
                assert counts == sparsity.erk_counts(params, total, paths)
    with pytest.raises(ValueError, match="unknown allocation 'layerwise'"):
        sparsity.count_groups("layerwise", params, 10, paths)


# ----------------------------------------------------------------------------- BatchNorm
def _apply_bn(params, state, x, train):
    """dense -> BatchNorm -> tanh -> dense, float64, BatchNorm written out here: batch
    statistics (biased variance) in train mode, running statistics in eval mode."""
    h = x @ params["dense_0"]["kernel"]
    mean, var = ((h.mean(0), h.var(0)) if train else (state["bn"]["mean"], state["bn"]["var"]))
    h = (h - mean) / jnp.sqrt(var + 1e-5) * params["bn"]["scale"] + params["bn"]["bias"]
    return jnp.tanh(h) @ params["dense_1"]["kernel"] + params["dense_1"]["bias"], state


def _tiny_bn(seed=0):
    rng = np.random.default_rng(seed)
    params = {"dense_0": {"kernel": jnp.asarray(rng.normal(size=(3, 4)))},
              "bn": {"scale": jnp.asarray(1 + 0.2 * rng.normal(size=4)),
                     "bias": jnp.asarray(0.1 * rng.normal(size=4))},
              "dense_1": {"kernel": jnp.asarray(rng.normal(size=(4, 3))),
                          "bias": jnp.asarray(rng.normal(size=3) * 0.1)}}
    state = {"bn": {"mean": jnp.asarray(0.3 * rng.normal(size=4)),
                    "var": jnp.asarray(1 + rng.uniform(size=4))}}
    x = jnp.asarray(rng.normal(size=(8, 3)) + 0.5)
    y = jnp.asarray(rng.integers(0, 3, size=8))
    return params, state, x, y


def _kernels(tree):
    return np.concatenate([np.ravel(tree["dense_0"]["kernel"]),
                           np.ravel(tree["dense_1"]["kernel"])])


def _with_kernels(params, flat):
    a = params["dense_0"]["kernel"].size
    return {**params,
            "dense_0": {"kernel": jnp.reshape(flat[:a], params["dense_0"]["kernel"].shape)},
            "dense_1": {**params["dense_1"],
                        "kernel": jnp.reshape(flat[a:], params["dense_1"]["kernel"].shape)}}


def _central_diff(f, theta, h=1e-5):
    out = np.zeros_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        out[j] = (f(theta + e) - f(theta - e)) / (2 * h)
    return out


@pytest.mark.parametrize("train", [False, True])
def test_scores_in_both_batchnorm_modes_match_finite_differences(train):
    """SNIP and GraSP of a BatchNorm net, in each mode, against finite differences of the
    loss of that mode (float64, 1e-6) and, for GraSP, the full autodiff Hessian."""
    T = 200.0
    with jax.enable_x64(True):
        params, state, x, y = _tiny_bn()
        theta = _kernels(params)

        @jax.jit
        def loss(th, scale=1.0):
            logits = _apply_bn(_with_kernels(params, th), state, x, train)[0]
            return sparsity.cross_entropy(logits / scale, y)

        snip_ref = np.abs(_central_diff(lambda c: float(loss(theta * c)), np.ones_like(theta)))
        got = _kernels(sparsity.score_at_init("snip", params, state, _apply_bn, x=x, y=y,
                                              train=train))
        np.testing.assert_allclose(got, snip_ref / snip_ref.sum(), atol=1e-6, rtol=0)

        # GraSP: g by finite differences of the loss, Hg by finite differences of ∇L along g;
        # and the full autodiff Hessian. Compared before the normalisation by |Σ θ ⊙ Hg|,
        # which is small in train mode (BatchNorm makes the loss scale-invariant in the first
        # kernel's columns) and would magnify the finite-difference error.
        g = _central_diff(lambda th: float(loss(jnp.asarray(th), T)), theta)
        step = 1e-5 / np.linalg.norm(g)
        grad = jax.jit(jax.grad(lambda th: loss(th, T)))
        hg = (np.asarray(grad(jnp.asarray(theta + step * g)))
              - np.asarray(grad(jnp.asarray(theta - step * g)))) / (2 * step)
        hessian = np.asarray(jax.jit(jax.hessian(lambda th: loss(th, T)))(jnp.asarray(theta)))
        exact = theta * (hessian @ np.asarray(grad(jnp.asarray(theta))))
        got = _kernels(sparsity.score_at_init("grasp", params, state, _apply_bn, x=x, y=y,
                                              train=train))
        norm = abs(exact.sum()) + 1e-10
        np.testing.assert_allclose(got, exact / norm, rtol=1e-9, atol=1e-12)
        scale = np.abs(exact).max()
        np.testing.assert_allclose(got * norm, theta * hg, atol=1e-6 * scale, rtol=0)
        other = _kernels(sparsity.score_at_init("snip", params, state, _apply_bn, x=x, y=y,
                                                train=not train))
        assert np.abs(other - snip_ref / snip_ref.sum()).max() > 1e-3    # the mode matters


def test_scores_over_several_batches_sum_the_batch_losses():
    """``batches=2``: each half its own BatchNorm statistics, the two losses summed."""
    with jax.enable_x64(True):
        params, state, x, y = _tiny_bn(1)
        theta = _kernels(params)

        @jax.jit
        def loss(th):
            p = _with_kernels(params, th)
            return sum(sparsity.cross_entropy(_apply_bn(p, state, x[h], True)[0], y[h])
                       for h in (slice(0, 4), slice(4, 8)))

        ref = np.abs(_central_diff(lambda c: float(loss(theta * c)), np.ones_like(theta)))
        got = _kernels(sparsity.score_at_init("snip", params, state, _apply_bn, x=x, y=y,
                                              train=True, batches=2))
        np.testing.assert_allclose(got, ref / ref.sum(), atol=1e-6, rtol=0)


def test_the_score_bn_option_reaches_the_resnet_scores(tmp_path):
    """``lottery run snip --score-bn MODE`` on ResNet-8 (BatchNorm): the level mask is the
    exact-count top of SNIP's scores in that mode, and the modes differ. In train mode (batch
    statistics) the scores equal an independent autodiff reference, the gate gradient
    ∂L(θ ⊙ c)/∂c at c = 1 (both modes against finite differences: the float64 test above;
    at θ_0 eval-mode BatchNorm is the identity)."""
    from lottery_core.data import synthetic

    data = synthetic(n_train=64, n_test=16, input_shape=(8, 8, 3), validation_size=16)
    config = ExperimentConfig(method="snip", model="resnet_cifar", model_options={"depth": 8},
                              dataset="synthetic", iterations=2, epochs=None, warmup_epochs=0,
                              input_pipeline="none", batch_size=8, levels=1, seeds=1,
                              score_batch_size=16)
    runner = Runner(config, tmp_path, dataset=data, progress=False, log=lambda _: None)
    params, state = runner.initial(0)
    paths = sparsity.prunable_paths(params)
    x, y = pai_methods.scoring_batch(runner.dataset, 0, 16, 1)
    apply = runner.trainer.apply_fn
    gates = jax.tree_util.tree_map(np.ones_like, params)
    masks, scores = {}, {}
    for mode in ("eval", "train"):
        ctx = LevelContext(level=1, seed=0, config=dataclasses.replace(config, score_bn=mode),
                           total_steps=2, init_params=params, init_state=state,
                           rewind_params=None, rewind_state=None, previous_params=None,
                           previous_state=None, previous_mask=None, fractions=runner.fractions,
                           key=None, run_dir=runner.run_dir, runner=runner)
        masks[mode] = flatten(runner.method.next_mask(ctx))
        got = sparsity.score_at_init("snip", params, state, apply, x=x, y=y,
                                     train=mode == "train")
        scores[mode] = np.concatenate([np.asarray(flatten(got)[p]).ravel() for p in paths])
        if mode == "train":
            grad_c = jax.jit(jax.grad(lambda c: sparsity.cross_entropy(apply(
                jax.tree_util.tree_map(jnp.multiply, params, c), state, x, True)[0], y)))(gates)
            ref = np.concatenate([np.abs(np.asarray(flatten(grad_c)[p])).ravel()
                                  for p in paths])
            np.testing.assert_allclose(scores[mode], ref / ref.sum(), rtol=2e-4, atol=1e-9)
        expected = flatten(sparsity.keep_counts(got, pai_methods.level_groups(ctx),
                                                sparsity.full_mask(params)))
        assert all(np.array_equal(expected[p], masks[mode][p]) for p in expected)
        sizes = {p: int(np.size(flatten(params)[p])) for p in paths}
        assert sum(int(masks[mode][p].sum()) for p in paths) == sparsity.schedule_total(
            sizes, runner.fractions, "global", 1)           # the LRR recipe: global 20 %
    assert not np.allclose(scores["eval"], scores["train"], rtol=0.1)
    assert any(not np.array_equal(masks["eval"][p], masks["train"][p]) for p in paths)


# ----------------------------------------------------------------------------- options
@pytest.mark.parametrize("args,message", [
    (["snip", "--score-bn", "sideways"], "score_bn must be one of eval, train, got 'sideways'"),
    (["synflow", "--synflow-rounds", "0"], "synflow_rounds must be an integer >= 1, got 0"),
    (["synflow", "--synflow-schedule", "cubic"],
     "synflow_schedule must be one of exponential, linear, got 'cubic'"),
    (["random", "--pai-allocation", "layerwise"],
     "pai_allocation must be one of global, uniform, balanced, erk, got 'layerwise'"),
    (["imp", "--score-bn", "train"], "--score-bn is read only by the methods snip, grasp;"),
    (["synflow", "--score-batches", "2"], "--score-batches is read only by the methods snip,"),
    (["snip", "--synflow-rounds", "5"], "--synflow-rounds is read only by the methods synflow;"),
    (["pilot", "--epochs", "1", "--pai-allocation", "erk"], "--pai-allocation is read only by"),
])
def test_bad_options_give_one_line(args, message, capsys, tmp_path):
    assert cli.main(["run", *args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_too_large_a_scoring_batch_is_a_usage_error():
    """One line (the CLI prints a UsageError as one line, exit 2) naming the sizes."""
    from lottery_core.data import synthetic
    from lottery_core.errors import UsageError

    data = synthetic(n_train=50, n_test=10, input_shape=(4, 4, 1), validation_size=10)
    x, y = pai_methods.scoring_batch(data, 3, 20, 2)
    assert x.shape == (40, 4, 4, 1) and len(set(map(bytes, x))) == 40      # no repeats
    np.testing.assert_array_equal(pai_methods.scoring_batch(data, 3, 20, 2)[1], y)
    assert not np.array_equal(pai_methods.scoring_batch(data, 4, 20, 2)[1], y)
    with pytest.raises(UsageError, match=r"need 2 × 30 = 60 training examples; the training "
                                         r"split has 50 \(lower --score-batch-size"):
        pai_methods.scoring_batch(data, 0, 30, 2)


def test_pai_fields_leave_existing_hashes_alone():
    """New fields at their defaults are not hashed: IMP's LeNet hash is unchanged and the
    PaI methods share it; a PaI option set away from its default enters the hash."""
    from lottery_core.store import identity_hash

    base = ExperimentConfig(model="lenet300")
    assert identity_hash(base.identity()) == "d89d83e7582f"
    for method in METHODS:
        check_config(dataclasses.replace(base, method=method))
        assert dataclasses.replace(base, method=method).identity() == base.identity()
    train = dataclasses.replace(base, method="snip", score_bn="train")
    assert train.identity()["score_bn"] == "train"
    assert get_method("synflow").reads == ("pai_allocation", "synflow_rounds",
                                           "synflow_schedule")
