"""Experiment identity: a frozen config, its canonical JSON, its hash and its run directory.

OpenLTH's scheme (DESIGN.md): the run directory ``OUT/<method>-<hash>/`` is named by the hash of
the config's *resolved, non-default* fields, so adding a field with a default later keeps old
hashes valid. Fields that say *how much* to run rather than *what* (``levels``, ``seeds``,
``first_seed``) and the method itself (it is in the folder name) are not hashed: a run can be
extended with more levels or seeds, and IMP / LRR / random pruning with the same
hyperparameters share one hash, which is how ``lottery plot`` pairs them.

Model defaults (``MODEL_DEFAULTS``) fill every field left ``None``; LeNet-300-100 follows
Frankle & Carbin 2019 / Zhou et al. 2019 (zhou.md §2.3 [C]): Adam 1.2e-3, batch 60, 50,000
iterations, 20% per level with 10% on the output layer. Other issues add their models with
:func:`register_defaults`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from lottery_core.checkpoint import atomic_write_json, read_json

#: fields that do not enter the hash
UNHASHED = ("method", "levels", "seeds", "first_seed")

BASE_DEFAULTS: dict[str, Any] = dict(
    optimizer="adam", learning_rate=1e-3, momentum=0.0, nesterov=False, weight_decay=0.0,
    schedule="constant", warmup_steps=0, milestones=(), gamma=0.1, batch_size=128,
    iterations=10000, prune_fraction=0.2, prune_fraction_conv=None,
    prune_fraction_output=None, allocation="layerwise")

MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    # Frankle & Carbin 2019 Fig. 2; Zhou et al. 2019 print_train_command.sh [C]
    "lenet300": dict(optimizer="adam", learning_rate=1.2e-3, batch_size=60, iterations=50000,
                     prune_fraction=0.2, prune_fraction_output=0.1),
    "mlp": dict(optimizer="adam", learning_rate=1.2e-3, batch_size=60, iterations=50000,
                prune_fraction=0.2, prune_fraction_output=0.1),
    "conv2": dict(optimizer="adam", learning_rate=2e-4, batch_size=60, iterations=20000,
                  prune_fraction=0.2, prune_fraction_conv=0.1, prune_fraction_output=0.1),
    "conv4": dict(optimizer="adam", learning_rate=3e-4, batch_size=60, iterations=25000,
                  prune_fraction=0.2, prune_fraction_conv=0.1, prune_fraction_output=0.1),
    "conv6": dict(optimizer="adam", learning_rate=3e-4, batch_size=60, iterations=30000,
                  prune_fraction=0.2, prune_fraction_conv=0.15, prune_fraction_output=0.1),
}

METHOD_NAMES_HINT = "imp, wr, lrr, finetune, random-prune"


def register_defaults(model: str, **defaults) -> None:
    """Register per-model default hyperparameters (keys are :class:`ExperimentConfig` fields)."""
    unknown = set(defaults) - {f.name for f in dataclasses.fields(ExperimentConfig)}
    if unknown:
        raise ValueError(f"unknown config fields {sorted(unknown)}")
    MODEL_DEFAULTS[model] = dict(defaults)


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """One pruning experiment. ``None`` means "the model's default" (see ``MODEL_DEFAULTS``).

    Training length per level: ``iterations`` steps, or ``epochs`` full passes over the
    training split (give one). Pruning: each level removes ``prune_fraction`` of the remaining
    weights of each layer (``prune_fraction_conv`` for conv kernels and
    ``prune_fraction_output`` for the output kernel where set); ``allocation='global'`` pools
    all layers instead. ``rewind_step`` is k of weight rewinding (WR). ``model_options`` are
    keyword arguments of the model builder (e.g. ``{"widths": [100]}`` for ``mlp``)."""

    method: str = "imp"
    model: str = "lenet300"
    model_options: dict | None = None
    dataset: str = "mnist"
    optimizer: str | None = None
    learning_rate: float | None = None
    momentum: float | None = None
    nesterov: bool | None = None
    weight_decay: float | None = None
    schedule: str | None = None
    warmup_steps: int | None = None
    milestones: tuple[float, ...] | None = None
    gamma: float | None = None
    batch_size: int | None = None
    iterations: int | None = None
    epochs: int | None = None
    prune_fraction: float | None = None
    prune_fraction_conv: float | None = None
    prune_fraction_output: float | None = None
    allocation: str | None = None
    rewind_step: int = 0
    eval_every: int | None = None
    validation_size: int = 5000
    split_seed: int = 0
    train_subset: int | None = None
    levels: int = 12
    seeds: int = 3
    first_seed: int = 0
    criterion: str | None = None      # Zhou et al. mask criterion (sparsity/criteria.py)
    mask1: str = "rewind"             # Zhou et al. mask-1 action (sparsity/mask_actions.py)
    mask1_rescale: bool = False       # the *_rescaling variants of the mask-1 actions
    mask0: str = "zero"               # Zhou et al. mask-0 action
    # The LRR paper's recipe (lottery_core/lrr_recipe.py, spec lrr.md §2.2). None = off, so
    # these fields leave the hashes of older configs unchanged.
    final_learning_rate: float | None = None   # cosine ends here (lr_min); None: 0
    warmup_epochs: int | None = None           # dense warmup before level 0; its end is "init"
    optimizer_state: str | None = None         # "fresh" (None) or "carry" (see levels.py)
    input_pipeline: str | None = None          # None: raw [0,1] pixels; "cifar": normalize+crop+flip
    sign_perturbation: float | None = None     # p: flip signs of a Bernoulli(p) share ...
    sign_perturbation_every: int | None = None  # ... at the start of epochs e, e mod k = k-1

    def resolved(self) -> "ExperimentConfig":
        """Fill ``None`` fields from the model's defaults (then the base defaults)."""
        defaults = {**BASE_DEFAULTS, **MODEL_DEFAULTS.get(self.model, {})}
        values = {}
        for name, default in defaults.items():
            if getattr(self, name) is None:
                values[name] = default
        if self.epochs is not None and self.iterations is None:
            values["iterations"] = None       # the epochs decide
        if self.iterations is not None and self.epochs is None:
            values.pop("epochs", None)        # the iterations decide (over a model's epochs)
        if values.get("milestones") is not None:
            values["milestones"] = tuple(values["milestones"])
        resolved = dataclasses.replace(self, **values)
        if resolved.milestones is not None and not isinstance(resolved.milestones, tuple):
            resolved = dataclasses.replace(resolved, milestones=tuple(resolved.milestones))
        if resolved.eval_every is None:
            resolved = dataclasses.replace(resolved, eval_every=0)
        return resolved

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and what is allowed."""
        from lottery_core.data import DATASETS
        from lottery_core.levels import METHODS
        from lottery_core.models import available_models

        c = self.resolved()
        if c.method not in METHODS:
            raise ValueError(f"unknown method {c.method!r}; available: {', '.join(METHODS)}")
        if c.model not in available_models():
            raise ValueError(f"unknown model {c.model!r}; available: "
                             f"{', '.join(available_models())}")
        if c.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {c.dataset!r}; available: {', '.join(DATASETS)}")
        for name in ("prune_fraction", "prune_fraction_conv", "prune_fraction_output"):
            value = getattr(c, name)
            if value is not None and not (0.0 <= value < 1.0):
                raise ValueError(f"{name} (sparsity removed per level) must be in [0, 1), "
                                 f"got {value}")
        if c.iterations is not None and c.epochs is not None:
            raise ValueError("give either iterations or epochs, not both")
        if c.iterations is None and c.epochs is None:
            raise ValueError("the training length is unset: give iterations or epochs")
        for name, low in (("iterations", 1), ("epochs", 1), ("batch_size", 1), ("levels", 0),
                          ("seeds", 1), ("first_seed", 0), ("rewind_step", 0),
                          ("eval_every", 0), ("validation_size", 0), ("warmup_steps", 0)):
            value = getattr(c, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value < low):
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if c.iterations is not None and c.rewind_step >= c.iterations:
            raise ValueError(f"rewind_step must be below iterations ({c.iterations}), "
                             f"got {c.rewind_step}")
        if c.allocation not in ("layerwise", "global"):
            raise ValueError(f"allocation must be layerwise or global, got {c.allocation!r}")
        if c.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be sgd or adam, got {c.optimizer!r}")
        if c.schedule not in ("constant", "step", "cosine"):
            raise ValueError(f"schedule must be constant, step or cosine, got {c.schedule!r}")
        if not (c.learning_rate > 0 and math.isfinite(c.learning_rate)):
            raise ValueError(f"learning_rate must be positive, got {c.learning_rate}")
        from lottery_core import deconstruct, lrr_recipe

        deconstruct.validate(c)
        lrr_recipe.validate(c)

    def identity(self) -> dict[str, Any]:
        """The hashed fields: resolved values that differ from the dataclass defaults."""
        resolved = self.resolved()
        out = {}
        for field in dataclasses.fields(self):
            if field.name in UNHASHED:
                continue
            value = getattr(resolved, field.name)
            if value != field.default:
                out[field.name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ExperimentConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; allowed: "
                             f"{', '.join(sorted(names))}")
        values = dict(values)
        if isinstance(values.get("milestones"), list):
            values["milestones"] = tuple(values["milestones"])
        return cls(**values)


def load_data_and_model(cfg: "ExperimentConfig", data_dir=None, dataset=None):
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


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(config: ExperimentConfig) -> str:
    """First 12 hex digits of SHA-256 of the canonical JSON of :meth:`identity`."""
    return hashlib.sha256(canonical_json(config.identity()).encode()).hexdigest()[:12]


def run_directory(out: Path, config: ExperimentConfig) -> Path:
    return Path(out) / f"{config.method}-{config_hash(config)}"


def open_run_directory(out: Path, config: ExperimentConfig) -> Path:
    """Create ``OUT/<method>-<hash>/config.json`` or check that the existing one describes the
    same experiment (refusing to mix results of different configs)."""
    run_dir = run_directory(out, config)
    record = {"method": config.method, "hash": config_hash(config),
              "identity": config.identity(),
              "resolved": {k: v for k, v in config.resolved().to_dict().items()
                           if k not in UNHASHED}}
    path = run_dir / "config.json"
    if path.exists():
        existing = read_json(path)
        if existing.get("identity") != record["identity"] or existing.get("method") != \
                config.method:
            raise ValueError(f"{path} describes a different experiment; refusing to overwrite "
                             f"(remove the folder or choose another --out)")
    else:
        atomic_write_json(path, record)
    return run_dir


def level_directory(run_dir: Path, seed: int, level: int) -> Path:
    return Path(run_dir) / f"seed_{seed}" / f"level_{level}"


def collect_results(runs_dir: Path) -> list[dict]:
    """Every finished level under ``runs_dir``: the ``metrics.json`` records plus method/hash."""
    records = []
    for config_path in sorted(Path(runs_dir).glob("*/config.json")):
        meta = read_json(config_path)
        for metrics_path in sorted(config_path.parent.glob("seed_*/level_*/metrics.json")):
            record = read_json(metrics_path)
            record.setdefault("method", meta["method"])
            record["hash"] = meta["hash"]
            record["run"] = config_path.parent.name
            records.append(record)
    return records


from lottery_core import cifar_defaults  # noqa: E402,F401  (registers the CIFAR models' defaults)
