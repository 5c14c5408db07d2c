"""The JAX engine of the single-neuron claims against theory.one_neuron (numpy), and every
one_neuron claim at the quick preset."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from sims import registry, verify
from sims.one_neuron import engine
from theory import one_neuron as on

RNG = np.random.default_rng(99)


def _numpy_gd(a, w, law, lr, steps, c=None, **opts):
    for _ in range(steps):
        a_dot, w_dot = on.gradient_flow(a, w, c=c, law=law, **opts)
        a, w = a + lr * a_dot, w + lr * w_dot
    return a, w


@pytest.mark.parametrize("law, d", [("gaussian", 1), ("gaussian", 6), ("uniform", 1)])
def test_gd_matches_numpy_gd_on_theory_gradient_flow(law, d):
    a0 = RNG.normal(size=5)
    w0 = RNG.normal(size=(5, d))
    res = engine.simulate(a0, w0, law=law, lr=0.05, steps=40)
    a, w = _numpy_gd(a0, w0, law, 0.05, 40)
    assert res["a"].dtype == np.float64
    assert np.allclose(res["a"], a, rtol=0, atol=1e-12) and np.allclose(res["w"], w, rtol=0, atol=1e-12)
    assert np.allclose(res["loss"], on.population_loss(a, w, law), atol=1e-12)


def test_d1_law_with_free_constant_matches_theory():
    a0, w0 = RNG.normal(size=4), RNG.normal(size=(4, 1))
    res = engine.simulate(a0, w0, law="d1", c=0.3, lr=0.1, steps=25)
    a, w = _numpy_gd(a0, w0, "uniform", 0.1, 25, c=0.3)
    assert np.allclose(res["a"], a, atol=1e-12) and np.allclose(res["w"], w, atol=1e-12)


def test_uniform_sample_gradients_match_theory_qmc():
    d, n = 3, 2**10
    x = engine.sobol_sample(d, n, seed=0)
    a, w = 0.8, np.array([0.4, -0.3, 0.5])
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        loss, d_a, d_w = engine.loss_and_gradients(jnp.float64(a), jnp.asarray(w), "uniform", 0.0, jnp.asarray(x))
        grad_a, grad_w = jax.grad(
            lambda a_, w_: 0.5 * jnp.mean((a_ * jnp.maximum(x @ w_, 0) - jnp.maximum(x[:, 0], 0)) ** 2),
            argnums=(0, 1))(jnp.float64(a), jnp.asarray(w))
        assert float(d_a) == pytest.approx(float(grad_a), abs=1e-14)
        assert np.allclose(np.asarray(d_w), np.asarray(grad_w), atol=1e-14)
    # the same sample, seen through theory's QMC estimator, gives the same cross moment
    g_sample = np.mean(np.maximum(x[:, 0], 0) * np.maximum(x @ w, 0))
    assert g_sample == pytest.approx(float(on.cross_moment(w, n_points=n, seed=0)), abs=1e-15)


def test_rk4_matches_scipy_solve_ivp():
    a0, w0 = np.array([0.7, -0.4]), RNG.normal(size=(2, 3))
    res = engine.simulate(a0, w0, law="gaussian", lr=0.01, steps=500, method="rk4")
    for i in range(2):
        def rhs(_, y):
            a_dot, w_dot = on.gradient_flow(y[0], y[1:], law="gaussian")
            return np.concatenate([[a_dot], w_dot])

        sol = solve_ivp(rhs, (0, 5.0), np.r_[a0[i], w0[i]], rtol=1e-12, atol=1e-13, method="DOP853")
        assert np.allclose(np.r_[res["a"][i], res["w"][i]], sol.y[:, -1], atol=1e-9)


def test_running_extrema_and_no_recompile_for_new_step_counts():
    a0, w0 = np.array([0.5]), np.array([[-0.3]])
    engine.simulate(a0, w0, law="gaussian", lr=0.1, steps=5)
    size = engine._run_batch._cache_size()
    res = engine.simulate(a0, w0, law="gaussian", lr=0.1, steps=50)
    assert engine._run_batch._cache_size() == size
    assert res["w0_max"][0] < 0 and res["a_min"][0] <= res["a"][0] <= res["a_max"][0]


def test_masks_compress_and_protocol_pieces():
    w = np.array([[0.1, -0.9, 0.5, 0.0], [2.0, 0.1, -0.2, 0.3]])
    mask = engine.magnitude_mask(w, np.ones_like(w), 2)
    assert np.array_equal(mask, [[0, 1, 1, 0], [1, 0, 0, 1]])
    w_c, mask_c, index = engine.compress(w * mask, mask)
    assert np.array_equal(index[0], [0, 1, 2]) and mask_c[0, 0] == 0
    assert np.array_equal(index[1], [0, 3, -1]) and np.array_equal(mask_c[1], [1, 1, 0])
    assert np.array_equal(engine.expand(w_c, index, 4), w * mask)
    with pytest.raises(ValueError, match="decrease to 1"):
        engine.prune_protocol(np.ones(2), w, law="gaussian", lr=0.1, steps=1, keeps=(2,))
    a0, w0 = engine.sample_initializations(np.random.default_rng(0), 1000, 4, "margin")
    assert np.allclose(np.abs(a0), 1.2 * np.linalg.norm(w0, axis=1))
    with pytest.raises(ValueError, match="initialization"):
        engine.sample_initializations(np.random.default_rng(0), 3, 2, "xavier")


def test_simulate_validates_inputs():
    with pytest.raises(ValueError, match="shape"):
        engine.simulate(np.ones(3), np.ones(3), law="gaussian", lr=0.1, steps=1)
    with pytest.raises(ValueError, match="sample x"):
        engine.simulate(np.ones(2), np.ones((2, 3)), law="uniform", lr=0.1, steps=1)
    with pytest.raises(ValueError, match="unknown law"):
        engine.simulate(np.ones(2), np.ones((2, 3)), law="laplace", lr=0.1, steps=1)
    with pytest.raises(ValueError, match="steps"):
        engine.simulate(np.ones(2), np.ones((2, 3)), law="gaussian", lr=-0.1, steps=1)


ONE_NEURON_CLAIMS = [c.id for c in registry.select(["one_neuron"])]


def test_all_spec_claims_are_registered():
    expected = {"conservation_law", "d1_closed_form", "d1_absorbing_region", "d1_success_rule",
                "sign_of_a_invariant", "overparameterized_sign_flip", "mask_identification",
                "imp_lrr_per_run_agreement", "imp_lrr_success_rates", "lrr_dominates_imp",
                "iterative_pruning", "imp_lrr_uniform_inputs"}
    assert {cid.split(".", 1)[1] for cid in ONE_NEURON_CLAIMS} == expected


@pytest.mark.parametrize("claim_id", ONE_NEURON_CLAIMS)
def test_claim_passes_at_quick_preset(claim_id, tmp_path_factory):
    out = tmp_path_factory.getbasetemp() / "one_neuron_quick"
    (claim,) = registry.select([claim_id])
    record = verify.run_claim(claim, seed=0, preset="quick", out_dir=out)
    assert record["passed"], (record.get("error"), record["observed"], record["details"])
    if record["figure"]:
        assert (out / record["figure"]).stat().st_size > 1000
