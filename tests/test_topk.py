"""The one exact-count selection (lottery_core.sparsity.topk) against the three it replaced.

The reference functions below are verbatim copies of the pre-``sparsity`` selections
(``masks._keep_top``, ``pai._scores_to_mask`` + ``_rank_descending``, ``criteria._prune_lowest``
+ ``_aligned_prune``) and counts (``masks.prune_count``, ``criteria.prune_count``,
``pai.kept_count``); every caller's policy must reproduce them bit for bit, ties, ±0, ±inf and
NaN included.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lottery_core import sparsity
from lottery_core.models import prunable_leaves
from lottery_core.sparsity import criteria


# ============================================================================ references (old code)
def old_keep_top(scores: np.ndarray, alive: np.ndarray, keep: int) -> np.ndarray:
    """Boolean array: the ``keep`` highest scores among ``alive`` entries, ties to lower index."""
    flat_scores = np.asarray(scores, dtype=np.float64).ravel()
    flat_alive = np.asarray(alive, dtype=bool).ravel()
    if np.isnan(flat_scores[flat_alive]).any():
        raise ValueError("scores contain NaN for unpruned weights")
    if not 0 <= keep <= int(flat_alive.sum()):
        raise ValueError(f"cannot keep {keep} of {int(flat_alive.sum())} surviving weights")
    candidates = np.flatnonzero(flat_alive)
    # lexsort: last key is primary -> descending score, then ascending index
    order = np.lexsort((candidates, -flat_scores[candidates]))
    result = np.zeros(flat_alive.shape, dtype=bool)
    result[candidates[order[:keep]]] = True
    return result.reshape(np.shape(alive))


def old_masks_prune_count(remaining: int, fraction: float) -> int:
    return int(math.floor(fraction * remaining + 0.5))


def old_kept_count(density: float, size: int) -> int:
    """floor(density · size + 1/2): the exact number of weights a mask keeps."""
    return int(math.floor(density * size + 0.5))


def old_rank_descending(flat_scores):
    """Rank 0 = highest score; ties: earlier index first (stable sort)."""
    order = jnp.argsort(-flat_scores, stable=True)
    return jnp.zeros(flat_scores.shape, jnp.int32).at[order].set(
        jnp.arange(flat_scores.size, dtype=jnp.int32))


@functools.partial(jax.jit, static_argnames=("density", "scope"))
def old_scores_to_mask(scores, params, density: float, *, scope: str = "global", within=None):
    flags = prunable_leaves(params)
    leaves, treedef = jax.tree_util.tree_flatten(scores)
    flag_leaves = treedef.flatten_up_to(flags)
    within_leaves = (treedef.flatten_up_to(within) if within is not None
                     else [None] * len(leaves))

    def masked_scores(s, w):
        s = jnp.asarray(s).reshape(-1)
        return s if w is None else jnp.where(jnp.asarray(w).reshape(-1), s, -jnp.inf)

    prunable = [i for i, f in enumerate(flag_leaves) if f]
    if not prunable:
        raise ValueError("params have no prunable leaves (leaves named 'kernel')")
    out = [jnp.ones(jnp.shape(leaf), bool) for leaf in leaves]
    if scope == "global":
        flat = jnp.concatenate([masked_scores(leaves[i], within_leaves[i]) for i in prunable])
        keep = old_rank_descending(flat) < old_kept_count(density, flat.size)
        offset = 0
        for i in prunable:
            size = int(jnp.size(leaves[i]))
            out[i] = keep[offset:offset + size].reshape(jnp.shape(leaves[i]))
            offset += size
    else:
        for i in prunable:
            flat = masked_scores(leaves[i], within_leaves[i])
            out[i] = (old_rank_descending(flat) < old_kept_count(density, flat.size)).reshape(
                jnp.shape(leaves[i]))
    return jax.tree_util.tree_unflatten(treedef, out)


def old_criteria_prune_count(num_unmasked: int, rate: float) -> int:
    """Weights a round removes from a layer: ``floor(#unmasked · rate)`` (official code)."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"pruning rate must lie in [0, 1), got {rate}")
    return int(np.floor(num_unmasked * rate + 1e-9))


def old_prune_lowest(score, mask, count: int, rng: np.random.Generator):
    """Remove the ``count`` lowest-scoring unmasked entries; ties broken by ``rng``."""
    flat_mask = mask.reshape(-1).copy()
    alive = np.flatnonzero(flat_mask)
    tie_break = rng.random(alive.size)
    values = score.reshape(-1)[alive]
    if 0 < count < alive.size:
        # = lexsort((tie_break, values))[:count] in O(n): everything below the count-th
        # smallest value, then the lowest tie-break keys among the entries equal to it
        threshold = np.partition(values, count - 1)[count - 1]
        if not np.isnan(threshold):
            below = np.flatnonzero(values < threshold)
            equal = np.flatnonzero(values == threshold)
            chosen = equal[np.argsort(tie_break[equal], kind="stable")[:count - below.size]]
            flat_mask[alive[below]] = False
            flat_mask[alive[chosen]] = False
            return flat_mask.reshape(mask.shape)
    order = np.lexsort((tie_break, values))
    flat_mask[alive[order[:count]]] = False
    return flat_mask.reshape(mask.shape)


def old_aligned_prune(score_a, score_b, mask, count: int):
    """Prune the union of the bottom-r sets of two scores, with r chosen so that the union's
    size is as close to ``count`` as possible (the official percentile-alignment search,
    done on integer ranks; the union grows monotonically with r)."""
    alive = np.flatnonzero(mask.reshape(-1))
    rank_a = np.empty(alive.size, dtype=np.int64)
    rank_b = np.empty(alive.size, dtype=np.int64)
    rank_a[np.argsort(score_a.reshape(-1)[alive], kind="stable")] = np.arange(alive.size)
    rank_b[np.argsort(score_b.reshape(-1)[alive], kind="stable")] = np.arange(alive.size)

    def union_size(r: int) -> int:
        return int(np.count_nonzero((rank_a < r) | (rank_b < r)))

    low, high = 0, count  # union_size(count) >= count; find the smallest r reaching count
    while low < high:
        mid = (low + high) // 2
        if union_size(mid) >= count:
            high = mid
        else:
            low = mid + 1
    r = low
    if r > 0 and abs(union_size(r - 1) - count) < abs(union_size(r) - count):
        r -= 1
    pruned = (rank_a < r) | (rank_b < r)
    flat_mask = mask.reshape(-1).copy()
    flat_mask[alive[pruned]] = False
    return flat_mask.reshape(mask.shape)


# ============================================================================ strategies
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, np.inf, -np.inf, 1e-300, -1e300]
finite_value = st.one_of(st.sampled_from([v for v in SPECIAL if np.isfinite(v)]),
                         st.integers(-3, 3).map(float),
                         st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
any_value = st.one_of(finite_value, st.sampled_from([np.inf, -np.inf, np.nan]))


@st.composite
def layer(draw, values=finite_value, max_size=60, sizes=None):
    """(scores, alive) of one layer, often many ties."""
    n = draw(st.sampled_from(sizes)) if sizes else draw(st.integers(1, max_size))
    scores = np.array(draw(st.lists(values, min_size=n, max_size=n)), dtype=np.float64)
    alive = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    shape = draw(st.sampled_from([(n,), (1, n)] + ([(2, n // 2)] if n % 2 == 0 else [])))
    return scores.reshape(shape), alive.reshape(shape)


# ============================================================================ level pruning (masks)
@settings(max_examples=300, deadline=None)
@given(data=layer(), frac=st.floats(0, 1))
def test_keep_policy_equals_old_keep_top(data, frac):
    scores, alive = data
    keep = int(frac * alive.sum())
    new = sparsity.topk_mask(scores, keep, alive=alive, count_of="keep", ties="index",
                             nan="raise")
    np.testing.assert_array_equal(new, old_keep_top(scores, alive, keep))
    assert new.shape == alive.shape and new.dtype == bool


@settings(max_examples=100, deadline=None)
@given(data=layer(values=any_value), keep=st.integers(-1, 70))
def test_keep_policy_raises_like_old_keep_top(data, keep):
    scores, alive = data
    try:
        expected = old_keep_top(scores, alive, keep)
    except ValueError as error:
        message = "NaN" if "NaN" in str(error) else "cannot keep"
        with pytest.raises(ValueError, match=message):
            sparsity.topk_mask(scores, keep, alive=alive, nan="raise")
        return
    np.testing.assert_array_equal(sparsity.topk_mask(scores, keep, alive=alive, nan="raise"),
                                  expected)


@settings(max_examples=150, deadline=None)
@given(a=layer(max_size=30), b=layer(max_size=30), frac=st.floats(0, 1))
def test_pooled_keep_equals_old_global_pooling(a, b, frac):
    """Global allocation: the old prune_global concatenated the layers and called _keep_top."""
    (sa, aa), (sb, ab) = a, b
    pooled_alive = np.concatenate([aa.ravel(), ab.ravel()])
    keep = int(frac * pooled_alive.sum())
    old = old_keep_top(np.concatenate([sa.ravel(), sb.ravel()]), pooled_alive, keep)
    new_a, new_b = sparsity.topk_pooled([sa, sb], keep, alive=[aa, ab], nan="raise")
    np.testing.assert_array_equal(np.concatenate([new_a.ravel(), new_b.ravel()]), old)
    assert new_a.shape == sa.shape and new_b.shape == sb.shape


@settings(max_examples=200, deadline=None)
@given(remaining=st.integers(0, 10**7), fraction=st.floats(0, 1, exclude_max=True))
def test_counts_equal_the_old_counts(remaining, fraction):
    assert sparsity.prune_count(remaining, fraction) == old_masks_prune_count(remaining, fraction)
    assert (sparsity.prune_count(remaining, fraction, rounding="floor")
            == old_criteria_prune_count(remaining, fraction))
    assert sparsity.kept_count(fraction, remaining) == old_kept_count(fraction, remaining)


# ============================================================================ PaI (JAX, jitted)
PAI_SIZES = (1, 5, 12, 24)
_jit_topk = jax.jit(lambda scores, count: sparsity.topk_mask(scores, count))   # traced count


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")   # -1e300 -> -inf
@settings(max_examples=150, deadline=None)
@given(data=layer(values=any_value, sizes=PAI_SIZES), frac=st.floats(0, 1),
       use_within=st.booleans())
def test_pai_policy_equals_old_rank_descending(data, frac, use_within):
    scores, within = data
    scores = jnp.asarray(scores, jnp.float32)
    count = int(frac * scores.size)
    masked = jnp.where(within, scores, -jnp.inf) if use_within else scores
    old = old_rank_descending(masked.reshape(-1)) < count
    new = sparsity.topk_mask(masked, count, count_of="keep", ties="index")
    np.testing.assert_array_equal(np.asarray(new).ravel(), np.asarray(old))
    traced = _jit_topk(masked, jnp.int32(count))
    np.testing.assert_array_equal(np.asarray(traced), np.asarray(new))


def _tree(values, within):
    """A two-layer params tree (kernels 3x4 and 4x2, biases) filled from 24 scores."""
    v = jnp.asarray(values, jnp.float32)
    w = np.asarray(within, bool)
    params = {"a": {"kernel": v[:12].reshape(3, 4), "bias": jnp.ones(4)},
              "b": {"kernel": v[12:].reshape(4, 2), "bias": jnp.ones(2)}}
    mask = {"a": {"kernel": w[:12].reshape(3, 4), "bias": np.ones(4, bool)},
            "b": {"kernel": w[12:].reshape(4, 2), "bias": np.ones(2, bool)}}
    return params, mask


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
@settings(max_examples=60, deadline=None)
@given(values=st.lists(any_value, min_size=20, max_size=20),
       within=st.lists(st.booleans(), min_size=20, max_size=20),
       density=st.sampled_from([0.05, 0.25, 0.5, 0.7, 1.0]),
       scope=st.sampled_from(sparsity.SCOPES), use_within=st.booleans())
def test_scores_to_mask_equals_old_scores_to_mask(values, within, density, scope, use_within):
    scores, mask = _tree(values, within)
    mask = mask if use_within else None
    old = old_scores_to_mask(scores, scores, density, scope=scope, within=mask)
    new = sparsity.scores_to_mask(scores, scores, density, scope=scope, within=mask)
    for o, n in zip(jax.tree_util.tree_leaves(old), jax.tree_util.tree_leaves(new)):
        np.testing.assert_array_equal(np.asarray(n), np.asarray(o))


# ============================================================================ Zhou et al. (criteria)
@settings(max_examples=300, deadline=None)
@given(data=layer(values=any_value), frac=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_prune_policy_equals_old_prune_lowest(data, frac, seed):
    scores, alive = data
    count = int(frac * alive.sum())
    old = old_prune_lowest(scores, alive, count, np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    new = sparsity.topk_mask(scores, count, alive=alive, count_of="prune", ties=rng)
    np.testing.assert_array_equal(new, old)
    # the same draws were consumed: the generators continue identically
    follow = np.random.default_rng(seed)
    follow.random(int(alive.sum()))
    assert rng.random() == follow.random()


@settings(max_examples=200, deadline=None)
@given(data=layer(values=any_value), other=st.randoms(use_true_random=False),
       frac=st.floats(0, 1))
def test_aligned_prune_equals_old(data, other, frac):
    score_a, mask = data
    score_b = np.array([other.choice([0.0, 1.0, -1.0, 2.0, np.nan]) for _ in range(score_a.size)]
                       ).reshape(score_a.shape)
    count = int(frac * mask.sum())
    np.testing.assert_array_equal(criteria._aligned_prune(score_a, score_b, mask, count),
                                  old_aligned_prune(score_a, score_b, mask, count))


def test_linear_time_pruning_equals_the_full_sort_with_ties():
    """The Zhou policy selects by partition; it must remove exactly the entries that a full
    lexsort by (score, seeded tie-break key) removes, ties and NaN included."""
    draw = np.random.default_rng(0)
    for trial in range(200):
        n = int(draw.integers(1, 60))
        score = draw.integers(0, 4, n).astype(float) if trial % 2 else draw.normal(size=n)
        if trial % 7 == 0:
            score[draw.integers(0, n)] = np.nan
        mask = draw.random(n) < 0.7
        count = int(draw.integers(0, mask.sum() + 1))
        alive = np.flatnonzero(mask)
        tie_break = np.random.default_rng(trial).random(alive.size)
        expected = mask.copy()
        expected[alive[np.lexsort((tie_break, score[alive]))[:count]]] = False
        got = sparsity.topk_mask(score, count, alive=mask, count_of="prune",
                                 ties=np.random.default_rng(trial))
        np.testing.assert_array_equal(got, expected)
        assert got.sum() == mask.sum() - count


# ============================================================================ one order, two backends
@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
@settings(max_examples=150, deadline=None)
@given(data=layer(values=any_value, sizes=PAI_SIZES), frac=st.floats(0, 1),
       count_of=st.sampled_from(sparsity.COUNT_OF))
def test_numpy_and_jax_backends_agree(data, frac, count_of):
    scores, alive = data
    scores = scores.astype(np.float32)        # the JAX backend runs in float32 ...
    tiny = np.finfo(np.float32).tiny          # ... and XLA:CPU flushes subnormals to zero
    scores = np.where(np.abs(scores) < tiny, np.float32(0), scores)
    count = int(frac * alive.sum())
    host = sparsity.topk_mask(scores, count, alive=alive, count_of=count_of)
    device = sparsity.topk_mask(jnp.asarray(scores), count, alive=jnp.asarray(alive),
                                count_of=count_of)
    np.testing.assert_array_equal(np.asarray(device), host)
    np.testing.assert_array_equal(
        np.asarray(sparsity.ranks(jnp.asarray(scores), alive=jnp.asarray(alive),
                                  count_of=count_of)),
        sparsity.ranks(scores, alive=alive, count_of=count_of))


@settings(max_examples=150, deadline=None)
@given(data=layer(values=any_value), frac=st.floats(0, 1), seed=st.integers(0, 1000),
       count_of=st.sampled_from(sparsity.COUNT_OF))
def test_topk_is_ranks_below_count(data, frac, seed, count_of):
    """The O(n) partition path selects exactly the entries ranked below the count."""
    scores, alive = data
    count = int(frac * alive.sum())
    for ties in ("index", seed):
        policy = ties if ties == "index" else np.random.default_rng(ties)
        kept = sparsity.topk_mask(scores, count, alive=alive, count_of=count_of, ties=policy)
        policy = ties if ties == "index" else np.random.default_rng(ties)
        selected = sparsity.ranks(scores, alive=alive, count_of=count_of, ties=policy) < count
        assert not np.any(selected & ~alive)
        np.testing.assert_array_equal(kept, selected if count_of == "keep" else alive & ~selected)
        assert kept.sum() == (count if count_of == "keep" else alive.sum() - count)


def test_policies_are_checked():
    scores = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match="count_of"):
        sparsity.topk_mask(scores, 1, count_of="drop")
    with pytest.raises(ValueError, match="ties"):
        sparsity.topk_mask(scores, 1, ties="random")
    with pytest.raises(ValueError, match="index ties"):
        sparsity.topk_mask(jnp.asarray(scores), 1, ties=np.random.default_rng(0))
    with pytest.raises(ValueError, match="cannot prune 3 of 2"):
        sparsity.topk_mask(scores, 3, count_of="prune")
    with pytest.raises(ValueError, match="rounding"):
        sparsity.prune_count(10, 0.5, rounding="ceil")
