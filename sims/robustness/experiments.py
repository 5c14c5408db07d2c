"""The experiments behind the robustness claims (spec nofreeprune.md §7, recipes R1, R2, R4;
§6 for the mask-information pipelines; §6.6 for the enumerable toy).

Sizes are our defaults (the paper's were not retrieved, spec §5.1). Every run uses the
masked-MLP trainer of :mod:`sims.robustness.training` (float32, Adam, batch 64, a fixed
number of epochs instead of the paper's convergence rule, so that runs can be vmapped).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from lottery_core.sparsity import (apply_mask, cross_entropy, grasp_scores, magnitude_scores,
                                   prune_at_init, scores_to_mask, snip_scores)
from sims.robustness import training as rt
from theory import lipschitz_floor as lf

PAI_METHODS = ("snip", "grasp", "synflow", "random", "magnitude")
TRAINED_METHODS = ("imp", "magnitude_after", "magnitude_after_finetune")
ALL_METHODS = TRAINED_METHODS + PAI_METHODS


# --------------------------------------------------------------------------- data
def gaussian_inputs(key, n: int, d: int):
    """x ~ N(0, I_d / d) (c-isoperimetric with c = 1, spec §2.2)."""
    return jax.random.normal(key, (n, d), jnp.float32) / jnp.sqrt(d)


@functools.partial(jax.jit, static_argnames=("n", "d", "classes"))
def random_label_data(key, n: int, d: int, classes: int):
    """R1: Gaussian inputs with labels uniform on {0..classes-1} (pure noise)."""
    kx, ky = jax.random.split(key)
    return gaussian_inputs(kx, n, d), jax.random.randint(ky, (n,), 0, classes)


@functools.partial(jax.jit, static_argnames=("n", "d", "flip"))
def noisy_teacher_data(key, n: int, d: int, flip: float):
    """R2: y = sign(<a, x>) flipped with prob. η; g(x) = (1 - 2η) sign(<a, x>), z = y - g(x).

    ||a|| = sqrt(d), so <a, x> ~ N(0, 1); σ² = 1 - (1 - 2η)².
    """
    ka, kx, kf = jax.random.split(key, 3)
    a = jax.random.normal(ka, (d,))
    a = a * jnp.sqrt(d) / jnp.linalg.norm(a)
    x = gaussian_inputs(kx, n, d)
    clean = jnp.where(x @ a >= 0, 1.0, -1.0)
    y = jnp.where(jax.random.uniform(kf, (n,)) < flip, -clean, clean)
    g = (1.0 - 2.0 * flip) * clean
    return x, y.astype(jnp.float32), g.astype(jnp.float32), (y - g).astype(jnp.float32)


# --------------------------------------------------------------------------- masks
def regression_loss(outputs, targets):
    return rt.mse_loss(outputs, targets)


def pai_mask(method, params, x_prune, y_prune, density, key, task):
    """One PaI mask (global scope) at ``density``; SynFlow with 100 rounds."""
    loss_fn = cross_entropy if task.startswith("classification") else regression_loss
    return prune_at_init(method, params, {}, rt.mlp_apply, density, x=x_prune, y=y_prune,
                         key=key, loss_fn=loss_fn, rounds=100)


def magnitude_mask(trained_params, density, within=None):
    """Global top-|θ| mask of trained weights (magnitude-after and each IMP level)."""
    return scores_to_mask(magnitude_scores(trained_params), trained_params, density,
                          within=within)


def imp_path(targets, max_fraction: float = 0.2) -> tuple[float, ...]:
    """IMP's sparsity levels: prune at most ``max_fraction`` of the remaining weights per
    round (spec §7 R1: 20% per round) and land exactly on every target sparsity.

    Between consecutive targets the kept fraction shrinks by the same factor each round,
    using the fewest rounds that keep every round's pruned fraction <= ``max_fraction``.
    E.g. targets (0.9,) with 20% gives 11 rounds of 18.9% each.
    """
    targets = sorted(float(t) for t in targets)
    if not targets or targets[0] <= 0 or targets[-1] >= 1:
        raise ValueError(f"target sparsities must lie in (0, 1), got {targets}")
    if not 0 < max_fraction < 1:
        raise ValueError(f"max_fraction must lie in (0, 1), got {max_fraction}")
    levels, density = [], 1.0
    for t in targets:
        ratio = (1.0 - t) / density
        if ratio >= 1.0:
            continue
        rounds = max(1, math.ceil(math.log(ratio) / math.log(1.0 - max_fraction) - 1e-9))
        factor = ratio ** (1.0 / rounds)
        levels += [round(1.0 - density * factor ** r, 6) for r in range(1, rounds)] + [t]
        density = 1.0 - t
    return tuple(levels)


def _all_true(params):
    return jax.tree_util.tree_map(lambda p: jnp.ones(p.shape, bool), params)


@dataclasses.dataclass(frozen=True)
class PruningSetup:
    """Sizes of one pruning comparison (R1 or R2)."""

    n: int
    d: int
    width: int
    outputs: int
    epochs: int
    seeds: int
    sparsities: tuple[float, ...]       # where the methods are compared
    imp_levels: tuple[float, ...]       # IMP's path of sparsities (must contain the above)
    task: str                           # "classification" or "regression"
    prune_examples: int                 # SNIP/GraSP pruning batch (10 × #classes)
    flip: float = 0.2                   # R2 label-flip probability


def run_pruning_comparison(setup: PruningSetup, seed: int, make_data=None):
    """Train every method's subnetwork at every sparsity, for ``setup.seeds`` seeds.

    Returns a dict with ``records[method][sparsity]`` stacked over seeds (per-epoch records
    of the trainer), the dense run's records, and the data of each seed (for R2).
    Per seed: one W0, one data set, one minibatch order shared by every run, so that at
    sparsity 0 all methods are the same run. ``make_data(key) -> dict`` (with "x", "y")
    replaces the synthetic data of ``setup.task`` (R3 uses it for MNIST).
    """
    sizes = (setup.d, setup.width, setup.width, setup.outputs)
    base = jax.random.PRNGKey(seed)
    seed_keys = jax.random.split(base, setup.seeds)
    params0, data, order_keys, prune_keys = [], [], [], []
    for k in seed_keys:
        k_init, k_data, k_order, k_prune = jax.random.split(k, 4)
        params0.append(rt.init_mlp(k_init, sizes))
        if make_data is not None:
            data.append(make_data(k_data))
        elif setup.task == "classification":
            x, y = random_label_data(k_data, setup.n, setup.d, setup.outputs)
            data.append({"x": x, "y": y})
        else:
            x, y, g, z = noisy_teacher_data(k_data, setup.n, setup.d, setup.flip)
            data.append({"x": x, "y": y, "g": g, "z": z})
        order_keys.append(k_order)
        prune_keys.append(k_prune)
    S = setup.seeds
    X = jnp.stack([d_["x"] for d_ in data])
    Y = jnp.stack([d_["y"] for d_ in data])
    K = jnp.stack(order_keys)
    train = lambda p, m, reps: rt.train_many(
        p, m, jnp.repeat(X, reps, 0) if reps > 1 else X, jnp.repeat(Y, reps, 0) if reps > 1 else Y,
        jnp.repeat(K, reps, 0) if reps > 1 else K, task=setup.task, epochs=setup.epochs)

    P0 = rt.stack(params0)
    dense_final, dense_records = train(P0, rt.stack([_all_true(p) for p in params0]), 1)
    records = {m: {} for m in ALL_METHODS}
    layer_density = {}

    def densities(mask):
        return [round(float(jnp.mean(mask[f"dense_{i}"]["kernel"])), 4) for i in range(len(mask))]

    # IMP: prune by |θ_T| within the current mask, rewind to θ_0, retrain.
    masks = [_all_true(p) for p in params0]
    trained = rt.unstack(dense_final, S)
    for level in setup.imp_levels:
        masks = [magnitude_mask(t, 1.0 - level, within=m) for t, m in zip(trained, masks)]
        final, recs = train(P0, rt.stack(masks), 1)
        trained = rt.unstack(final, S)
        records["imp"][level] = recs
        layer_density[f"imp@{level}"] = densities(masks[0])

    # magnitude-after (one shot from the dense run, rewind to θ_0) and PaI: one vmapped call.
    dense_trained = rt.unstack(dense_final, S)
    batch_params, batch_masks, labels = [], [], []
    for s in range(S):
        x_prune = data[s]["x"][: setup.prune_examples]
        y_prune = data[s]["y"][: setup.prune_examples]
        for sparsity in setup.sparsities:
            after = magnitude_mask(dense_trained[s], 1.0 - sparsity)
            batch_masks += [after, after]           # rewind to θ_0 / fine-tune from θ_T
            batch_params += [params0[s], dense_trained[s]]
            labels += [("magnitude_after", sparsity, s), ("magnitude_after_finetune", sparsity, s)]
            for method in PAI_METHODS:
                batch_masks.append(pai_mask(method, params0[s], x_prune, y_prune, 1.0 - sparsity,
                                            prune_keys[s], setup.task))
                labels.append((method, sparsity, s))
                batch_params.append(params0[s])
            if s == 0:
                per = 2 + len(PAI_METHODS)
                for lab, m in zip(labels[-per:], batch_masks[-per:]):
                    layer_density[f"{lab[0]}@{sparsity}"] = densities(m)
    reps = len(labels) // S
    _, recs = train(rt.stack(batch_params), rt.stack(batch_masks), reps)
    for method, sparsity in itertools.product(ALL_METHODS[1:], setup.sparsities):
        rows = [i for i, lab in enumerate(labels) if lab[0] == method and lab[1] == sparsity]
        records[method][sparsity] = jax.tree_util.tree_map(lambda r: r[np.asarray(rows)], recs)

    # At sparsity 0 every method's mask is all-True: check it, so the dense run serves all.
    dense_masks_equal = all(
        all(bool(jnp.all(leaf)) for leaf in jax.tree_util.tree_leaves(
            pai_mask(method, params0[0], data[0]["x"][:setup.prune_examples],
                     data[0]["y"][:setup.prune_examples], 1.0, prune_keys[0], setup.task)))
        for method in PAI_METHODS)
    return {"records": records, "dense": dense_records, "data": data,
            "layer_density_seed0": layer_density,
            "dense_masks_all_true": dense_masks_equal, "params_count": sum(
                a * b for a, b in zip(sizes[:-1], sizes[1:]))}


# --------------------------------------------------------------------------- mask information
@functools.partial(jax.jit, static_argnames=("method", "density"))
def _batched_data_masks(params, x_prune, y_prune, *, method, density):
    """SNIP or GraSP masks for a batch of pruning sets (leading axis), W0 fixed."""
    def one(x, y):
        if method == "snip":
            scores = snip_scores(params, {}, rt.mlp_apply, x, y)
        else:
            scores = grasp_scores(params, {}, rt.mlp_apply, x, y)
        return scores_to_mask(scores, params, density)
    return jax.vmap(one)(x_prune, y_prune)


@dataclasses.dataclass(frozen=True)
class InformationSetup:
    n: int
    d: int
    width: int
    classes: int
    epochs: int
    datasets: int
    density: float
    imp_levels: tuple[float, ...]
    prune_examples: int


def run_mask_information(setup: InformationSetup, seed: int):
    """Masks of every pipeline on K independent data sets, with W0 and the algorithm's
    randomness (random scores, minibatch order) held fixed (spec §6.3). Returns
    ``{method: bool array (K, P)}`` of flattened prunable coordinates and the layer sizes."""
    sizes = (setup.d, setup.width, setup.width, setup.classes)
    k_init, k_data, k_order, k_prune = jax.random.split(jax.random.PRNGKey(seed), 4)
    params0 = rt.init_mlp(k_init, sizes)
    K = setup.datasets
    datasets = [random_label_data(k, setup.n, setup.d, setup.classes)
                for k in jax.random.split(k_data, K)]

    def flat(mask):
        return np.concatenate([np.asarray(mask[f"dense_{i}"]["kernel"]).ravel()
                               for i in range(len(sizes) - 1)])

    out = {m: [] for m in ALL_METHODS}
    x_prune = jnp.stack([x[: setup.prune_examples] for x, _ in datasets])
    y_prune = jnp.stack([y[: setup.prune_examples] for _, y in datasets])
    for method in ("snip", "grasp"):          # data-dependent: vmapped over the K data sets
        masks_k = _batched_data_masks(params0, x_prune, y_prune, method=method,
                                      density=setup.density)
        out[method] = [flat(m) for m in rt.unstack(masks_k, K)]
    for a in range(K):                        # data-free: run once per data set, compare after
        for method in ("synflow", "random", "magnitude"):
            out[method].append(flat(pai_mask(method, params0, x_prune[a], y_prune[a],
                                              setup.density, k_prune, "classification")))
    X = jnp.stack([x for x, _ in datasets])
    Y = jnp.stack([y for _, y in datasets])
    keys = jnp.stack([k_order] * K)
    P0 = rt.stack([params0] * K)
    train = lambda masks: rt.train_many(P0, rt.stack(masks), X, Y, keys, task="classification",
                                        epochs=setup.epochs)
    dense_final, _ = train([_all_true(params0)] * K)
    dense_trained = rt.unstack(dense_final, K)
    out["magnitude_after"] = [flat(magnitude_mask(t, setup.density)) for t in dense_trained]
    masks = [_all_true(params0)] * K
    trained = dense_trained
    for level in setup.imp_levels:
        masks = [magnitude_mask(t, 1.0 - level, within=m) for t, m in zip(trained, masks)]
        if level == setup.imp_levels[-1]:
            break
        final, _ = train(masks)
        trained = rt.unstack(final, K)
    out["imp"] = [flat(m) for m in masks]
    layer_sizes = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return {m: np.stack(v) for m, v in out.items() if v}, layer_sizes


# --------------------------------------------------------------------------- enumerable toy
def toy_mask_data_joint(n: int = 3, keep: int = 3, steps: int = 40, lr: float = 0.3, seed: int = 0):
    """Exact joint law of (mask, data set) for a tiny network (spec §6.6).

    Network f(x) = Σ_j w_j tanh(v_j · x) with a frozen random first layer (6 hidden units,
    P = 6 trainable weights) on the input alphabet {-1, 1}²; a data set is n (input, ±1
    label) pairs, uniform over all (4·2)^n of them. The pipeline: ``steps`` of full-batch
    gradient descent on the squared loss from a fixed w0, then keep the top-``keep`` |w|.
    Returns the joint table (masks × data sets) and the data-set count.
    """
    rng = np.random.default_rng(seed)
    hidden = 6
    V = rng.normal(size=(hidden, 2))
    w0 = rng.normal(size=hidden) * 0.5
    alphabet = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=np.float64)
    phi = np.tanh(alphabet @ V.T)                                 # (4, hidden)
    cells = list(itertools.product(range(4), (-1.0, 1.0)))        # one example
    datasets = list(itertools.product(range(len(cells)), repeat=n))
    feats = np.stack([[phi[cells[c][0]] for c in ds] for ds in datasets])   # (N, n, hidden)
    labels = np.array([[cells[c][1] for c in ds] for ds in datasets])       # (N, n)
    w = np.tile(w0, (len(datasets), 1))
    for _ in range(steps):
        residual = np.einsum("anh,ah->an", feats, w) - labels
        w -= lr * np.einsum("an,anh->ah", residual, feats) / n
    order = np.argsort(-np.abs(w), axis=1, kind="stable")[:, :keep]
    masks = np.zeros_like(w, dtype=bool)
    np.put_along_axis(masks, order, True, axis=1)
    from theory.mi_estimators import mask_data_joint

    probs = np.full(len(datasets), 1.0 / len(datasets))
    joint, keys = mask_data_joint([{tuple(m): 1.0} for m in masks], probs)
    return joint, keys


# --------------------------------------------------------------------------- R4 Lipschitz
@dataclasses.dataclass(frozen=True)
class LipschitzSetup:
    n: int
    d: int
    widths: tuple[int, ...]             # hidden widths h of a one-hidden-layer ReLU net
    epochs: int
    seeds: int
    eps: float                          # train until MSE <= σ² - eps
    random_points: int
    pgd_radius: float
    flip: float = 0.2


def width_mask(params, width: int):
    """Structured mask that turns a width-H one-hidden-layer MLP into a width-h one."""
    H = params["dense_0"]["kernel"].shape[1]
    units = jnp.arange(H) < width
    return {"dense_0": {"kernel": jnp.broadcast_to(units[None, :], params["dense_0"]["kernel"].shape),
                        "bias": jnp.ones(H, bool)},
            "dense_1": {"kernel": jnp.broadcast_to(units[:, None], params["dense_1"]["kernel"].shape),
                        "bias": jnp.ones(params["dense_1"]["bias"].shape, bool)}}


def run_lipschitz_scaling(setup: LipschitzSetup, seed: int):
    """R4: one-hidden-layer ReLU nets of width h (p = h(d + 1) weights), trained with Adam
    until the clipped fit is below the noise level by ε; Lip estimated from below (max
    input-gradient norm over train, test and random points; PGD difference ratios) and from
    above (product of operator norms). Widths share one width-H init, masked structurally;
    the output layer is rescaled by sqrt(H/h) so each run starts as a default width-h init."""
    H = max(setup.widths)
    sigma2 = 1.0 - (1.0 - 2.0 * setup.flip) ** 2
    if not 0 < setup.eps < sigma2:
        raise ValueError(f"eps must lie in (0, sigma^2 = {sigma2}), got {setup.eps}")
    params, masks, xs, ys, keys, meta = [], [], [], [], [], []
    for s, k in enumerate(jax.random.split(jax.random.PRNGKey(seed), setup.seeds)):
        k_init, k_data, k_test, k_order = jax.random.split(k, 4)
        p0 = rt.init_mlp(k_init, (setup.d, H, 1))
        x, y, _, _ = noisy_teacher_data(k_data, setup.n, setup.d, setup.flip)
        for h in setup.widths:
            scale = math.sqrt(H / h)
            params.append({"dense_0": p0["dense_0"],
                           "dense_1": jax.tree_util.tree_map(lambda a: a * scale, p0["dense_1"])})
            masks.append(width_mask(p0, h))
            xs.append(x); ys.append(y); keys.append(k_order); meta.append((s, h, k_test))
    final, records = rt.train_many(rt.stack(params), rt.stack(masks), jnp.stack(xs), jnp.stack(ys),
                                   jnp.stack(keys), task="regression", epochs=setup.epochs,
                                   target_mse=sigma2 - setup.eps)
    rows = []
    for i, (s, h, k_test) in enumerate(meta):
        p = jax.tree_util.tree_map(lambda a: a[i], final)
        m = masks[i]
        f_train = np.clip(np.asarray(records["outputs"][i, -1]), -1, 1)
        mse = float(np.mean((f_train - np.asarray(ys[i])) ** 2))
        k_pts, k_test_x, k_pgd = jax.random.split(k_test, 3)
        probe = jnp.concatenate([xs[i], gaussian_inputs(k_test_x, setup.n, setup.d),
                                 gaussian_inputs(k_pts, setup.random_points, setup.d)])
        grad_norms = rt.input_gradient_norms(p, m, probe)
        grad_max = float(jnp.max(grad_norms))
        # the clipped fit clip(f) (the function the claim evaluates) has gradient 0 where |f| > 1
        f_probe = rt.mlp_apply(apply_mask(p, m), {}, probe, False)[0][:, 0]
        inside = jnp.abs(f_probe) < 1.0
        grad_clipped = float(jnp.max(jnp.where(inside, grad_norms, 0.0)))
        pgd = float(rt.pgd_lipschitz_ratio(p, m, xs[i], k_pgd, radius=setup.pgd_radius))
        masked = apply_mask(p, m)
        rows.append({"seed_index": s, "width": h, "p": h * (setup.d + 1), "mse": mse,
                     "fit_below_noise": mse <= sigma2 - setup.eps + 1e-6,
                     "lip_grad": grad_max, "lip_pgd": pgd, "lip_lower": max(grad_max, pgd),
                     "lip_train_pairs": lf.pairwise_ratio(np.asarray(xs[i]), f_train),
                     "lip_grad_clipped": grad_clipped,
                     "lip_upper": float(rt.operator_norm_product(p, m)),
                     "w_max": float(max(jnp.max(jnp.abs(leaf)) for leaf in jax.tree_util.tree_leaves(masked))),
                     "x_radius": float(jnp.max(jnp.linalg.norm(xs[i], axis=1)))})
    return rows, sigma2


def lipschitz_floors(setup: LipschitzSetup, seed: int, *, iterations: int = 2000):
    """Per seed of :func:`run_lipschitz_scaling` (same data), the bracket [lower, upper] on
    L*: the smallest Lipschitz constant of *any* function whose outputs on the training set
    have MSE <= σ² - ε (:mod:`theory.lipschitz_floor`). No network of any width can go below."""
    sigma2 = 1.0 - (1.0 - 2.0 * setup.flip) ** 2
    out = []
    for k in jax.random.split(jax.random.PRNGKey(seed), setup.seeds):
        _, k_data, _, _ = jax.random.split(k, 4)
        x, y, _, _ = noisy_teacher_data(k_data, setup.n, setup.d, setup.flip)
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        lower = lf.lipschitz_floor_lower(x, y, sigma2 - setup.eps)
        upper, _ = lf.lipschitz_floor_upper(x, y, sigma2 - setup.eps, iterations=iterations)
        out.append((lower, upper))
    return out
