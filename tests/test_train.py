"""Masked training: exact zeros under momentum + weight decay, no recompilation, schedules,
hooks, evaluation, vmap over seeds, resumable batch order."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lottery_core import sparsity
from lottery_core.data import synthetic
from lottery_core.models import get_model
from lottery_core.training import Trainer, epoch_batches, make_optimizer, make_schedule


@pytest.fixture(scope="module")
def setup():
    data = synthetic(n_train=400, n_test=100, input_shape=(8, 8, 1), validation_size=50)
    model = get_model("mlp", widths=(32,), input_shape=(8, 8, 1))
    params, state = model.init(jax.random.PRNGKey(0))
    params = jax.tree_util.tree_map(np.asarray, params)
    fractions = sparsity.layer_fractions(params, 10, dense=0.5)
    mask = sparsity.prune_by_magnitude(params, sparsity.full_mask(params), fractions)
    return data, model, params, state, mask


def sgd_trainer(model, steps=100):
    optimizer = make_optimizer("sgd", momentum=0.9, weight_decay=5e-4, learning_rate=0.1)
    return Trainer(model.apply, optimizer, schedule=make_schedule("constant", 0.1, steps),
                   last_step=steps - 1)


def test_pruned_weights_exactly_zero_after_100_sgd_momentum_weight_decay_steps(setup):
    data, model, params, state, mask = setup
    trainer = sgd_trainer(model)
    ts = trainer.init_state(params, state, mask)
    idx = epoch_batches((0,), len(data.x_train), 20, 0, 100)
    ts, steps = trainer.run_steps(ts, jnp.asarray(data.x_train), jnp.asarray(data.y_train),
                                  jnp.asarray(idx))
    losses = steps["loss"]
    assert int(ts.step) == 100 and losses.shape == (100,) and list(steps) == ["loss"]
    for p, m, p0 in zip(jax.tree_util.tree_leaves(ts.params), jax.tree_util.tree_leaves(mask),
                        jax.tree_util.tree_leaves(params)):
        p = np.asarray(p)
        assert np.all(p[~m] == 0.0)                     # exactly zero, not merely small
        assert np.mean(p[m] != np.asarray(p0)[m]) > 0.9  # the survivors did train
    # the momentum buffer of pruned weights is zero as well
    trace = jax.tree_util.tree_leaves(ts.opt_state.inner_state)
    kernels = [np.asarray(t) for t in trace if np.shape(t) == (64, 32)]
    assert kernels and np.all(kernels[0][~mask["dense_0"]["kernel"]] == 0.0)
    assert float(losses[-10:].mean()) < float(losses[:10].mean())


def test_second_train_call_does_not_recompile(setup):
    data, model, params, state, mask = setup
    trainer = sgd_trainer(model)
    ts = trainer.init_state(params, state, mask)
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    for start in (0, 10, 20):
        idx = jnp.asarray(epoch_batches((0,), len(x), 20, start, 10))
        ts, _ = trainer.run_steps(ts, x, y, idx)
    assert trainer.trace_count == 1
    assert trainer.run_steps._cache_size() == 1


def test_schedules_and_final_rate_clamp():
    step = make_schedule("step", 0.1, 100, milestones=(0.5, 0.75), gamma=0.1)
    assert [float(step(s)) for s in (0, 49, 50, 74, 75, 99)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    cosine = make_schedule("cosine", 1.0, 100)
    assert float(cosine(50)) == pytest.approx(0.5, abs=1e-6)
    warm = make_schedule("cosine", 1.0, 110, warmup_steps=10)
    assert float(warm(5)) == pytest.approx(0.5) and float(warm(10)) == pytest.approx(1.0)
    model = get_model("mlp", widths=(4,), input_shape=(2, 2, 1))
    trainer = Trainer(model.apply, make_optimizer("sgd", learning_rate=1.0), schedule=cosine,
                      last_step=99)
    # fine-tuning continues at the last step's rate
    assert float(trainer.learning_rate(150)) == pytest.approx(float(cosine(99)))
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("linear", 0.1, 10)
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("rmsprop")


def test_custom_param_transform_freezes_pruned_weights_at_init(setup):
    """Zhou et al.'s mask-0 action "freeze at init" via the param_transform hook."""
    data, model, params, state, mask = setup
    optimizer = make_optimizer("adam", learning_rate=1e-2)

    def freeze(p, s):
        return jax.tree_util.tree_map(lambda a, m, a0: jnp.where(m, a, a0), p, s.mask, s.aux)

    trainer = Trainer(model.apply, optimizer, schedule=make_schedule("constant", 1e-2, 30),
                      last_step=29, param_transform=freeze,
                      grad_transform=lambda g, s: g)
    ts = trainer.init_state(params, state, mask, aux=params)
    ts = ts._replace(params=params)     # start from the unmasked θ_0
    idx = epoch_batches((1,), len(data.x_train), 20, 0, 30)
    ts, _ = trainer.run_steps(ts, jnp.asarray(data.x_train), jnp.asarray(data.y_train),
                              jnp.asarray(idx))
    w, w0, m = (np.asarray(ts.params["dense_0"]["kernel"]), params["dense_0"]["kernel"],
                mask["dense_0"]["kernel"])
    np.testing.assert_array_equal(w[~m], w0[~m])
    assert np.all(w[~m] != 0) and np.mean(w[m] != w0[m]) > 0.9


