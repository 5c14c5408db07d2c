"""On-device augmentation and shuffling against numpy references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lottery_core.training.augment import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    augment_and_normalize,
    augment_batch,
    channel_statistics,
    crop_offsets,
    flip_decisions,
    normalize,
    random_crop,
    random_flip,
    shuffle_into_batches,
    shuffled_batch_indices,
)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(64, 32, 32, 3), dtype=np.uint8)


def numpy_crop(images, offsets, padding):
    padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    h, w = images.shape[1:3]
    return np.stack([padded[i, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets)])


def test_random_crop_matches_numpy_reference(images):
    key = jax.random.PRNGKey(1)
    got = np.asarray(jax.jit(random_crop, static_argnums=2)(key, jnp.asarray(images), 4))
    offsets = np.asarray(crop_offsets(key, images.shape[0], 4))
    assert offsets.min() >= 0 and offsets.max() <= 8
    np.testing.assert_array_equal(got, numpy_crop(images, offsets, 4))
    assert got.dtype == np.uint8 and got.shape == images.shape
    # border of zeros exactly where the offset moved the window past the image
    i = int(np.argmax(offsets[:, 0] == 0))
    assert offsets[i, 0] == 0  # with 64 draws from this key some example has dy = 0
    np.testing.assert_array_equal(got[i, :4], 0)


def test_random_flip_matches_numpy_reference(images):
    key = jax.random.PRNGKey(2)
    got = np.asarray(random_flip(key, jnp.asarray(images)))
    flips = np.asarray(flip_decisions(key, images.shape[0]))
    want = np.where(flips[:, None, None, None], images[:, :, ::-1], images)
    np.testing.assert_array_equal(got, want)
    assert 0 < flips.sum() < len(flips)


def test_augment_batch_is_crop_then_flip_with_split_keys(images):
    key = jax.random.PRNGKey(3)
    k_crop, k_flip = jax.random.split(key)
    offsets = np.asarray(crop_offsets(k_crop, images.shape[0], 4))
    flips = np.asarray(flip_decisions(k_flip, images.shape[0]))
    cropped = numpy_crop(images, offsets, 4)
    want = np.where(flips[:, None, None, None], cropped[:, :, ::-1], cropped)
    got = np.asarray(jax.jit(augment_batch)(key, jnp.asarray(images)))
    np.testing.assert_array_equal(got, want)


def test_augmentation_is_deterministic_under_a_fixed_key(images):
    x = jnp.asarray(images)
    a = augment_batch(jax.random.PRNGKey(7), x)
    b = augment_batch(jax.random.PRNGKey(7), x)
    c = augment_batch(jax.random.PRNGKey(8), x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_crop_offsets_and_flips_are_uniform():
    n = 20_000
    offsets = np.asarray(crop_offsets(jax.random.PRNGKey(4), n, 4)).ravel()
    counts = np.bincount(offsets, minlength=9)
    assert counts.size == 9
    # each of the 9 offsets has probability 1/9; 6 binomial standard errors
    se = np.sqrt(2 * n * (1 / 9) * (8 / 9))
    assert np.all(np.abs(counts - 2 * n / 9) < 6 * se), counts
    flips = np.asarray(flip_decisions(jax.random.PRNGKey(5), n))
    assert abs(flips.mean() - 0.5) < 6 * np.sqrt(0.25 / n)


def test_normalize_matches_torchvision_to_tensor_then_normalize(images):
    got = np.asarray(normalize(jnp.asarray(images), CIFAR10_MEAN, CIFAR10_STD))
    want = (images.astype(np.float64) / 255.0 - np.array(CIFAR10_MEAN)) / np.array(CIFAR10_STD)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert got.dtype == np.float32
    floats = images.astype(np.float32) / 255.0
    np.testing.assert_allclose(normalize(jnp.asarray(floats), CIFAR10_MEAN, CIFAR10_STD), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="one value per channel"):
        normalize(jnp.asarray(images), (0.5, 0.5), (0.2, 0.2))


def test_augment_and_normalize_pads_with_black_before_normalizing():
    x = jnp.full((256, 32, 32, 3), 255, jnp.uint8)
    key = jax.random.PRNGKey(6)
    out = np.asarray(augment_and_normalize(key, x))
    black = -np.array(CIFAR10_MEAN) / np.array(CIFAR10_STD)
    white = (1 - np.array(CIFAR10_MEAN)) / np.array(CIFAR10_STD)
    is_black = np.all(np.isclose(out, black, atol=1e-5), axis=-1)
    is_white = np.all(np.isclose(out, white, atol=1e-5), axis=-1)
    assert np.all(is_black | is_white)
    k_crop, _ = jax.random.split(key)
    offsets = np.asarray(crop_offsets(k_crop, 256, 4))
    # rows of zero padding = |dy - 4|, columns = |dx - 4| (a flip keeps the count)
    black_rows = np.sum(np.all(is_black, axis=2), axis=1)
    black_cols = np.sum(np.all(is_black, axis=1), axis=1)
    np.testing.assert_array_equal(black_rows, np.abs(offsets[:, 0] - 4))
    np.testing.assert_array_equal(black_cols, np.abs(offsets[:, 1] - 4))


def test_channel_statistics_match_numpy(images):
    mean, std = channel_statistics(jnp.asarray(images))
    x = images.astype(np.float64) / 255.0
    np.testing.assert_allclose(mean, x.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(std, x.std(axis=(0, 1, 2)), rtol=1e-4)


def test_shuffled_batch_indices_is_a_permutation_in_batches():
    key = jax.random.PRNGKey(9)
    idx = np.asarray(jax.jit(shuffled_batch_indices, static_argnums=(1, 2))(key, 103, 10))
    assert idx.shape == (10, 10) and idx.dtype == np.int32
    assert len(set(idx.ravel())) == 100 and idx.min() >= 0 and idx.max() < 103
    np.testing.assert_array_equal(idx, shuffled_batch_indices(key, 103, 10))
    assert not np.array_equal(idx, shuffled_batch_indices(jax.random.PRNGKey(10), 103, 10))
    assert not np.array_equal(idx.ravel(), np.sort(idx.ravel()))
    padded = np.asarray(shuffled_batch_indices(key, 103, 10, drop_remainder=False))
    assert padded.shape == (11, 10)
    assert set(padded.ravel()) == set(range(103))
    np.testing.assert_array_equal(padded.ravel()[:100], idx.ravel())
    with pytest.raises(ValueError, match="batch_size"):
        shuffled_batch_indices(key, 10, 0)
    with pytest.raises(ValueError, match="exceeds"):
        shuffled_batch_indices(key, 10, 11)


def test_shuffle_into_batches_keeps_images_and_labels_together(images):
    labels = np.arange(images.shape[0], dtype=np.int32)
    xb, yb = shuffle_into_batches(jax.random.PRNGKey(11), jnp.asarray(images), jnp.asarray(labels), 16)
    assert xb.shape == (4, 16, 32, 32, 3) and yb.shape == (4, 16)
    np.testing.assert_array_equal(np.asarray(xb), images[np.asarray(yb)])
    with pytest.raises(ValueError, match="differ in length"):
        shuffle_into_batches(jax.random.PRNGKey(0), jnp.asarray(images), jnp.asarray(labels[:5]), 4)


def test_epoch_as_lax_scan_over_augmented_batches(images):
    """The intended use: one jitted scan gathers, augments and reduces every batch."""
    x = jnp.asarray(images)

    @jax.jit
    def epoch(key):
        k_perm, k_aug = jax.random.split(key)
        idx = shuffled_batch_indices(k_perm, x.shape[0], 16)

        def step(total, inputs):
            batch_idx, k = inputs
            batch = augment_and_normalize(k, x[batch_idx])
            return total + jnp.sum(batch), batch_idx

        return jax.lax.scan(step, 0.0, (idx, jax.random.split(k_aug, idx.shape[0])))

    total, seen = epoch(jax.random.PRNGKey(12))
    k_perm, k_aug = jax.random.split(jax.random.PRNGKey(12))
    keys = jax.random.split(k_aug, 4)
    want = sum(float(jnp.sum(augment_and_normalize(keys[i], x[np.asarray(seen[i])]))) for i in range(4))
    assert float(total) == pytest.approx(want, rel=1e-5)
    assert sorted(np.asarray(seen).ravel()) == list(range(64))


def test_bad_shapes_and_padding_are_rejected(images):
    with pytest.raises(ValueError, match="batch, height, width, channels"):
        random_crop(jax.random.PRNGKey(0), jnp.asarray(images[0]))
    with pytest.raises(ValueError, match="padding"):
        random_crop(jax.random.PRNGKey(0), jnp.asarray(images), -1)
