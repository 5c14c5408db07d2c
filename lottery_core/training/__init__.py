"""Training: the Trainer and its one step (trainer), optimizers and schedules (optim), the
batch order (batches), data parallelism over devices (sharding), the on-device CIFAR input
pipeline (augment) and PILoT's m ⊙ w loss as Trainer hooks (pilot)."""

from lottery_core.training.batches import epoch_batches
from lottery_core.training.optim import make_optimizer, make_schedule
from lottery_core.training.trainer import (Trainer, TrainState, cross_entropy_loss,
                                           default_step_loop, mask_gradients, mask_params,
                                           unmasked)

__all__ = ["Trainer", "TrainState", "cross_entropy_loss", "default_step_loop", "epoch_batches",
           "make_optimizer", "make_schedule", "mask_gradients", "mask_params", "unmasked"]
