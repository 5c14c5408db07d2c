"""lottery_core.sparsity.pai: PaI scores against brute-force finite differences and independent
autodiff on a tiny 2-layer net (float64, tolerance 1e-6), and the exact-count masks."""

from __future__ import annotations

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from lottery_core import sparsity
from lottery_core.sparsity import pai

TOL = 1e-6


def _apply(params, state, x, train):
    h = jnp.tanh(x @ params["dense_0"]["kernel"] + params["dense_0"]["bias"])
    return h @ params["dense_1"]["kernel"] + params["dense_1"]["bias"], state


def _tiny(seed=0):
    rng = np.random.default_rng(seed)
    params = {"dense_0": {"kernel": jnp.asarray(rng.normal(size=(3, 4))),
                          "bias": jnp.asarray(rng.normal(size=4) * 0.1)},
              "dense_1": {"kernel": jnp.asarray(rng.normal(size=(4, 3))),
                          "bias": jnp.asarray(rng.normal(size=3) * 0.1)}}
    x = jnp.asarray(rng.normal(size=(6, 3)))
    y = jnp.asarray(rng.integers(0, 3, size=6))
    return params, x, y


def _kernels(tree):
    return np.concatenate([np.ravel(tree["dense_0"]["kernel"]), np.ravel(tree["dense_1"]["kernel"])])


def _with_kernels(params, flat):
    a = params["dense_0"]["kernel"].size
    out = jax.tree_util.tree_map(lambda v: v, params)
    out["dense_0"] = dict(params["dense_0"], kernel=jnp.reshape(flat[:a], params["dense_0"]["kernel"].shape))
    out["dense_1"] = dict(params["dense_1"], kernel=jnp.reshape(flat[a:], params["dense_1"]["kernel"].shape))
    return out


def _central_diff(f, theta, h=1e-5):
    out = np.zeros_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta); e[j] = h
        out[j] = (f(theta + e) - f(theta - e)) / (2 * h)
    return out


def test_snip_matches_finite_difference_of_mask_gradient():
    with jax.enable_x64(True):
        params, x, y = _tiny()
        theta = _kernels(params)
        def loss_of_gates(c):
            return float(sparsity.cross_entropy(_apply(_with_kernels(params, theta * c), {}, x, True)[0], y))
        ref = np.abs(_central_diff(loss_of_gates, np.ones_like(theta)))
        ref /= ref.sum()
        got = _kernels(sparsity.snip_scores(params, {}, _apply, x, y))
        np.testing.assert_allclose(got, ref, atol=TOL, rtol=0)
        # non-prunable leaves score zero
        assert float(jnp.abs(sparsity.snip_scores(params, {}, _apply, x, y)["dense_0"]["bias"]).sum()) == 0.0


def test_grasp_matches_full_hessian_and_finite_differences():
    T = 200.0
    with jax.enable_x64(True):
        params, x, y = _tiny(1)
        theta = _kernels(params)
        def loss_flat(th):
            return sparsity.cross_entropy(_apply(_with_kernels(params, th), {}, x, True)[0] / T, y)
        g = np.asarray(jax.grad(loss_flat)(jnp.asarray(theta)))
        hessian = np.asarray(jax.hessian(loss_flat)(jnp.asarray(theta)))   # independent autodiff
        ref = theta * (hessian @ g)
        ref_norm = ref / (abs(ref.sum()) + 1e-10)
        # brute force: g by finite differences of the loss, Hg by finite differences of g
        g_fd = _central_diff(lambda th: float(loss_flat(jnp.asarray(th))), theta)
        step = 1e-3 / np.linalg.norm(g_fd)
        grad_np = lambda th: np.asarray(jax.grad(loss_flat)(jnp.asarray(th)))
        hg_fd = (grad_np(theta + step * g_fd) - grad_np(theta - step * g_fd)) / (2 * step)
        fd = theta * hg_fd
        fd_norm = fd / (abs(fd.sum()) + 1e-10)
        got = _kernels(sparsity.grasp_scores(params, {}, _apply, x, y, temperature=T))
        np.testing.assert_allclose(got, ref_norm, atol=TOL, rtol=0)
        np.testing.assert_allclose(got, fd_norm, atol=TOL, rtol=0)


def test_synflow_matches_finite_difference_and_ignores_data():
    with jax.enable_x64(True):
        params, x, _ = _tiny(2)
        theta = _kernels(params)
        abs_params = jax.tree_util.tree_map(jnp.abs, params)
        ones = jnp.ones((1, 3))
        def r_of_gates(c):
            return float(jnp.sum(_apply(_with_kernels(abs_params, np.abs(theta) * c), {}, ones, False)[0]))
        ref = np.abs(_central_diff(r_of_gates, np.ones_like(theta)))
        got = _kernels(sparsity.synflow_scores(params, {}, _apply, (3,)))
        np.testing.assert_allclose(got, ref, atol=TOL, rtol=0)
        m1 = pai.prune_at_init("synflow", params, {}, _apply, 0.4, x=x, rounds=5)
        m2 = pai.prune_at_init("synflow", params, {}, _apply, 0.4, x=x * 100 + 3, rounds=5)
        assert all(bool(jnp.all(a == b)) for a, b in zip(jax.tree_util.tree_leaves(m1),
                                                         jax.tree_util.tree_leaves(m2)))


