"""The order of training examples: one fresh permutation per epoch, a function of the step."""

from __future__ import annotations

import numpy as np


def epoch_batches(seed_sequence: tuple[int, ...], n_examples: int, batch_size: int,
                  first_step: int, n_steps: int):
    """Indices ``[n_steps, batch_size]`` of steps ``first_step .. first_step+n_steps-1``.

    Step ``s`` belongs to epoch ``s // (n_examples // batch_size)``; each epoch is a fresh
    permutation from ``numpy.random.default_rng((*seed_sequence, epoch))`` with the last
    partial batch dropped. Depending only on the step, the order is the same after a resume."""
    per_epoch = n_examples // batch_size
    if per_epoch < 1:
        raise ValueError(f"batch size {batch_size} exceeds the {n_examples} training examples")
    rows, cache = [], {}
    for step in range(first_step, first_step + n_steps):
        epoch, position = divmod(step, per_epoch)
        if epoch not in cache:
            cache = {epoch: np.random.default_rng((*seed_sequence, epoch)).permutation(
                n_examples)}
        rows.append(cache[epoch][position * batch_size:(position + 1) * batch_size])
    return np.asarray(rows, dtype=np.int32).reshape(n_steps, batch_size)
