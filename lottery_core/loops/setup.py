"""What every runner sets up first: the data set and the model built for it."""

from __future__ import annotations

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