def test_evaluate_matches_numpy_with_a_partial_last_batch(setup):
    data, model, params, state, mask = setup
    trainer = Trainer(model.apply, make_optimizer("adam"), eval_batch_size=30)
    loss, acc = trainer.evaluate(params, state, jnp.asarray(data.x_test),
                                 jnp.asarray(data.y_test))       # 100 = 3*30 + 10
    logits, _ = model.apply(params, state, jnp.asarray(data.x_test), False)
    logits = np.asarray(logits, np.float64)
    logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1,
                                                                             keepdims=True)) \
        - logits.max(1, keepdims=True)
    expected_loss = -logp[np.arange(100), data.y_test].mean()
    assert float(acc) == pytest.approx(np.mean(logits.argmax(1) == data.y_test))
    assert float(loss) == pytest.approx(expected_loss, rel=1e-5)


def test_vmap_over_seeds_equals_one_by_one(setup):
    data, model, params, state, mask = setup
    trainer = sgd_trainer(model)
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    states, idx = [], []
    for s in range(2):
        p, st = model.init(jax.random.PRNGKey(s))
        states.append(trainer.init_state(p, st, sparsity.full_mask(p)))
        idx.append(epoch_batches((s,), len(x), 20, 0, 15))
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *states)
    together, _ = trainer.run_steps_seeds(stacked, x, y, jnp.asarray(np.stack(idx)))
    for s in range(2):
        alone, _ = trainer.run_steps(states[s], x, y, jnp.asarray(idx[s]))
        np.testing.assert_allclose(np.asarray(together.params["dense_0"]["kernel"][s]),
                                   np.asarray(alone.params["dense_0"]["kernel"]), atol=1e-5)


def test_batch_order_depends_only_on_the_step():
    full = epoch_batches((3, 1), 100, 30, 0, 10)            # 3 batches per epoch
    np.testing.assert_array_equal(epoch_batches((3, 1), 100, 30, 4, 5), full[4:9])
    epoch = full[:3].ravel()
    assert len(set(epoch.tolist())) == 90                    # no repeats inside an epoch
    assert not np.array_equal(full[:3], full[3:6])           # reshuffled every epoch
    with pytest.raises(ValueError, match="batch size"):
        epoch_batches((0,), 10, 20, 0, 1)


def test_first_updates_of_sgd_nesterov_adam_with_coupled_weight_decay():
    """One step from w = 2 with gradient g = 3 (loss 3w): closed-form first updates."""
    import optax

    w, g, lr, wd = jnp.array([2.0]), jnp.array([3.0]), 0.1, 0.5
    cases = {
        ("sgd", 0.9, False): w - lr * (g + wd * w),                 # momentum buffer = g
        ("sgd", 0.9, True): w - lr * 1.9 * (g + wd * w),            # Nesterov: (1 + μ) g
        ("adam", 0.0, False): w - lr * jnp.sign(g + wd * w),        # bias-corrected: ±lr
    }
    for (name, momentum, nesterov), expected in cases.items():
        tx = make_optimizer(name, momentum=momentum, nesterov=nesterov, weight_decay=wd,
                            learning_rate=lr)
        updates, _ = tx.update(g, tx.init(w), w)
        np.testing.assert_allclose(np.asarray(optax.apply_updates(w, updates)),
                                   np.asarray(expected), rtol=1e-5)
