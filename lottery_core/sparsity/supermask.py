"""Supermasks (Zhou et al. 2019, §5; spec zhou.md §6).

A supermask is a binary mask that makes a randomly initialised, *untrained* network accurate.
Learned supermasks freeze the weights w at their initial values (biases frozen too) and train
one logit per kernel entry m (spec §6.3 [C]):

    w' = w ⊙ M,   M = b + σ(m) − stopgrad(σ(m)),   b ~ Bernoulli(σ(m))

so the forward value is the binary sample b and ∂M/∂m = σ'(m) = σ(m)(1 − σ(m)) (the
straight-through estimator). Dynamic weight rescaling (DWR) multiplies each layer by
#weights / #ones of the sampled mask. Test accuracy is the mean over 10 mask samples.

Logits are a nested dict mirroring the params, holding only the masked kernels; the
functions here are pure and jit/vmap/grad friendly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

MASK_MODES = ("bernoulli", "round")


def _map_kernels(fn, params: dict, logits: dict) -> dict:
    """Rebuild ``params`` with ``fn(kernel, logit)`` wherever ``logits`` has an entry."""
    out = {}
    for name, value in params.items():
        if name in logits:
            if isinstance(value, dict):
                out[name] = _map_kernels(fn, value, logits[name])
            else:
                out[name] = fn(value, logits[name])
        else:
            out[name] = value
    return out


def _kernel_paths(params: dict, prefix=()):
    for name, value in params.items():
        if isinstance(value, dict):
            yield from _kernel_paths(value, prefix + (name,))
        elif name == "kernel":
            yield prefix + (name,), value


def init_logits(params: dict, sigmoid_bias: float = 0.0) -> dict:
    """Mask logits for every leaf named ``kernel``, all equal to ``sigmoid_bias``
    (default 0: keep probability 0.5; the only control of the kept fraction, spec §6.3)."""
    logits: dict = {}
    for path, kernel in _kernel_paths(params):
        node = logits
        for name in path[:-1]:
            node = node.setdefault(name, {})
        node[path[-1]] = jnp.full(kernel.shape, sigmoid_bias, dtype=jnp.float32)
    if not logits:
        raise ValueError("params hold no leaf named 'kernel' to mask")
    return logits


def bernoulli_ste(logit: jax.Array, key: jax.Array) -> jax.Array:
    """M = b + σ(m) − stopgrad(σ(m)), b ~ Bernoulli(σ(m)): value b, gradient σ'(m)."""
    prob = jax.nn.sigmoid(logit)
    sample = jax.random.bernoulli(key, prob).astype(prob.dtype)
    return sample + (prob - jax.lax.stop_gradient(prob))


def round_ste(logit: jax.Array, key: jax.Array, train: bool) -> jax.Array:
    """The ``round_mask`` variant: in training a random half of the entries is clamped to
    round(σ(m)) (straight-through) and the rest passes σ(m); at test, round(σ(m))."""
    prob = jax.nn.sigmoid(logit)
    rounded = jnp.round(prob)
    if not train:
        return rounded
    clamp = jax.random.bernoulli(key, 0.5, prob.shape)
    return jnp.where(clamp, rounded + (prob - jax.lax.stop_gradient(prob)), prob)


def dwr_multiplier(mask: jax.Array) -> jax.Array:
    """Dynamic weight rescaling: #weights / #ones of the (sampled) mask, recomputed per pass."""
    ones = jnp.sum(jax.lax.stop_gradient(mask))
    return mask.size / jnp.maximum(ones, 1.0)


def masked_params(frozen_params: dict, logits: dict, key: jax.Array, *, mode: str = "bernoulli",
                  rescale: bool = False, train: bool = True) -> dict:
    """The effective params w ⊙ M (× DWR multiplier if ``rescale``), one fresh mask sample per
    call; each kernel draws from its own fold of ``key``."""
    if mode not in MASK_MODES:
        raise ValueError(f"unknown supermask mode {mode!r}; available: {', '.join(MASK_MODES)}")
    counter = iter(range(1 << 30))

    def apply_mask(kernel, logit):
        sub = jax.random.fold_in(key, next(counter))
        mask = bernoulli_ste(logit, sub) if mode == "bernoulli" else round_ste(logit, sub, train)
        weights = kernel * mask
        return weights * dwr_multiplier(mask) if rescale else weights

    return _map_kernels(apply_mask, frozen_params, logits)


def expected_density(logits: dict) -> jax.Array:
    """Mean keep probability σ(m) over all masked entries (the reported fraction kept)."""
    leaves = jax.tree_util.tree_leaves(logits)
    total = sum(jnp.sum(jax.nn.sigmoid(leaf)) for leaf in leaves)
    return total / sum(leaf.size for leaf in leaves)


def signed_constant_params(params: dict, multiplier: float = 1.0) -> dict:
    """Replace every kernel by sign(w) · std(w) · multiplier (std over the whole kernel), the
    signed-constant treatment of spec §6.2/§6.3. Other leaves are unchanged."""

    def signed_constant(path, leaf):
        if getattr(path[-1], "key", None) != "kernel":
            return leaf
        return jnp.sign(leaf) * jnp.std(leaf) * multiplier

    return jax.tree_util.tree_map_with_path(signed_constant, params)
