"""The defining equations of the continuous-sparsification baselines (spec mirror.md §3.4), as
pure functions of arrays (numpy or jax), one per method; the training objectives built on
them are in :mod:`lottery_core.loops.cs_methods`. Labels: [P] paper, [C] the authors' code,
[S] the spec's reading, [R] our choice.

* **Explicit L1** (spec §3.4, §3.1): f(x) + λ_k ‖x‖₁ with a per-epoch strength λ_k = λ_0·h(k),
  k = 1, 2, ... the epoch: constant h = 1, harmonic 1/k, quadratic 1/k², geometric p^(k−1)
  (v1 App. B.1's schedules [P]; p = 0.95 [P]; the geometric exponent k − 1 makes every schedule
  start at λ_0 [R]).
* **Continuous Sparsification** (Savarese, Silva & Maire, NeurIPS 2020, arXiv 1912.04427 [P]):
  x = w ⊙ σ(β s) / σ(s_0), penalty λ‖σ(β s)/σ(s_0)‖₁; the temperature grows geometrically over
  T epochs, β_e = β_T^(e/(T−1)) for epoch e = 0..T−1 (``temp *= final_temp**(1/(epochs-1))``
  after every epoch, and the rescaling 1/σ(s_0) of the soft mask: lolemacs/continuous-
  sparsification ``main.py``, ``models/layers.py`` [C]); the learned hard mask is 1[s > 0] [P].
* **PowerPropagation** (Schwarz et al., NeurIPS 2021, arXiv 2110.00296 [P]): x = θ|θ|^(α−1);
  θ_0 = sign(x_0)|x_0|^(1/α), so the effective weights start at the usual initialization
  (``PowerPropVarianceScaling`` of the DeepMind notebook [C]).
* **STR** (Kusupati et al., ICML 2020, arXiv 2002.03231 [P]): x = sign(w)·relu(|w| − σ(s_l)),
  one learnable threshold s_l per layer (``sparseFunction``, RAIVNLab/STR
  ``utils/conv_type.py`` [C]).
* **spred** (Ziyin & Wang 2023) and **PILoT** are the m ⊙ w reparameterization of
  :mod:`lottery_core.sparsity.reparam` (x = m ⊙ w, penalty α(‖m‖² + ‖w‖²)).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.nn import sigmoid

#: explicit-L1 schedules (spec mirror.md §3.1: constant, harmonic, quadratic, geometric)
L1_SCHEDULES = ("constant", "harmonic", "quadratic", "geometric")


def l1_strength(schedule: str, lam0: float, epoch: int, decay: float = 0.95) -> float:
    """λ_k of epoch ``epoch`` (k = 1, 2, ...): λ_0·{1, 1/k, 1/k², p^(k−1)}."""
    if schedule not in L1_SCHEDULES:
        raise ValueError(f"unknown L1 schedule {schedule!r}; allowed: {', '.join(L1_SCHEDULES)}")
    if int(epoch) != epoch or epoch < 1:
        raise ValueError(f"epoch must be an integer >= 1, got {epoch!r}")
    factor = {"constant": 1.0, "harmonic": 1.0 / epoch, "quadratic": 1.0 / epoch ** 2,
              "geometric": decay ** (epoch - 1)}[schedule]
    return float(lam0) * factor


def cs_temperature(epoch: int, epochs: int, final: float) -> float:
    """β_e = β_T^(e/(T−1)) for epoch e = 0..T−1 (β_0 = 1, β_{T−1} = β_T; 1 when T = 1)."""
    if epochs <= 1:
        return 1.0
    return float(final) ** (epoch / (epochs - 1))


def cs_gate(s, temperature, s_init=0.0):
    """The soft mask σ(β s)/σ(s_0) of Continuous Sparsification (1 at s = s_0, β = 1)."""
    return sigmoid(temperature * s) / sigmoid(s_init)


def cs_weight(w, s, temperature, s_init=0.0):
    """x = w ⊙ σ(β s)/σ(s_0)."""
    return w * cs_gate(s, temperature, s_init)


def cs_hard_weight(w, s, s_init=0.0):
    """The learned ticket w ⊙ 1[s > 0]/σ(s_0) (the β → ∞ limit of :func:`cs_weight`)."""
    return jnp.where(s > 0, w / sigmoid(s_init), jnp.zeros_like(w))


def powerprop_weight(theta, alpha):
    """x = θ|θ|^(α−1)."""
    return theta * jnp.abs(theta) ** (alpha - 1.0)


def powerprop_init(x, alpha: float):
    """θ with θ|θ|^(α−1) = x: sign(x)|x|^(1/α)."""
    return jnp.sign(x) * jnp.abs(x) ** (1.0 / alpha)


def str_weight(w, s):
    """x = sign(w)·relu(|w| − σ(s)), σ the sigmoid: soft threshold at σ(s) (STR)."""
    return jnp.sign(w) * jnp.maximum(jnp.abs(w) - sigmoid(s), 0.0)
