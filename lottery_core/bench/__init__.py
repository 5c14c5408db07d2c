"""On-device benchmarks and validations of the engine, run as budget-driven phases
(``lottery bench gpu``, docs/gpu.md).

* :mod:`~lottery_core.bench.budget`: the clock, the phases, their deadlines, their JSON files
  (written as each phase ends; a rerun on the same folder keeps what finished);
* :mod:`~lottery_core.bench.settings`: the sizes of the full (accelerator) and tiny (CPU, CI)
  runs;
* :mod:`~lottery_core.bench.environment`: device and library versions;
* :mod:`~lottery_core.bench.training`: ResNet-20 epoch time (batch x dtype) and K vmapped
  tickets, timed on the level runner's own Trainer;
* :mod:`~lottery_core.bench.lrr`: a reduced LRR vs WR run (and its sign flips) sized to the
  time left;
* :mod:`~lottery_core.bench.report`: report.json, report.md and the figures.

The simulations' phase (float32 / float64 on the device against float64 on the CPU) lives in
``sims.device_check``, one layer up.
"""
