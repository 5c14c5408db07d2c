"""Mask in the Mirror (Jacobs & Burkholz, ICLR 2025; spec mirror.md): continuous sparsification
m ⊙ w as a time-dependent mirror flow.

- :mod:`sims.mirror.dynamics`: the test bed, gradient flow and gradient descent (float64 JAX);
- :mod:`sims.mirror.claims`: the ``mirror.*`` claims C1-C12 checked by ``lottery verify``;
- :mod:`sims.mirror.figures`: their figures.
"""
