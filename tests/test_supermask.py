"""Supermasks: the STE gradient identity (spec zhou.md claim 13) and DWR (claim 14)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lottery_core.sparsity import supermask


def _params(key):
    k1, k2 = jax.random.split(key)
    return {"dense_0": {"kernel": jax.random.normal(k1, (20, 30)), "bias": jnp.zeros(30)},
            "dense_1": {"kernel": jax.random.normal(k2, (30, 4)), "bias": jnp.zeros(4)}}


def _apply(params, x):
    h = jax.nn.relu(x @ params["dense_0"]["kernel"] + params["dense_0"]["bias"])
    return h @ params["dense_1"]["kernel"] + params["dense_1"]["bias"]


def test_init_logits_cover_kernels_only():
    params = _params(jax.random.PRNGKey(0))
    logits = supermask.init_logits(params, sigmoid_bias=1.5)
    assert set(logits) == {"dense_0", "dense_1"} and set(logits["dense_0"]) == {"kernel"}
    assert float(supermask.expected_density(logits)) == pytest.approx(float(jax.nn.sigmoid(1.5)), rel=1e-5)
    with pytest.raises(ValueError, match="kernel"):
        supermask.init_logits({"w": jnp.ones(3)})


def test_ste_gradient_identity():
    """∂L/∂m = (∂L/∂M_eff) · σ(m)(1 − σ(m)) elementwise, to 1e-6 (float64)."""
    with jax.enable_x64(True):
        key = jax.random.PRNGKey(1)
        logit = jax.random.normal(key, (50, 40), dtype=jnp.float64)
        weights = jax.random.normal(jax.random.PRNGKey(2), (50, 40), dtype=jnp.float64)
        target = jax.random.normal(jax.random.PRNGKey(3), (50, 40), dtype=jnp.float64)
        sample_key = jax.random.PRNGKey(4)

        def loss_of_logit(m):
            mask = supermask.bernoulli_ste(m, sample_key)
            return jnp.sum((weights * mask - target) ** 2)

        grad_logit = jax.grad(loss_of_logit)(logit)
        mask_value = supermask.bernoulli_ste(logit, sample_key)
        assert set(np.unique(np.asarray(mask_value))) <= {0.0, 1.0}  # the forward value is binary
        grad_mask = jax.grad(lambda M: jnp.sum((weights * M - target) ** 2))(mask_value)
        sigma = jax.nn.sigmoid(logit)
        np.testing.assert_allclose(grad_logit, grad_mask * sigma * (1 - sigma), atol=1e-6, rtol=0)


def test_dwr_multiplier_concentrates_near_two():
    """With every σ(m) = 0.5 the DWR multiplier numel/#ones averages 2 within 1%."""
    logit = jnp.zeros((300, 100))
    keys = jax.random.split(jax.random.PRNGKey(0), 200)
    multipliers = jax.vmap(lambda k: supermask.dwr_multiplier(supermask.bernoulli_ste(logit, k)))(keys)
    assert float(jnp.mean(multipliers)) == pytest.approx(2.0, rel=0.01)
    assert float(jnp.std(multipliers)) < 0.02


def test_masked_params_rescale_and_freeze_biases():
    params = _params(jax.random.PRNGKey(0))
    logits = supermask.init_logits(params)
    key = jax.random.PRNGKey(5)
    plain = supermask.masked_params(params, logits, key)
    scaled = supermask.masked_params(params, logits, key, rescale=True)
    kernel, masked = params["dense_0"]["kernel"], plain["dense_0"]["kernel"]
    kept = masked != 0
    np.testing.assert_array_equal(masked[kept], kernel[kept])
    factor = kernel.size / int(kept.sum())
    np.testing.assert_allclose(scaled["dense_0"]["kernel"], masked * factor, rtol=1e-6)
    assert plain["dense_0"]["bias"] is params["dense_0"]["bias"]
    # another key gives another sample
    other = supermask.masked_params(params, logits, jax.random.PRNGKey(6))
    assert not np.array_equal(np.asarray(other["dense_0"]["kernel"] != 0), np.asarray(kept))
    with pytest.raises(ValueError, match="unknown supermask mode"):
        supermask.masked_params(params, logits, key, mode="threshold")


def test_round_mode_is_deterministic_at_test_time():
    params = _params(jax.random.PRNGKey(0))
    logits = jax.tree_util.tree_map(lambda l: l + jnp.linspace(-1, 1, l.size).reshape(l.shape), supermask.init_logits(params))
    a = supermask.masked_params(params, logits, jax.random.PRNGKey(0), mode="round", train=False)
    b = supermask.masked_params(params, logits, jax.random.PRNGKey(9), mode="round", train=False)
    np.testing.assert_array_equal(a["dense_0"]["kernel"], b["dense_0"]["kernel"])
    expected = params["dense_0"]["kernel"] * (jax.nn.sigmoid(logits["dense_0"]["kernel"]) > 0.5)
    np.testing.assert_allclose(a["dense_0"]["kernel"], expected)


def test_learning_a_supermask_lowers_the_loss():
    """SGD on the logits alone (weights frozen) fits a toy task better than the initial mask."""
    params = _params(jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(1), (256, 20))
    teacher = supermask.masked_params(params, supermask.init_logits(params, 3.0), jax.random.PRNGKey(2))
    y = jnp.argmax(_apply(teacher, x), axis=-1)
    logits = supermask.init_logits(params)

    def loss(logits, key):
        eff = supermask.masked_params(params, logits, key, rescale=True)
        out = _apply(eff, x)
        return -jnp.mean(jax.nn.log_softmax(out)[jnp.arange(x.shape[0]), y])

    @jax.jit
    def step(logits, key):
        value, grads = jax.value_and_grad(loss)(logits, key)
        return jax.tree_util.tree_map(lambda l, g: l - 5.0 * g, logits, grads), value

    keys = jax.random.split(jax.random.PRNGKey(3), 300)
    first = float(jnp.mean(jnp.stack([loss(logits, k) for k in keys[:10]])))
    for k in keys:
        logits, _ = step(logits, k)
    last = float(jnp.mean(jnp.stack([loss(logits, k) for k in keys[:10]])))
    assert last < 0.7 * first


def test_signed_constant_params():
    params = _params(jax.random.PRNGKey(0))
    out = supermask.signed_constant_params(params, multiplier=2.0)
    kernel = params["dense_1"]["kernel"]
    np.testing.assert_allclose(out["dense_1"]["kernel"], jnp.sign(kernel) * jnp.std(kernel) * 2.0, rtol=1e-6)
    np.testing.assert_array_equal(out["dense_1"]["bias"], params["dense_1"]["bias"])
