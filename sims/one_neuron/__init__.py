"""The single hidden neuron a·relu(wᵀx): IMP vs LRR sign dynamics (Gadhikar & Burkholz, ICLR
2024, §2; spec lrr.md).

- :mod:`sims.one_neuron.engine`: the JAX engine (population gradients, GD/RK4 vmapped over
  initializations, magnitude pruning, the IMP/LRR protocols);
- :mod:`sims.one_neuron.claims`: the ``one_neuron.*`` claims checked by ``lottery verify``;
- :mod:`sims.one_neuron.figures`: their figures.
"""
