"""Default training recipes of the registered models (keys: ExperimentConfig fields).

* ``LENET_MNIST``: LeNet-300-100 / MLPs on MNIST, Frankle & Carbin 2019 Fig. 2; Zhou et al.
  2019 ``print_train_command.sh`` (spec zhou.md §2.3 [C]): Adam 1.2e-3, batch 60, 50,000
  iterations, 20% per level with 10% on the output layer.
* ``conv_recipe``: Conv-2/4/6 of Frankle & Carbin 2019 Fig. 2 [C] (Adam, batch 60; learning
  rate, iterations and conv pruning rate per network).
* ``LRR_CIFAR``: the LRR paper's recipe (spec lrr.md §2.2). From the authors' code
  ``AdvaitGadhikar/imp-lrr-lts`` (``args.py`` and ``configs/large/resnet18-cifar-str-1.yaml``)
  [C]: SGD lr 0.1, momentum 0.9, no Nesterov, batch 256, weight decay 1e-4 (CIFAR-10 config),
  cosine from 0.1 to lr_min = 0.01 in every level, 10 warmup epochs (linear ramp per epoch)
  whose end is the rewind point, global magnitude pruning of every conv/linear kernel at 20% of
  the remaining weights per level, BN never pruned, optimizer state carried (LRR) or rewound
  with the weights (WR), RandomCrop(32, 4) + flip + per-channel normalization. Epochs per
  level: 150, the group's CIFAR launcher (the spec's "use 150 for CIFAR unless the appendix
  says otherwise") [C]/[S].
* ``LRR_CIFAR_DATASETS``: what differs on CIFAR-100 (``configs/large/resnet18-cifar100-str-1.yaml``
  [C], spec lrr.md §2.2 and its config list): weight decay 1e-3 and 160 epochs per level. The
  spec calls the yaml epochs placeholders and the config comment says to take the final
  weight decay from the appendix (not read); the 150 epochs of the CIFAR-10 recipe come from
  the group's CIFAR-10 launcher, which has no CIFAR-100 counterpart in the spec. Everything
  else (lr 0.1 → lr_min 0.01 cosine, momentum 0.9, batch 256, warmup, pruning, pipeline with
  CIFAR-100's channel statistics) is the CIFAR-10 recipe, as in the yaml [C].

Data only: no imports, so that any layer may read it.
"""

LENET_MNIST = dict(optimizer="adam", learning_rate=1.2e-3, batch_size=60, iterations=50000,
                   prune_fraction=0.2, prune_fraction_output=0.1)

_CONV = {  # name -> (learning rate, iterations, conv pruning rate) [C]
    "conv2": (2e-4, 20000, 0.1),
    "conv4": (3e-4, 25000, 0.1),
    "conv6": (3e-4, 30000, 0.15),
}


def conv_recipe(name: str) -> dict:
    """Frankle & Carbin 2019's recipe of ``conv2`` / ``conv4`` / ``conv6``."""
    learning_rate, iterations, conv_fraction = _CONV[name]
    return dict(optimizer="adam", learning_rate=learning_rate, batch_size=60,
                iterations=iterations, prune_fraction=0.2, prune_fraction_conv=conv_fraction,
                prune_fraction_output=0.1)


LRR_CIFAR = dict(
    optimizer="sgd", learning_rate=0.1, final_learning_rate=0.01, momentum=0.9, nesterov=False,
    weight_decay=1e-4, batch_size=256, schedule="cosine", warmup_steps=0, iterations=None,
    epochs=150, warmup_epochs=10, prune_fraction=0.2, prune_fraction_conv=None,
    prune_fraction_output=None, allocation="global", optimizer_state="carry",
    input_pipeline="cifar")

#: per data set, what differs from LRR_CIFAR (register_model(..., dataset_defaults=...))
LRR_CIFAR_DATASETS = {"cifar100": dict(weight_decay=1e-3, epochs=160)}
