"""LeNet-300-100 and Conv-2/4/6: prunable weight counts and output shapes (zhou.md §2.2)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lottery_core.models import get_model, prunable_leaves


@pytest.mark.parametrize("name,count", [("lenet300", 266200), ("conv2", 4300992),
                                        ("conv4", 2425024), ("conv6", 2261184)])
def test_prunable_counts_match_the_papers(name, count):
    model = get_model(name)
    params, _ = jax.eval_shape(model.init, jax.random.PRNGKey(0))
    flags = jax.tree_util.tree_leaves(prunable_leaves(params))
    leaves = jax.tree_util.tree_leaves(params)
    assert sum(math.prod(p.shape) for p, f in zip(leaves, flags) if f) == count
    logits, _ = jax.eval_shape(lambda p: model.apply(p, {}, jnp.zeros((2,) + model.input_shape),
                                                     False), params)
    assert logits.shape == (2, 10)


def test_glorot_normal_init_and_zero_bias():
    params, _ = get_model("lenet300").init(jax.random.PRNGKey(1))
    w = params["dense_0"]["kernel"]
    # variance 2 / (fan_in + fan_out) = 2 / 1084 (truncated normal with corrected std)
    assert abs(float(jnp.var(w)) / (2 / 1084) - 1) < 0.02
    assert float(jnp.abs(params["dense_0"]["bias"]).max()) == 0.0


def test_mlp_widths_option_and_bad_widths():
    params, _ = get_model("mlp", widths=[50]).init(jax.random.PRNGKey(0))
    assert params["dense_0"]["kernel"].shape == (784, 50)
    assert params["dense_1"]["kernel"].shape == (50, 10)
    with pytest.raises(ValueError, match="widths"):
        get_model("mlp", widths=[0])


def test_a_model_is_built_once_per_options_and_traced_once():
    """Equal options give the same Model (so runs share its compiled programs); other options
    or a re-registered builder give another."""
    from lottery_core import models

    first = get_model("mlp", widths=[23], input_shape=(5,))
    assert get_model("mlp", input_shape=(5,), widths=[23]) is first
    assert get_model("mlp", widths=[24], input_shape=(5,)) is not first
    shape = np.array([5])               # options that are not JSON are built anew each time
    assert get_model("mlp", widths=[23], input_shape=shape) is not \
        get_model("mlp", widths=[23], input_shape=shape)
    traces = []                 # one trace, one program (a persistent cache hit or not)

    def listen(event, seconds, **_):
        if event == "/jax/core/compile/jaxpr_trace_duration":
            traces.append(seconds)

    keys = [jax.random.PRNGKey(seed) for seed in (0, 1)]
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        for key in keys:        # a new jit wrapper of a new get_model call each time
            jax.jit(get_model("mlp", widths=[23], input_shape=(5,)).init)(key)
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert len(traces) == 1

    registries = (models._MODELS, models._DEFAULTS, models._OPTIONS, models._DATASET_DEFAULTS)
    saved = [registry["mlp"] for registry in registries]
    try:
        builder = models._MODELS["mlp"]
        models.register_model("mlp", options=models.model_options("mlp"))(
            lambda **options: builder(**options))
        again = get_model("mlp", widths=[23], input_shape=(5,))
        assert again is not first and again.input_shape == first.input_shape
    finally:                    # the registry exactly as it was (defaults included)
        for registry, entry in zip(registries, saved):
            registry["mlp"] = entry
    assert get_model("mlp", widths=[23], input_shape=(5,)) is first
