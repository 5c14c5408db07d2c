"""The LRR paper's network-scale claims (Gadhikar & Burkholz, ICLR 2024; spec lrr.md §3 items
10-13): LRR vs IMP/WR accuracy, mask quality and optimization, sign flips, robustness to sign
perturbation. The toy-model claims of the same paper are ``one_neuron.*``.

- :mod:`sims.lrr.settings`: what each preset trains (the experiments' options, the budgets);
- the CIFAR-10 folder the experiments read comes from :mod:`sims.shared_data`;
- :mod:`sims.lrr.experiments`: runs a ``lottery experiment`` of ``lottery_core.experiments``
  into the claim's run store and returns its results;
- :mod:`sims.lrr.compare`: paired per-seed gaps between two accuracy curves and the rules;
- :mod:`sims.lrr.claims`: the ``lrr.*`` claims checked by ``lottery verify``.
"""
