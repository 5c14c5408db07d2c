"""Exact-count selection: the one top-k behind every mask of the toolkit.

Pruning is scores -> per-layer counts (:mod:`.allocation`) -> this. Among the *alive* entries
of one array (a layer, or several layers pooled), order

1. by score: descending when ``count`` weights are kept (``count_of="keep"``), ascending when
   ``count`` weights are pruned (``count_of="prune"``); NaN comes after every number;
2. by tie key: none (``ties="index"``), or one U[0, 1) draw per alive entry in flat order from a
   ``numpy.random.Generator`` (``ties=rng``: the seeded tie-break of Zhou et al.'s official
   ``np.lexsort((rand, score))``, spec zhou.md §3 [C]);
3. by flat index (row-major), lower first.

The first ``count`` entries of that order are kept (``count_of="keep"``) or pruned
(``count_of="prune"``); dead entries stay dead. The count is exact whatever the ties
(OpenLTH's ``>`` threshold can remove one weight too many on ties; not copied [R]).

The policies of the callers:

* level pruning and random masks (:mod:`.masks`): keep ``n − round_half_up(f·n)``, index ties
  (among equal scores the lower index is kept);
* pruning at initialization (``scores_to_mask``, SynFlow rounds): keep ``round_half_up(d·P)``
  of all P entries, index ties, weights already pruned scored −inf by the caller;
* given counts per group of layers (``keep_counts``: the PaI level methods, random masks with
  counts): keep the count, index ties;
* Zhou et al. criteria (:mod:`.criteria`): prune ``floor(rate·n)``, seeded random ties.

Two backends, one order: numpy input runs on the host in float64 (O(n) by ``np.partition``,
with ``nan="raise"`` and the count checked); JAX arrays and tracers run ``ranks < count`` from a
stable argsort (jit/vmap-able, ``count`` may be traced; index ties only). They agree on the same
values, except that XLA:CPU compares float32 subnormals as 0 (flush to zero).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

COUNT_OF = ("keep", "prune")


def _check_policy(count_of: str, nan: str) -> None:
    if count_of not in COUNT_OF:
        raise ValueError(f"count_of must be one of {COUNT_OF}, got {count_of!r}")
    if nan not in ("last", "raise"):
        raise ValueError(f"nan must be 'last' or 'raise', got {nan!r}")


def _is_jax(array) -> bool:
    return isinstance(array, jax.Array)


def _tie_keys(ties, n_alive: int):
    """``None`` for index order, else ``ties.random(n_alive)`` (drawn whatever the count)."""
    if isinstance(ties, str) and ties == "index":
        return None
    if isinstance(ties, np.random.Generator):
        return ties.random(n_alive)
    raise ValueError(f"ties must be 'index' or a numpy.random.Generator, got {ties!r}")


def _order_key(scores, count_of: str):
    """Ascending sort key of the selection order (step 1): −score to keep, score to prune."""
    return -scores if count_of == "keep" else scores


# ----------------------------------------------------------------------------- ranks
def ranks(scores, *, alive=None, count_of: str = "keep", ties="index"):
    """Position of every entry in the selection order (0 = selected first), shaped like
    ``scores``; dead entries (``alive`` False) get ``scores.size``. ``topk_mask`` selects the
    entries with rank < count."""
    _check_policy(count_of, "last")
    shape = np.shape(scores)
    if _is_jax(scores):
        if not (isinstance(ties, str) and ties == "index"):
            raise ValueError("JAX scores support index ties only (ties='index')")
        flat = _order_key(jnp.ravel(scores), count_of)
        order = jnp.argsort(flat, stable=True)
        if alive is not None:       # alive first, each part in score order (two stable sorts)
            dead = ~jnp.ravel(jnp.asarray(alive, bool))
            order = order[jnp.argsort(dead[order], stable=True)]
        out = jnp.zeros(flat.shape, jnp.int32).at[order].set(
            jnp.arange(flat.size, dtype=jnp.int32))
        if alive is not None:
            out = jnp.where(dead, flat.size, out)
        return out.reshape(shape)
    flat = _order_key(np.asarray(scores, np.float64).ravel(), count_of)
    flat_alive = (np.ones(flat.shape, bool) if alive is None
                  else np.asarray(alive, bool).ravel())
    candidates = np.flatnonzero(flat_alive)
    tie = _tie_keys(ties, candidates.size)
    values = flat[candidates]
    order = (np.argsort(values, kind="stable") if tie is None else np.lexsort((tie, values)))
    out = np.full(flat.shape, flat.size, np.int64)
    out[candidates[order]] = np.arange(candidates.size)
    return out.reshape(shape)


# ----------------------------------------------------------------------------- top-k
def topk_mask(scores, count, *, alive=None, count_of: str = "keep", ties="index",
              nan: str = "last"):
    """The kept mask after selecting the first ``count`` alive entries of the selection order
    (module docstring): those entries if ``count_of="keep"``, the other alive entries if
    ``count_of="prune"``. ``alive=None``: every entry is alive. ``nan="raise"``: NaN scores of
    alive entries are an error (numpy input only)."""
    _check_policy(count_of, nan)
    if _is_jax(scores):
        if nan != "last":
            raise ValueError("JAX scores support nan='last' only")
        selected = ranks(scores, alive=alive, count_of=count_of, ties=ties) < count
        if count_of == "keep":
            return selected
        return ~selected if alive is None else jnp.asarray(alive, bool) & ~selected
    shape = np.shape(scores)
    raw = np.asarray(scores, np.float64).ravel()
    flat_alive = np.ones(raw.shape, bool) if alive is None else np.asarray(alive, bool).ravel()
    if nan == "raise" and np.isnan(raw[flat_alive]).any():
        raise ValueError("scores contain NaN for unpruned weights")
    n_alive = int(flat_alive.sum())
    if not 0 <= count <= n_alive:
        raise ValueError(f"cannot {count_of} {count} of {n_alive} surviving weights")
    candidates = np.flatnonzero(flat_alive)
    tie = _tie_keys(ties, candidates.size)
    values = _order_key(raw, count_of)[candidates]
    chosen = _first(values, int(count), tie)
    selected = np.zeros(raw.shape, bool)
    selected[candidates[chosen]] = True
    kept = selected if count_of == "keep" else flat_alive & ~selected
    return kept.reshape(shape)


def _first(values: np.ndarray, count: int, tie) -> np.ndarray:
    """Positions of the first ``count`` entries ordered by (value, tie, position), NaN last:
    ``lexsort((tie, values))[:count]`` in O(n) — everything below the count-th smallest value,
    then the entries equal to it in (tie, position) order."""
    if 0 < count < values.size:
        threshold = np.partition(values, count - 1)[count - 1]
        if not np.isnan(threshold):
            below = np.flatnonzero(values < threshold)
            equal = np.flatnonzero(values == threshold)
            if tie is not None:
                equal = equal[np.argsort(tie[equal], kind="stable")]
            return np.concatenate([below, equal[:count - below.size]])
    order = np.argsort(values, kind="stable") if tie is None else np.lexsort((tie, values))
    return order[:count]


def topk_pooled(scores: Sequence, count, *, alive: Sequence | None = None, **policy) -> list:
    """:func:`topk_mask` over several arrays pooled (flattened and concatenated in order):
    one exact count across layers (global allocation). Returns one mask per array."""
    xp = jnp if any(_is_jax(s) for s in scores) else np
    dtype = None if xp is jnp else np.float64
    flat = xp.concatenate([xp.ravel(xp.asarray(s, dtype)) for s in scores])
    flat_alive = None if alive is None else xp.concatenate(
        [xp.ravel(xp.asarray(a, bool)) for a in alive])
    kept = topk_mask(flat, count, alive=flat_alive, **policy)
    out, start = [], 0
    for s in scores:
        size = int(np.size(s))
        out.append(kept[start:start + size].reshape(np.shape(s)))
        start += size
    return out
