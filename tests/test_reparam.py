"""lottery_core.sparsity.reparam: m ⊙ w of a params pytree, PILoT / spred inits, penalty, training step,
Algorithm 1's α schedule and final magnitude pruning, on a tiny MLP defined here."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lottery_core.sparsity import reparam as rp
from lottery_core.sparsity import round_half_up
from lottery_core.training import Trainer, TrainState
from lottery_core.training.pilot import alpha_aux, pilot_hooks, pilot_loss, reparam_apply


def mlp_init(key, sizes=(6, 16, 3)):
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        key, sub = jax.random.split(key)
        params[f"dense_{i}"] = {
            "kernel": jax.random.normal(sub, (fan_in, fan_out)) * np.sqrt(2.0 / fan_in),
            "bias": jnp.full((fan_out,), 0.1 * (i + 1)),
        }
    return params


def mlp_apply(params, state, x, train):
    h = x
    n = len(params)
    for i in range(n):
        layer = params[f"dense_{i}"]
        h = h @ layer["kernel"] + layer["bias"]
        if i < n - 1:
            h = jax.nn.relu(h)
    return h, state


@pytest.fixture(scope="module")
def params():
    return mlp_init(jax.random.PRNGKey(0))


def _task(key, n=128):
    x = jax.random.normal(key, (n, 6))
    labels = (x[:, 0] > 0).astype(jnp.int32) + (x[:, 1] > 0.5).astype(jnp.int32)
    return x, labels


def test_pilot_init_collapses_to_params_and_sets_imbalance(params):
    r = rp.reparameterize(params, init="pilot", beta=1.0)
    collapsed = rp.collapse(r)
    for name in params:
        np.testing.assert_allclose(collapsed[name]["kernel"], params[name]["kernel"], rtol=1e-6,
                                   atol=1e-7)
        np.testing.assert_array_equal(collapsed[name]["bias"], params[name]["bias"])
        assert r.m[name]["bias"] is None
        assert collapsed[name]["kernel"].dtype == params[name]["kernel"].dtype
        m, w = r.m[name]["kernel"], r.w[name]["kernel"]
        assert bool(jnp.all(m > jnp.abs(w)))
        np.testing.assert_allclose(m * m - w * w, 1.0, rtol=1e-5)  # a_0 = β/2
    scale = rp.implicit_scale(r)
    np.testing.assert_allclose(scale["dense_0"]["kernel"], 0.5, rtol=1e-5)
    assert scale["dense_0"]["bias"] is None


def test_spred_and_ones_inits(params):
    spred = rp.reparameterize(params, init="spred")
    m, w = spred.m["dense_1"]["kernel"], spred.w["dense_1"]["kernel"]
    np.testing.assert_array_equal(jnp.abs(m), jnp.abs(w))
    np.testing.assert_allclose(m * w, params["dense_1"]["kernel"], rtol=1e-6)
    ones = rp.reparameterize(params, init="ones")
    np.testing.assert_array_equal(ones.m["dense_0"]["kernel"], 1.0)
    np.testing.assert_array_equal(ones.w["dense_0"]["kernel"], params["dense_0"]["kernel"])


def test_custom_selector_and_bad_input(params):
    every = rp.reparameterize(params, select=lambda path, leaf: True)
    assert every.m["dense_0"]["bias"] is not None
    with pytest.raises(ValueError, match="unknown init 'magic'"):
        rp.reparameterize(params, init="magic")
    with pytest.raises(ValueError, match="beta must be"):
        rp.reparameterize(params, beta=0.0)
    with pytest.raises(ValueError, match="picked no leaf"):
        rp.reparameterize(params, select=lambda path, leaf: False)


def test_penalty_l1_and_chain_rule(params):
    r = rp.reparameterize(params, init="pilot")
    expected = sum(float(jnp.sum(r.m[k]["kernel"] ** 2) + jnp.sum(r.w[k]["kernel"] ** 2))
                   for k in params)
    np.testing.assert_allclose(rp.weight_decay_penalty(r, 0.3), 0.3 * expected, rtol=1e-6)
    l1 = sum(float(jnp.sum(jnp.abs(params[k]["kernel"]))) for k in params)
    np.testing.assert_allclose(rp.l1_norm(r), l1, rtol=1e-5)
    batch = _task(jax.random.PRNGKey(1))
    loss_x = lambda p: rp.softmax_cross_entropy(mlp_apply(p, {}, batch[0], True)[0], batch[1])
    g_x = jax.jit(jax.grad(loss_x))(rp.collapse(r))
    state = TrainState(None, {}, None, (), 0, None, alpha_aux(0.0))
    loss = pilot_loss(reparam_apply(mlp_apply))
    g = jax.jit(jax.grad(lambda q: loss(q, {}, *batch, state)[0]))(r)
    # ∂/∂m f(m ⊙ w) = ∇f(x) ⊙ w, ∂/∂w = ∇f(x) ⊙ m; unselected leaves get ∇f directly
    np.testing.assert_allclose(g.m["dense_0"]["kernel"], g_x["dense_0"]["kernel"]
                               * r.w["dense_0"]["kernel"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g.w["dense_1"]["kernel"], g_x["dense_1"]["kernel"]
                               * r.m["dense_1"]["kernel"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g.w["dense_0"]["bias"], g_x["dense_0"]["bias"], rtol=1e-6)


def test_train_step_follows_discrete_imbalance_law_and_learns(params):
    """One SGD step multiplies m² − w² by (1 − 2ηα)² − η²g² (spec §1.5), g = ∂f/∂x: the
    Trainer's step with PILoT's hooks (training/pilot.py)."""
    eta, alpha = 0.1, 0.05
    trainer = Trainer(optimizer=optax.sgd(eta), **pilot_hooks(mlp_apply))
    r = rp.reparameterize(params, init="pilot")
    state = trainer.init_state(r, {}, (), aux=alpha_aux(alpha))
    x, y = _task(jax.random.PRNGKey(2))
    rows = jnp.arange(len(x))[None]                        # one step on the whole batch
    loss_x = lambda p: rp.softmax_cross_entropy(mlp_apply(p, {}, x, True)[0], y)
    g = jax.jit(jax.grad(loss_x))(rp.collapse(r))["dense_0"]["kernel"]
    state, metrics = trainer.run_steps(state, x, y, rows)
    new = state.params
    before = r.m["dense_0"]["kernel"] ** 2 - r.w["dense_0"]["kernel"] ** 2
    after = new.m["dense_0"]["kernel"] ** 2 - new.w["dense_0"]["kernel"] ** 2
    factor = (1 - 2 * eta * alpha) ** 2 - (eta * g) ** 2
    np.testing.assert_allclose(after, factor * before, rtol=2e-5)
    assert set(metrics) == {"loss", "data_loss", "penalty", "accuracy"}
    np.testing.assert_allclose(metrics["loss"], metrics["data_loss"] + metrics["penalty"],
                               rtol=1e-6)
    penalty = alpha * sum(float(jnp.sum(r.m[k]["kernel"] ** 2) + jnp.sum(r.w[k]["kernel"] ** 2))
                          for k in params)
    np.testing.assert_allclose(metrics["penalty"][0], penalty, rtol=1e-5)
    first = float(metrics["data_loss"][0])
    state, metrics = trainer.run_steps(state._replace(aux=alpha_aux(1e-4)), x, y, rows)
    compiled = trainer.trace_count
    for i in range(150):
        state, metrics = trainer.run_steps(state._replace(aux=alpha_aux(1e-4 * (1 + i % 3))),
                                           x, y, rows)
    assert float(metrics["data_loss"][0]) < 0.5 * first
    assert trainer.trace_count == compiled  # new α values do not recompile


def test_algorithm1_schedule_branches():
    schedule = rp.pilot_alpha_schedule(1e-3, total_epochs=10, delta=2.0, target_l1=5.0)
    s = schedule.init()
    assert s == rp.PilotScheduleState(1e-3, 0.0, 0)
    s = schedule.update(s, 0.5, 10.0)           # acc up, L1 above K, k = 1 <= T/2: strengthen
    assert s.alpha == pytest.approx(2e-3) and s.epoch == 1
    s = schedule.update(s, 0.4, 10.0)           # accuracy dropped: relax
    assert s.alpha == pytest.approx(1e-3)
    s = schedule.update(s, 0.6, 4.0)            # L1 below the target: relax
    assert s.alpha == pytest.approx(5e-4)
    s = schedule.update(s, 0.6, 6.0)            # equal accuracy counts as not worse
    assert s.alpha == pytest.approx(1e-3)
    for _ in range(6):                          # after T/2 α decays geometrically
        s = schedule.update(s, 1.0, 100.0)
    assert s.epoch == 10 and s.alpha == pytest.approx(2e-3 / 2.0**5)  # k = 5 up, 6..10 down
    with pytest.raises(ValueError, match="delta must be"):
        rp.pilot_alpha_schedule(1e-3, total_epochs=10, delta=1.0, target_l1=1.0)
    with pytest.raises(ValueError, match="total_epochs"):
        rp.pilot_alpha_schedule(1e-3, total_epochs=0, delta=2.0, target_l1=1.0)


def test_magnitude_pruning_exact_counts_global_and_layerwise(params):
    r = rp.reparameterize(params, init="pilot")
    x = rp.collapse(r)
    sizes = [x[k]["kernel"].size for k in ("dense_0", "dense_1")]
    for sparsity in (0.5, 0.9, 0.98):
        pruned, masks = rp.prune_reparameterized(r, sparsity, scope="global")
        kept = sum(int(masks[k]["kernel"].sum()) for k in ("dense_0", "dense_1"))
        assert kept == sum(sizes) - round_half_up(sparsity * sum(sizes))
        assert masks["dense_0"]["bias"] is None
        np.testing.assert_array_equal(pruned["dense_1"]["bias"], params["dense_1"]["bias"])
        all_x = np.concatenate([np.abs(np.ravel(x[k]["kernel"])) for k in ("dense_0", "dense_1")])
        all_keep = np.concatenate([np.ravel(masks[k]["kernel"]) for k in ("dense_0", "dense_1")])
        assert all_x[all_keep].min() >= all_x[~all_keep].max()
        _, masks_l = rp.prune_reparameterized(r, sparsity, scope="layerwise")
        for k, size in zip(("dense_0", "dense_1"), sizes):
            assert int(masks_l[k]["kernel"].sum()) == size - round_half_up(sparsity * size)
    ties = {"a": {"kernel": jnp.array([1.0, -1.0, 1.0, 2.0])}}
    pruned, masks = rp.magnitude_prune(ties, 0.5)
    # sparsity's tie rule: among equal |x| the lower flat index is kept
    np.testing.assert_array_equal(masks["a"]["kernel"], [True, False, False, True])
    np.testing.assert_array_equal(pruned["a"]["kernel"], [1.0, 0.0, 0.0, 2.0])
    _, half = rp.magnitude_prune({"a": {"kernel": jnp.arange(1.0, 6.0)}}, 0.5)
    assert int(half["a"]["kernel"].sum()) == 2           # round_half_up(2.5) = 3 removed
    with pytest.raises(ValueError, match="sparsity must be in"):
        rp.magnitude_prune(ties, 1.5)
    with pytest.raises(ValueError, match="unknown scope"):
        rp.magnitude_prune(ties, 0.5, scope="per-neuron")
