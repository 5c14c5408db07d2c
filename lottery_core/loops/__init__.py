"""The loops that train and prune: the level loop and the one-shot runs.

* :mod:`~lottery_core.loops.protocol`: what a level method sees and returns;
* :mod:`~lottery_core.loops.methods`, :mod:`~lottery_core.loops.lrr_methods`,
  :mod:`~lottery_core.loops.deconstruct`: the methods;
* :mod:`~lottery_core.loops.registry`: the one list of methods;
* :mod:`~lottery_core.loops.levels`: the level runner; :mod:`~lottery_core.loops.oneshot`:
  the one-shot runner (``pilot``, ``oneshot``); :mod:`~lottery_core.loops.setup`: what both
  set up; :mod:`~lottery_core.loops.workers`: seed parallelism.
"""
