"""The continuous-sparsification family (spec mirror.md §3.3, §3.4): each method's defining
equation on a small case, each method end to end through ``lottery run`` on real MNIST
(a 300-example subset, an MLP of width 32) with the exact density and exact zeros of its pruned
weights, and bad option values (one line each)."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lottery_cli.main as cli
from lottery_core.loops import cs_methods
from lottery_core.sparsity import continuous as cs
from lottery_core.sparsity import reparam as rp
from lottery_core.sparsity import round_half_up
from lottery_core.store import flatten, load_tree

TINY = ["--model", "mlp", "--model-options", '{"widths": [32]}', "--dataset", "mnist",
        "--train-subset", "300", "--validation-size", "100", "--batch-size", "50",
        "--optimizer", "sgd", "--learning-rate", "0.05", "--momentum", "0.9", "--seeds", "1",
        "--no-progress", "--no-plot"]
SPARSITIES = (0.5, 0.9)
#: one-shot method -> its options (small budgets: 2 epochs)
ONESHOT = {
    "spred": ["--spred-alpha", "1e-3"],
    "l1": ["--l1-lambda", "1e-3", "--l1-schedule", "harmonic"],
    "cs": ["--cs-lambda", "1e-4", "--cs-final-temperature", "10"],
    "powerprop": ["--powerprop-alpha", "2"],
    "str": ["--str-s-init", "-4", "--weight-decay", "1e-2"],
}
#: level methods run end to end: every base (imp, wr, lrr) and both inits; the other three
#: combinations are the same two pieces (test_level_methods_registered checks all six)
LEVEL = ("imp+pilot", "wr+spred", "lrr+pilot")


def run(*args) -> int:
    return cli.main(["run", *args])


# ----------------------------------------------------------------------------- equations
def test_str_soft_threshold():
    w = jnp.array([-2.0, -0.3, 0.0, 0.2, 0.5, 3.0])
    s = jnp.float32(0.0)                                   # σ(0) = 0.5
    np.testing.assert_allclose(cs.str_weight(w, s), [-1.5, 0.0, 0.0, 0.0, 0.0, 2.5], atol=1e-7)
    s = jnp.float32(np.log(0.25 / 0.75))                   # σ(s) = 0.25
    np.testing.assert_allclose(cs.str_weight(w, s), [-1.75, -0.05, 0.0, 0.0, 0.25, 2.75],
                               atol=1e-6)
    # the threshold is learnable: dx/ds = −sign(w)·σ'(s) where |w| > σ(s), else 0
    w = jnp.array([-2.0, -0.3, 0.0, 0.2, 0.7, 3.0])
    g = jax.jacfwd(lambda s: cs.str_weight(w, s))(jnp.float32(0.0))
    np.testing.assert_allclose(g, [0.25, 0.0, 0.0, 0.0, -0.25, -0.25], atol=1e-7)


def test_powerprop_weight_and_init():
    theta = jnp.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(cs.powerprop_weight(theta, 2.0), [-4.0, -0.25, 0.0, 0.25, 9.0])
    np.testing.assert_allclose(cs.powerprop_weight(theta, 3.0), theta ** 3, rtol=1e-6)
    x = jnp.array([-0.7, -1e-3, 0.0, 0.2, 1.5])
    for alpha in (2.0, 3.0):           # θ_0 gives back the usual initialization
        np.testing.assert_allclose(cs.powerprop_weight(cs.powerprop_init(x, alpha), alpha), x,
                                   rtol=1e-5, atol=1e-7)
    # "rich get richer": the gradient wrt θ is the gradient wrt x times α|θ|^(α−1)
    g = jax.grad(lambda t: cs.powerprop_weight(t, 2.0).sum())(theta)
    np.testing.assert_allclose(g, 2 * jnp.abs(theta))


def test_cs_gate_and_temperature_schedule():
    s = jnp.array([-1.0, -0.01, 0.0, 0.01, 1.0])
    np.testing.assert_allclose(cs.cs_gate(s, 1.0, 0.0), 2 / (1 + np.exp(-np.asarray(s))),
                               rtol=1e-6)
    np.testing.assert_allclose(cs.cs_gate(jnp.float32(0.3), 1.0, 0.3), 1.0, rtol=1e-6)
    w = jnp.array([1.0, 2.0, -3.0, 4.0, -5.0])
    np.testing.assert_allclose(cs.cs_hard_weight(w, s, 0.0), [0, 0, 0, 8.0, -10.0])
    off_zero = s != 0                                      # β → ∞: the hard mask 1[s > 0]
    hot = cs.cs_weight(w, s, 1e4, 0.0)
    np.testing.assert_allclose(hot[off_zero], cs.cs_hard_weight(w, s, 0.0)[off_zero], atol=1e-6)
    # β_e = β_T^(e/(T−1)): 1 at the first epoch, β_T at the last, geometric between
    betas = [cs.cs_temperature(e, 5, 200.0) for e in range(5)]
    np.testing.assert_allclose(betas, 200.0 ** (np.arange(5) / 4))
    assert betas[0] == 1.0 and abs(betas[-1] - 200.0) < 1e-9
    assert cs.cs_temperature(0, 1, 200.0) == 1.0


def test_l1_schedules():
    assert [cs.l1_strength("constant", 2.0, k) for k in (1, 2, 3)] == [2.0, 2.0, 2.0]
    assert [cs.l1_strength("harmonic", 2.0, k) for k in (1, 2, 4)] == [2.0, 1.0, 0.5]
    assert [cs.l1_strength("quadratic", 2.0, k) for k in (1, 2, 4)] == [2.0, 0.5, 0.125]
    np.testing.assert_allclose([cs.l1_strength("geometric", 2.0, k, 0.95) for k in (1, 2, 3)],
                               [2.0, 1.9, 2.0 * 0.95 ** 2])
    params = {"dense_0": {"kernel": jnp.array([[1.0, -2.0]]), "bias": jnp.array([5.0])}}
    penalty = cs_methods.L1.penalty(params, {"lam": jnp.float32(0.5)})
    assert float(penalty) == 1.5                           # kernels only: 0.5·(1 + 2)
    with pytest.raises(ValueError, match="unknown L1 schedule 'cubic'"):
        cs.l1_strength("cubic", 1.0, 1)


def test_spred_and_pilot_parameterizations():
    x = {"dense_0": {"kernel": jnp.array([[0.5, -0.2], [0.0, 1.3]]), "bias": jnp.zeros(2)}}
    spred = rp.reparameterize(x, init="spred")
    m, w = spred.m["dense_0"]["kernel"], spred.w["dense_0"]["kernel"]
    np.testing.assert_allclose(m * w, x["dense_0"]["kernel"], atol=1e-7)   # x = u ⊙ v
    np.testing.assert_allclose(jnp.abs(m), jnp.abs(w))                     # balanced: a_0 = 0
    assert spred.m["dense_0"]["bias"] is None
    pilot = rp.reparameterize(x, init="pilot", beta=1.0)
    m, w = pilot.m["dense_0"]["kernel"], pilot.w["dense_0"]["kernel"]
    np.testing.assert_allclose(m * w, x["dense_0"]["kernel"], atol=1e-7)
    np.testing.assert_allclose(m * m - w * w, 1.0, atol=1e-6)              # m² − w² = β
    # the penalty α(‖m‖² + ‖w‖²) and its gradient step = the spec's §1.5 update
    alpha, eta, g = 0.1, 0.05, jnp.array([[0.3, -0.1], [0.2, 0.4]])
    step = jax.grad(lambda r: jnp.sum(g * rp.collapse(r)["dense_0"]["kernel"])
                    + rp.weight_decay_penalty(r, alpha))(pilot)
    m2 = m - eta * step.m["dense_0"]["kernel"]
    w2 = w - eta * step.w["dense_0"]["kernel"]
    np.testing.assert_allclose(m2, (1 - 2 * eta * alpha) * m - eta * g * w, rtol=1e-6)
    # the imbalance law m'² − w'² = [(1 − 2ηα)² − η²g²](m² − w²) (spec §1.5, C2)
    np.testing.assert_allclose(m2 ** 2 - w2 ** 2,
                               ((1 - 2 * eta * alpha) ** 2 - eta ** 2 * g ** 2) * (m * m - w * w),
                               rtol=1e-5)


def test_level_mask_keeps_pruned_m_and_w_zero():
    from lottery_core.training import Trainer
    from lottery_core.training.pilot import alpha_aux, mask_reparam, pilot_loss, reparam_apply
    import optax

    def apply(params, state, x, train):
        return x @ params["dense_0"]["kernel"] + params["dense_0"]["bias"], state

    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (40, 6))
    y = jnp.arange(40) % 3
    params = {"dense_0": {"kernel": jax.random.normal(key, (6, 3)), "bias": jnp.zeros(3)}}
    mask = {"dense_0": {"kernel": jnp.arange(18).reshape(6, 3) % 2 == 0,
                        "bias": jnp.ones(3, bool)}}
    run_apply = reparam_apply(apply)
    trainer = Trainer(run_apply, optax.sgd(0.1, momentum=0.9), loss_fn=pilot_loss(run_apply),
                      grad_transform=mask_reparam, param_transform=mask_reparam)
    state = trainer.init_state(rp.reparameterize(params), {}, mask, aux=alpha_aux(1e-2))
    state, _ = trainer.run_steps(state, x, y, jnp.arange(40).reshape(4, 10))
    kept = mask["dense_0"]["kernel"]
    for tree in (state.params.m, state.params.w, rp.collapse(state.params)):
        assert np.all(np.asarray(tree["dense_0"]["kernel"])[~np.asarray(kept)] == 0.0)
    assert np.all(np.asarray(state.params.m["dense_0"]["kernel"])[np.asarray(kept)] != 0.0)


def test_level_methods_registered():
    from lottery_core.config import ExperimentConfig
    from lottery_core.loops import methods, registry

    params = {"dense_0": {"kernel": jnp.array([[0.5, -0.2], [0.0, 1.3]]), "bias": jnp.ones(2)}}
    for base, start in (("imp", methods.rewind_to_init), ("wr", methods.rewind_to_step_k),
                        ("lrr", methods.learning_rate_rewinding)):
        for init in ("pilot", "spred"):
            method = registry.get_method(f"{base}+{init}")
            assert method.start is start and method.needs_rewind_point == (base == "wr")
            config = ExperimentConfig(method=method.name, reparam_alpha=2e-3)
            r = method.reparam.trainable(params, config)
            m, w = r.m["dense_0"]["kernel"], r.w["dense_0"]["kernel"]
            np.testing.assert_allclose(m * m - w * w, 1.0 if init == "pilot" else 0.0,
                                       atol=1e-6)
            np.testing.assert_allclose(method.reparam.effective(r)["dense_0"]["kernel"],
                                       params["dense_0"]["kernel"], atol=1e-7)
            assert float(method.aux(type("R", (), {"cfg": config}), 0, 1)["alpha"]) == \
                pytest.approx(2e-3)
    # new fields at their defaults leave every existing run hash alone
    assert "reparam_alpha" not in ExperimentConfig(method="imp+pilot").identity()


# ----------------------------------------------------------------------------- end to end
def only(out: Path, method: str) -> Path:
    (run_dir,) = [p for p in out.glob(f"{method}-*") if p.is_dir()]
    return run_dir


@pytest.fixture(scope="module")
def oneshot_runs(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("cs_oneshot")
    for method, options in ONESHOT.items():
        assert run(method, *TINY, "--epochs", "2", "--data-dir", str(shared_data),
                   "--sparsities", ",".join(map(str, SPARSITIES)), *options,
                   "--out", str(out)) == 0, method
    return out


@pytest.mark.parametrize("method", list(ONESHOT))
def test_oneshot_method_exact_density_and_zeros(oneshot_runs, method):
    run_dir = only(oneshot_runs, method)
    config = json.loads((run_dir / "config.json").read_text())
    own = {k for k in config["settings"] if k != "scope"}
    assert own and all(k.startswith(method) for k in own)      # only its group is hashed
    d = run_dir / "seed_0"
    params = flatten(load_tree(d / "params.npz"))
    metrics = json.loads((d / "metrics.json").read_text())
    training = json.loads((d / "training.json").read_text())
    kernels = [k for k in params if k.endswith("kernel")]
    total = sum(params[k].size for k in kernels)
    assert metrics["sparsities"]["0.5000"]["prunable_weights"] == total == 784 * 32 + 32 * 10
    for s in SPARSITIES:
        entry = metrics["sparsities"][f"{s:.4f}"]
        mask = flatten(load_tree(d / f"mask_{s:.4f}.npz"))
        kept = sum(int(mask[k].sum()) for k in kernels)
        assert kept == entry["kept_weights"] == total - round_half_up(s * total)
        assert entry["density"] == kept / total
        # the pruned network: x ⊙ mask, pruned entries exactly 0, top-k of |x| kept
        flat_x = np.concatenate([np.abs(params[k]).ravel() for k in kernels])
        flat_m = np.concatenate([mask[k].ravel() for k in kernels])
        assert flat_x[flat_m].min() >= flat_x[~flat_m].max()
        pruned, _ = rp.magnitude_prune(load_tree(d / "params.npz"), s)
        pruned = flatten(pruned)
        assert all(np.all(np.asarray(pruned[k])[~mask[k]] == 0.0) for k in kernels)
    if method in ("cs", "str"):            # their own learned sparsity, reported beside
        learned = metrics["learned"]
        assert learned == training["learned"] and 0.0 <= learned["density"] <= 1.0
        assert learned["prunable_weights"] == total
    else:
        assert "learned" not in metrics
    history = training["history"]
    assert len(history) == 2
    if method == "l1":                     # harmonic: λ_k = λ_0 / k
        assert [h["lam"] for h in history] == pytest.approx([1e-3, 5e-4])
    if method == "cs":                     # β_T = 10 reached at the last epoch
        assert [h["temperature"] for h in history] == pytest.approx([1.0, 10.0])
    if method == "str":                    # x = sign(w) relu(|w| − σ(s_l)) as saved
        t = flatten(load_tree(d / "trainable.npz"))
        for k in kernels:
            np.testing.assert_allclose(params[k], cs.str_weight(t[f"w/{k}"], t[f"s/{k}"]),
                                       atol=1e-7)
        assert learned["density"] == sum(np.count_nonzero(params[k]) for k in kernels) / total
    if method == "powerprop":
        t = flatten(load_tree(d / "trainable.npz"))
        for k in kernels:
            np.testing.assert_allclose(params[k], cs.powerprop_weight(t[k], 2.0), rtol=1e-6)
    if method == "spred":
        assert (d / "reparam.npz").exists() and training["alpha_final"] == 1e-3


@pytest.fixture(scope="module")
def level_runs(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("cs_levels")
    for method in LEVEL:
        extra = ["--rewind-step", "2"] if method.startswith("wr") else []
        assert run(method, *TINY, "--iterations", "12", "--eval-every", "6", "--levels", "2",
                   "--prune-fraction", "0.5", "--prune-fraction-output", "0.5", "--reparam-alpha", "1e-3", *extra,
                   "--data-dir", str(shared_data), "--seed-parallel", "sequential",
                   "--out", str(out)) == 0, method
    return out


@pytest.mark.parametrize("method", LEVEL)
def test_level_method_exact_density_and_zeros(level_runs, method):
    from lottery_core.sparsity import prune_count

    run_dir = only(level_runs, method)
    assert json.loads((run_dir / "config.json").read_text())["identity"]["reparam_alpha"] \
        == 1e-3
    sizes = {"dense_0/kernel": 784 * 32, "dense_1/kernel": 32 * 10}
    fractions = {"dense_0/kernel": 0.5, "dense_1/kernel": 0.5}
    kept = dict(sizes)
    for level in range(3):
        d = run_dir / "seed_0" / f"level_{level}"
        params = flatten(load_tree(d / "params.npz"))
        mask = flatten(load_tree(d / "mask.npz"))
        metrics = json.loads((d / "metrics.json").read_text())
        for k, n in sizes.items():
            assert int(mask[k].sum()) == kept[k]
            assert np.all(params[k][~mask[k]] == 0.0)            # pruned x exactly 0
            assert np.count_nonzero(params[k][mask[k]]) > 0.9 * kept[k]
        assert metrics["kept_weights"] == sum(kept.values())
        kept = {k: v - prune_count(v, fractions[k], "half_up") for k, v in kept.items()}
        if level:                          # the mask is the top-|x| of the previous level
            prev = flatten(load_tree(run_dir / "seed_0" / f"level_{level - 1}" / "params.npz"))
            for k in sizes:
                alive = np.abs(prev[k])[mask[k]]
                dead = np.abs(prev[k])[~mask[k]]
                assert alive.min() >= dead.max()


def test_level_inits_differ(level_runs):
    """imp+pilot and wr+spred train level 0 identically except for the m ⊙ w init (the
    rewind point only matters from level 1): same θ_0, same batches, different x."""
    imp_pilot = only(level_runs, "imp+pilot") / "seed_0"
    imp_spred = only(level_runs, "wr+spred") / "seed_0"
    a = flatten(load_tree(imp_pilot / "level_0" / "params.npz"))
    b = flatten(load_tree(imp_spred / "level_0" / "params.npz"))
    init = flatten(load_tree(imp_pilot / "init.npz"))
    np.testing.assert_array_equal(init["params/dense_0/kernel"],
                                  flatten(load_tree(imp_spred / "init.npz"))[
                                      "params/dense_0/kernel"])
    assert not np.allclose(a["dense_0/kernel"], b["dense_0/kernel"])


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("extra, message", [
    (["str", "--str-s-init", "nan"], "str_s_init must be a finite number"),
    (["powerprop", "--powerprop-alpha", "1"], "powerprop_alpha must be a finite number > 1"),
    (["cs", "--cs-final-temperature", "0.5"], "cs_final_temperature must be a finite number"),
    (["l1", "--l1-schedule", "cubic"], "l1_schedule must be one of constant, harmonic"),
    (["l1", "--l1-decay", "1.5"], "l1_decay must be in (0, 1), got 1.5"),
    (["l1", "--cs-lambda", "1e-3"], "--cs-lambda applies to cs only, not l1"),
    (["spred", "--weight-decay", "1e-4"], "spred takes no optimizer weight decay"),
    (["spred", "--reparam-alpha", "1e-3"], "reparam_alpha is not used by the one-shot"),
    (["imp", "--reparam-alpha", "1e-3"], "reparam_alpha applies to the m ⊙ w methods"),
    (["imp+spred", "--reparam-beta", "2"], "reparam_beta applies to the +pilot methods"),
    (["lrr+pilot", "--reparam-alpha", "-1"], "reparam_alpha must be a finite number >= 0"),
    (["lrr+pilot", "--optimizer-state", "carry"], "optimizer_state carry cannot be combined"),
])
def test_bad_input(tmp_path, capsys, extra, message):
    method, *options = extra
    length = ["--epochs", "1"] if method in ONESHOT else ["--iterations", "4"]
    assert run(method, *TINY, *length, *options, "--out", str(tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not list(tmp_path.iterdir())