def test_iterative_synflow_against_reference_loop():
    with jax.enable_x64(True):
        params, _, _ = _tiny(3)
        rounds, density = 4, 0.3
        P = 24
        mask = np.ones(P, bool)
        for r in range(1, rounds + 1):
            masked = _with_kernels(params, _kernels(params) * mask)
            s = _kernels(sparsity.synflow_scores(masked, {}, _apply, (3,)))
            s = np.where(mask, s, -np.inf)
            k = int(np.floor(density ** (r / rounds) * P + 0.5))
            order = np.argsort(-s, kind="stable")
            new = np.zeros(P, bool); new[order[:k]] = True
            assert not np.any(new & ~mask)        # nested
            mask = new
        got = pai.synflow_mask(params, {}, _apply, (3,), density, rounds=rounds)
        np.testing.assert_array_equal(_kernels(got), mask)
        one_shot = sparsity.scores_to_mask(sparsity.synflow_scores(params, {}, _apply, (3,)), params, density)
        rounds_1 = pai.synflow_mask(params, {}, _apply, (3,), density, rounds=1)
        np.testing.assert_array_equal(_kernels(rounds_1), _kernels(one_shot))


@pytest.mark.parametrize("method", pai.METHODS)
@pytest.mark.parametrize("scope", sparsity.SCOPES)
def test_masks_have_exact_counts(method, scope):
    params, x, y = _tiny(4)
    for density in (0.05, 0.3, 0.5, 1.0):
        mask = pai.prune_at_init(method, params, {}, _apply, density, x=x, y=y,
                                 key=jax.random.PRNGKey(0), scope=scope, rounds=3)
        assert bool(jnp.all(mask["dense_0"]["bias"])) and bool(jnp.all(mask["dense_1"]["bias"]))
        if scope == "global":
            assert int(_kernels(mask).sum()) == sparsity.kept_count(density, 24)
        else:
            assert int(mask["dense_0"]["kernel"].sum()) == sparsity.kept_count(density, 12)
            assert int(mask["dense_1"]["kernel"].sum()) == sparsity.kept_count(density, 12)
        assert mask["dense_0"]["kernel"].dtype == jnp.bool_


def test_ties_broken_towards_earlier_coordinates():
    params, _, _ = _tiny(5)
    flat_scores = jax.tree_util.tree_map(jnp.ones_like, params)
    mask = sparsity.scores_to_mask(flat_scores, params, 0.25)          # keep 6 of 24
    assert _kernels(mask).tolist() == [True] * 6 + [False] * 18
    # magnitude masks keep the largest |theta|
    mag = pai.prune_at_init("magnitude", params, {}, _apply, 0.5)
    theta = np.abs(_kernels(params))
    assert theta[_kernels(mag)].min() >= theta[~_kernels(mag)].max()


def test_random_masks_vmap_over_keys_and_differ():
    params, _, _ = _tiny(6)
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    masks = jax.vmap(lambda k: sparsity.scores_to_mask(
        sparsity.random_scores(k, params, distribution="normal"), params, 0.5))(keys)
    kernels = np.asarray(masks["dense_0"]["kernel"]).reshape(4, -1)
    assert (kernels.sum(1) + np.asarray(masks["dense_1"]["kernel"]).reshape(4, -1).sum(1) == 12).all()
    assert len({k.tobytes() for k in kernels}) > 1


def test_bad_inputs_are_rejected():
    params, x, y = _tiny()
    with pytest.raises(ValueError, match="density"):
        pai.prune_at_init("magnitude", params, {}, _apply, 0.0)
    with pytest.raises(ValueError, match="unknown pruning method"):
        pai.prune_at_init("lottery", params, {}, _apply, 0.5)
    with pytest.raises(ValueError, match="scope"):
        pai.prune_at_init("magnitude", params, {}, _apply, 0.5, scope="local")
    with pytest.raises(ValueError, match="pruning batch"):
        pai.prune_at_init("snip", params, {}, _apply, 0.5)
    with pytest.raises(ValueError, match="key"):
        pai.prune_at_init("random", params, {}, _apply, 0.5)
    with pytest.raises(ValueError, match="rounds"):
        pai.synflow_mask(params, {}, _apply, (3,), 0.5, rounds=0)
