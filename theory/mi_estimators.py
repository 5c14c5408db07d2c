"""Estimators and bounds of the mask-data information I(m; D) (spec ``nofreeprune.md`` §6) [R].

Masks are boolean arrays whose last axis runs over the P prunable coordinates. Information
is in nats. The methods (all derived for the spec, not taken from the paper):

1. exact zero: a pipeline whose masks are identical across data sets (W0 fixed) carries
   I(m; D) = 0 (:func:`is_data_independent`);
2. plug-in upper estimate Σ_j h(p̂_j) of Σ_j H(m_j | W0) >= I(m; D), with Miller-Madow
   correction (:func:`plugin_information_upper`);
3. the conditional-entropy form Σ_j [h(p̄_j) - mean_a h(p_j(D_a))] for K data sets × R inits
   (:func:`conditional_entropy_information`);
4. Fano's lower bound (1 - P_e) log K - log 2 from decoding the data-set index
   (:func:`fano_lower_bound`, :func:`nearest_centroid_decoding_error`);
5. exact mutual information of an enumerable joint law (:func:`mutual_information`,
   :func:`mask_data_joint`).
"""

from __future__ import annotations

import math
from typing import Hashable, Sequence

import numpy as np


def _masks(name: str, masks, ndim: int) -> np.ndarray:
    arr = np.asarray(masks)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} axes, got shape {arr.shape}")
    if arr.dtype != bool:
        if not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"{name} must be boolean (or 0/1), got values outside {{0, 1}}")
        arr = arr.astype(bool)
    if 0 in arr.shape:
        raise ValueError(f"{name} must be non-empty, got shape {arr.shape}")
    return arr


