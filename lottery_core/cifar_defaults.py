"""Default hyperparameters of the CIFAR models: the LRR paper's recipe (spec lrr.md §2.2).

From the authors' code ``AdvaitGadhikar/imp-lrr-lts`` (``args.py`` and
``configs/large/resnet18-cifar-str-1.yaml``) [C]: SGD lr 0.1, momentum 0.9, no Nesterov,
batch 256, weight decay 1e-4 (CIFAR-10 config), cosine from 0.1 to lr_min = 0.01 in every
level, 10 warmup epochs (linear ramp per epoch) whose end is the rewind point, global magnitude
pruning of every conv/linear kernel at 20% of the remaining weights per level, BN never pruned,
optimizer state carried (LRR) or rewound with the weights (WR), RandomCrop(32, 4) + flip +
per-channel normalization. Epochs per level: 150, the group's CIFAR launcher (the spec's
"use 150 for CIFAR unless the appendix says otherwise") [C]/[S].

Kept free of heavy imports: ``lottery_core.experiment`` imports it.
"""

from __future__ import annotations

from lottery_core.experiment import register_defaults

LRR_RECIPE = dict(
    optimizer="sgd", learning_rate=0.1, final_learning_rate=0.01, momentum=0.9, nesterov=False,
    weight_decay=1e-4, batch_size=256, schedule="cosine", warmup_steps=0, iterations=None,
    epochs=150, warmup_epochs=10, prune_fraction=0.2, prune_fraction_conv=None,
    prune_fraction_output=None, allocation="global", optimizer_state="carry",
    input_pipeline="cifar")

CIFAR_MODELS = ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet_cifar",
                "resnet18", "resnet34", "vgg11", "vgg13", "vgg16", "vgg19")

for _model in CIFAR_MODELS:
    register_defaults(_model, **LRR_RECIPE)
