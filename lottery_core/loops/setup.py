"""What both runners (the level loop and the one-shot runs) set up first, in one place.

The data set and the model built for it (:func:`load_data_and_model`), the steps of an epoch
(:func:`steps_per_epoch`), the specification a runner's Trainer is built from and cached by
(:class:`TrainerSpec`: equal specs share one Trainer, hence one set of compiled functions),
and the data placed on the Trainer's devices once (:func:`device_data`).
"""

from __future__ import annotations

import dataclasses
import json

from lottery_core.config import ExperimentConfig


def load_data_and_model(cfg: ExperimentConfig, data_dir=None, dataset=None):
    """``(dataset, model)`` of a resolved config: the data set (loaded unless ``dataset`` is
    given) and the model built for its input shape and number of classes."""
    from lottery_core.data import load_dataset
    from lottery_core.models import get_model

    if dataset is None:
        dataset = load_dataset(cfg.dataset, data_dir, validation_size=cfg.validation_size,
                               split_seed=cfg.split_seed, train_subset=cfg.train_subset)
    model = get_model(cfg.model, input_shape=dataset.input_shape,
                      num_classes=dataset.num_classes, **(cfg.model_options or {}))
    return dataset, model


def steps_per_epoch(dataset, batch_size: int) -> int:
    """Full batches in one pass over the training split (the last partial batch is dropped,
    :func:`training.epoch_batches`); ``ValueError`` when not even one fits."""
    n_train = len(dataset.x_train)
    per_epoch = n_train // batch_size
    if per_epoch < 1:
        raise ValueError(f"batch_size {batch_size} exceeds the {n_train} training examples")
    return per_epoch


@dataclasses.dataclass(frozen=True)
class TrainerSpec:
    """Everything a runner's Trainer is built from (its builder's only input): the config
    fields the Trainer depends on as canonical JSON (each runner decides which), the data's
    shapes, the steps per run and per epoch, and the number of devices. Hashable, so the
    builders cache on it: a second run of the same setup in a process does not recompile."""

    config: str
    input_shape: tuple
    num_classes: int
    total_steps: int
    steps_per_epoch: int
    devices: int

    def config_and_model(self):
        """``(ExperimentConfig, Model)`` described by the spec (the model built for the data's
        shapes, as :func:`load_data_and_model` builds it)."""
        from lottery_core.models import get_model

        cfg = ExperimentConfig.from_dict(json.loads(self.config))
        return cfg, get_model(cfg.model, input_shape=self.input_shape,
                              num_classes=self.num_classes, **(cfg.model_options or {}))


def device_data(trainer, dataset) -> tuple:
    """``(x_train, y_train, {"val": (x, y), "test": (x, y)})`` placed on ``trainer``'s devices
    once, for every step and evaluation of the run; no ``"val"`` without validation examples
    (``validation_size`` 0: training on the whole training set)."""
    x_train, y_train = trainer.put((dataset.x_train, dataset.y_train))
    eval_sets = {"val": trainer.put((dataset.x_val, dataset.y_val))} if len(dataset.y_val) \
        else {}
    eval_sets["test"] = trainer.put((dataset.x_test, dataset.y_test))
    return x_train, y_train, eval_sets
