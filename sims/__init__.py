"""Simulations that test each theoretical claim numerically (see :mod:`sims.registry`).

One sub-package per topic (``one_neuron``, ``mirror``, ``robustness``), each with its
dynamics/engine, its claims (``claims.py``, discovered by :func:`sims.registry.discover`) and
its figures (``figures.py``). ``registry`` and ``verify`` are the shared claim machinery.
"""