def binary_entropy(p) -> np.ndarray:
    """h(p) = -p log p - (1-p) log(1-p) in nats, elementwise, with 0 log 0 = 0."""
    p = np.asarray(p, dtype=np.float64)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("binary_entropy needs probabilities in [0, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(p > 0, p * np.log(p), 0.0) + np.where(p < 1, (1 - p) * np.log1p(-p), 0.0))
    return h


def is_data_independent(masks_per_dataset) -> bool:
    """True iff the K masks (shape (K, P)), one per data set with W0 and algorithm seed
    fixed, are identical: then the pipeline's mask is a function of (W0, U) alone and
    I(m; D) = 0 exactly (spec §6.1)."""
    masks = _masks("masks_per_dataset", masks_per_dataset, 2)
    return bool(np.all(masks == masks[:1]))


def plugin_information_upper(masks_per_dataset, *, miller_madow: bool = True) -> float:
    """Σ_j h(p̂_j), p̂_j = (1/K) Σ_a m_j^(a), masks of shape (K, P) with W0 fixed (spec §6.3).

    Estimates Σ_j H(m_j | W0), an upper bound on I(m; D). The plug-in entropy is biased low;
    the Miller-Madow correction adds (#non-empty bins - 1) / (2K) per coordinate, i.e.
    1/(2K) for every coordinate that is not constant across the K data sets.
    """
    masks = _masks("masks_per_dataset", masks_per_dataset, 2)
    K = masks.shape[0]
    p_hat = masks.mean(axis=0)
    value = float(np.sum(binary_entropy(p_hat)))
    if miller_madow:
        varying = np.count_nonzero((p_hat > 0) & (p_hat < 1))
        value += varying / (2.0 * K)
    return value


def plugin_ceiling(P: int, s: int, K: int, *, miller_madow: bool = True) -> float:
    """The largest value :func:`plugin_information_upper` can take for K masks that each keep
    exactly s of P coordinates: Σ_j h(p̂_j) <= P h(s/P) by concavity of h (the p̂_j average to
    s/P), and Miller-Madow adds at most P/(2K). A ratio of two plug-in estimates is therefore
    at least Î_A / plugin_ceiling, whatever the second pipeline does [R]."""
    for name, value, low in (("P", P, 1), ("s", s, 0), ("K", K, 1)):
        if isinstance(value, bool) or int(value) != value or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if s > P:
        raise ValueError(f"s must be <= P, got s={s}, P={P}")
    value = float(P * binary_entropy(s / P))
    return value + (P / (2.0 * K) if miller_madow and 0 < s < P else 0.0)


def conditional_entropy_information(masks) -> float:
    """Σ_j [ h(p̄_j) - (1/K) Σ_a h(p_j(D_a)) ] for masks of shape (K, R, P) (spec §6.4).

    Axis 0: K data sets; axis 1: R initialisation seeds; p_j(D_a) = mean over seeds and
    p̄_j = mean over data sets. The sum of per-coordinate mutual informations I(m_j; D):
    it upper-bounds I(m; D) when coordinates are conditionally independent given D and is a
    heuristic otherwise. Non-negative by concavity of h.
    """
    masks = _masks("masks", masks, 3)
    p_given_data = masks.mean(axis=1)           # (K, P)
    p_bar = p_given_data.mean(axis=0)           # (P,)
    return float(np.sum(binary_entropy(p_bar) - binary_entropy(p_given_data).mean(axis=0)))


def fano_lower_bound(error_rate, num_datasets: int) -> float:
    """I(m; D) >= (1 - P_e) log K - log 2 for D uniform on K candidates (spec §6.5).

    Returns max(0, ·), which is still a valid lower bound since I >= 0.
    """
    error_rate = float(error_rate)
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError(f"error_rate must lie in [0, 1], got {error_rate!r}")
    if isinstance(num_datasets, bool) or int(num_datasets) != num_datasets or num_datasets < 2:
        raise ValueError(f"num_datasets must be an integer >= 2, got {num_datasets!r}")
    return max(0.0, (1.0 - error_rate) * math.log(num_datasets) - math.log(2.0))


def nearest_centroid_decoding_error(train_masks, train_labels, test_masks, test_labels) -> float:
    """Held-out error of a nearest-centroid decoder of the data-set index from the mask.

    ``train_masks``/``test_masks``: (N, P) masks from independent runs (fresh inits), with
    the index of the data set each run used. Ties go to the smallest label. The error
    rate feeds :func:`fano_lower_bound`.
    """
    train = _masks("train_masks", train_masks, 2).astype(np.float64)
    test = _masks("test_masks", test_masks, 2).astype(np.float64)
    train_labels = np.asarray(train_labels)
    test_labels = np.asarray(test_labels)
    if train_labels.shape != (train.shape[0],) or test_labels.shape != (test.shape[0],):
        raise ValueError("labels must be 1-d with one entry per mask")
    classes = np.unique(train_labels)
    centroids = np.stack([train[train_labels == c].mean(axis=0) for c in classes])
    distances = ((test[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=-1)
    predicted = classes[np.argmin(distances, axis=1)]
    return float(np.mean(predicted != test_labels))


def mutual_information(joint) -> float:
    """Exact I(X; Y) = Σ p(x, y) log( p(x, y) / (p(x) p(y)) ) of a 2-d joint probability table."""
    joint = np.asarray(joint, dtype=np.float64)
    if joint.ndim != 2 or np.any(joint < 0) or not math.isclose(joint.sum(), 1.0, abs_tol=1e-9):
        raise ValueError("joint must be a 2-d table of non-negative probabilities summing to 1")
    px = joint.sum(axis=1, keepdims=True)
    py = joint.sum(axis=0, keepdims=True)
    positive = joint > 0
    return float(np.sum(joint[positive] * np.log(joint[positive] / (px @ py)[positive])))


def mask_data_joint(mask_distributions: Sequence[dict[Hashable, float]],
                    dataset_probabilities) -> tuple[np.ndarray, list[Hashable]]:
    """The exact joint table P(m, D) of an enumerable pruning problem.

    ``mask_distributions[a]`` maps each mask (any hashable, e.g. a tuple of bools) to its
    probability given data set a (one entry with probability 1 for a deterministic
    pipeline); ``dataset_probabilities[a]`` = P(D = D_a). Returns the table of shape
    (number of distinct masks, K) and the masks in row order.
    """
    probs = np.asarray(dataset_probabilities, dtype=np.float64)
    if probs.ndim != 1 or len(probs) != len(mask_distributions):
        raise ValueError("one mask distribution per data set is needed")
    if np.any(probs < 0) or not math.isclose(probs.sum(), 1.0, abs_tol=1e-9):
        raise ValueError("dataset_probabilities must be non-negative and sum to 1")
    keys: dict[Hashable, int] = {}
    for dist in mask_distributions:
        if not math.isclose(sum(dist.values()), 1.0, abs_tol=1e-9):
            raise ValueError("each mask distribution must sum to 1")
        for m in dist:
            keys.setdefault(m, len(keys))
    joint = np.zeros((len(keys), len(probs)))
    for a, dist in enumerate(mask_distributions):
        for m, pm in dist.items():
            joint[keys[m], a] += pm * probs[a]
    return joint, list(keys)
