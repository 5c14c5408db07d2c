"""theory.effective_params: exact counting, the BS bound and the sparse versions A, B, C [R]."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory import effective_params as ep


def test_log_binomial_matches_exact_integers():
    for P in range(0, 40):
        for s in range(0, P + 1):
            assert ep.log_binomial(P, s) == pytest.approx(math.log(math.comb(P, s)), abs=1e-11)
    arr = ep.log_binomial(np.array([10, 20]), np.array([3, 7]))
    np.testing.assert_allclose(arr, [math.log(120), math.log(77520)], rtol=1e-13)


def test_log_binomial_spec_reference_values():
    # spec §4.3.3 / claim 3: LeNet-300-100, P = 266,200
    s10, s1 = 26620, 2662
    big = ep.log_binomial(266200, s10)
    small = ep.log_binomial(266200, s1)
    assert big == pytest.approx(8.65e4, rel=2e-3) and big / s10 == pytest.approx(3.25, abs=0.01)
    assert small == pytest.approx(1.49e4, rel=3e-3) and small / s1 == pytest.approx(5.6, abs=0.02)


@pytest.mark.parametrize("P,s", [(5, 6), (5, -1), (5.5, 2), (10, 2.5)])
def test_log_binomial_rejects_bad_input(P, s):
    with pytest.raises(ValueError, match="log_binomial"):
        ep.log_binomial(P, s)


def test_layerwise_bound_is_sum_and_below_global():
    sizes, kept = [1000, 300, 50], [100, 30, 5]
    layerwise = ep.layerwise_mask_entropy_bound(sizes, kept)
    assert layerwise == pytest.approx(sum(math.log(math.comb(P, s)) for P, s in zip(sizes, kept)),
                                      rel=1e-12)
    # fixing per-layer counts can only reduce the number of masks (Vandermonde)
    assert layerwise < ep.mask_entropy_bound(sum(sizes), sum(kept))
    with pytest.raises(ValueError, match="equal length"):
        ep.layerwise_mask_entropy_bound([10, 20], [1])


def test_entropy_cap_upper_dominates_log_binomial():
    for P in [1, 7, 100, 266200]:
        for s in sorted({0, 1, P // 3, P // 2, P}):
            assert ep.log_binomial(P, s) <= ep.entropy_cap_upper(P, s) + 1e-9


def test_p_eff_and_validation():
    assert ep.p_eff(12.5, 100) == 112.5
    with pytest.raises(ValueError, match="mutual_information"):
        ep.p_eff(-1.0, 3)


def test_noise_correlation_floor_holds_and_is_sharp():
    rng = np.random.default_rng(0)
    n, sigma2 = 50, 0.64
    for _ in range(2000):
        Z = rng.normal(size=n)
        Z *= math.sqrt(rng.uniform(0.5, 1.0) * n) / np.linalg.norm(Z)   # ||Z||^2 per n
        G = rng.normal(size=n) * 0.5
        R = rng.normal(size=n)
        R *= math.sqrt(rng.uniform(0.0, 0.6) * n) / np.linalg.norm(R)
        F = G + Z - R
        mse = np.mean(R ** 2)
        eps = sigma2 - mse
        if eps <= 0:
            continue
        if np.mean(Z ** 2) >= sigma2 - eps / 6 and np.mean(Z * G) >= -eps / 6:
            assert ep.noise_correlation(F, Z) >= ep.noise_correlation_floor(eps) - 1e-12
    # the extremal configuration attains the tight minimum, which is < eps/3
    eps = 0.1
    e1 = np.zeros(n); e1[0] = math.sqrt(n)
    e2 = np.zeros(n); e2[1] = math.sqrt(n)
    Z = math.sqrt(sigma2 - eps / 6) * e1
    G = -(eps / 6) / math.sqrt(sigma2 - eps / 6) * e1
    R = math.sqrt(sigma2 - eps) * e1
    F = G + Z - R
    assert np.mean((G + Z - F) ** 2) <= sigma2 - eps + 1e-12
    observed = ep.noise_correlation(F, Z)
    assert observed == pytest.approx(ep.lemma21_tight_minimum(sigma2, eps), abs=1e-12)
    assert ep.noise_correlation_floor(eps) <= observed < eps / 3
    with pytest.raises(ValueError, match="equal shape"):
        ep.noise_correlation(np.ones(3), np.ones(4))


def test_bs_bound_spec_example_and_side_condition():
    # spec §4.2: n=1e4, d=100, eps=0.5, c=1, p=1e5, log(60WJ/eps) ~ 20 -> ~7e-4
    W = math.exp(20.0) * 0.5 / 60.0
    value = ep.law_of_robustness_bound(10_000, 100, 1e5, 0.5, W=W, J=1.0)
    assert value == pytest.approx(6.9e-4, rel=0.02)
    assert not ep.law_of_robustness_side_condition(10_000, 0.5, delta=0.01)
    assert ep.law_of_robustness_side_condition(10 ** 6, 0.5, delta=0.01)
    with pytest.raises(ValueError, match="eps"):
        ep.law_of_robustness_bound(100, 10, 10, 1.5)


def test_sparse_versions_orderings():
    kw = dict(n=10_000, d=100, eps=0.5, W=10.0, J=100.0, delta=0.1)
    s, P = 2_000, 100_000
    bs = ep.law_of_robustness_bound(p=s, **kw)
    a0 = ep.sparse_bound_a(s=s, mutual_information=0.0, **kw)
    a_big = ep.sparse_bound_a(s=s, mutual_information=1e6, **kw)
    b0 = ep.sparse_bound_b(expected_nonzeros=s, mutual_information=0.0, **kw)
    c = ep.sparse_bound_c(P=P, s=s, **kw)
    assert a_big < a0
    log_net = math.log(60 * 10.0 * 100.0 / 0.5)
    # Version A with I = 0: BS's log(4/delta) becomes log 4 + log 2 / delta
    assert a0 == pytest.approx(
        0.5 / 2 ** 9 * math.sqrt(1e6 / (s * log_net + math.log(4) + math.log(2) / 0.1)), rel=1e-12)
    assert bs == pytest.approx(0.5 / 2 ** 9 * math.sqrt(1e6 / (s * log_net + math.log(40))), rel=1e-12)
    assert c < bs                                         # union over masks costs log C(P, s)
    assert b0 > 0 and ep.sparse_bound_b(expected_nonzeros=s, mutual_information=1e6, **kw) < b0
    # Version C's denominator is BS's with p log(60WJ/eps) -> s log(60WJ/eps) + log C(P, s)
    expected = 0.5 / 2 ** 9 * math.sqrt(1e6 / (s * log_net + ep.log_binomial(P, s) + math.log(40)))
    assert c == pytest.approx(expected, rel=1e-12)
    assert ep.sparse_side_condition_a(10 ** 9, 0.5, 10.0, delta=0.1)
    assert not ep.sparse_side_condition_a(10 ** 4, 0.5, 10.0, delta=0.1)


def test_mi_decoupling_bound_on_random_joints():
    from theory.mi_estimators import mutual_information

    rng = np.random.default_rng(1)
    for _ in range(200):
        joint = rng.dirichlet(np.full(6 * 5, 0.3)).reshape(6, 5)
        info = mutual_information(joint)
        product = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
        event = rng.random(joint.shape) < rng.uniform(0.05, 0.5)
        p_e, q_e = joint[event].sum(), product[event].sum()
        assert ep.binary_kl(p_e, q_e) <= info + 1e-12
        assert p_e <= ep.mi_decoupling_bound(info, q_e) + 1e-12
    assert ep.mi_decoupling_bound(0.0, 1.0) == math.inf
    with pytest.raises(ValueError, match="q_event"):
        ep.mi_decoupling_bound(0.1, 1.5)


def test_sympy_derivation_of_the_constants_holds():
    import sympy as sp

    from theory.derivations import effective_params as derivation
    from theory.derivations.identity import Identity

    identities = derivation.derive()
    assert len(identities) == 5
    assert all(identity.check()[0] for identity in identities)
    # the same check rejects a wrong constant (2^8 instead of 2^9 in Version A)
    eps, n, d, s, logN = sp.symbols("epsilon n d s logN", positive=True)
    wrong_L = eps / 2 ** 8 * sp.sqrt(n * d / (s * logN))
    wrong = Identity("wrong", "", s * logN - eps ** 2 * n * d / (8 ** 6 * wrong_L ** 2))
    assert not wrong.check()[0]
