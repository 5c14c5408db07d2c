"""PILoT on a real network (LeNet-300-100, MNIST): the network-level statements of Mask in
the Mirror (spec mirror.md §3.2-§3.4): one-shot PILoT against its baselines at matched
density, and iterative PILoT inside IMP and LRR, trained through the engine
(:mod:`sims.lenet_mnist`).

- :mod:`sims.pilot_net.claims`: the ``pilot_net.*`` claims checked by ``lottery verify``.
"""
