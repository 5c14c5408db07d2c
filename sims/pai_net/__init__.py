"""Pruning at initialization against IMP and LRR on a real network (LeNet-300-100, MNIST):
No Free Prune's capacity ordering (spec nofreeprune.md §8 claim 5) with random labels, and
its premise that PaI does not find lottery tickets (§1), both trained through the engine
(:mod:`sims.lenet_mnist`). The simulation version of claim 5, on synthetic data, is
``robustness.capacity_ordering``.

- :mod:`sims.pai_net.claims`: the ``pai_net.*`` claims checked by ``lottery verify``.
"""
