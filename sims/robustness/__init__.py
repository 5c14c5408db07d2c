"""No Free Prune (Kumar, Luo & Sellke, ICML 2024) and the law of robustness (Bubeck & Sellke
2021): spec nofreeprune.md.

- :mod:`sims.robustness.training`: a small vmapped masked-MLP trainer;
- :mod:`sims.robustness.experiments`: recipes R1, R2, R4, the mask-information pipelines and
  the enumerable toy; :mod:`sims.robustness.mnist`: MNIST with randomized labels (R3);
- :mod:`sims.robustness.claims`: the ``robustness.*`` claims checked by ``lottery verify``;
- :mod:`sims.robustness.figures`: their figures.
"""
