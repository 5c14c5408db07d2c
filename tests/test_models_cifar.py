"""CIFAR models: parameter counts, output shapes, init, BatchNorm semantics, training signal."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lottery_core.models import available_models, get_model, prunable_leaves
from lottery_core.models.layers import batchnorm, conv, init_batchnorm

CIFAR_MODELS = ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet18", "resnet34",
                "vgg11", "vgg13", "vgg16", "vgg19"]


def count(tree) -> int:
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))


def shapes(model):
    return jax.eval_shape(model.init, jax.random.PRNGKey(0))


def jitted(model):
    """``(init, apply)`` compiled once each: eager op-by-op dispatch is far slower on CPU."""
    return jax.jit(model.init), jax.jit(model.apply, static_argnums=3)


def expected_resnet_count(blocks, base, num_classes, projection=True) -> int:
    """Independent closed form: stem conv+BN, BasicBlocks, 1x1 shortcuts where the shape
    changes, bias-free 1x1-conv classifier."""
    total = 9 * 3 * base + 2 * base
    c_in = base
    for s, n in enumerate(blocks):
        width = base * 2**s
        for b in range(n):
            total += 9 * c_in * width + 9 * width * width + 4 * width
            if projection and (c_in != width or (s > 0 and b == 0)):
                total += c_in * width + 2 * width
            c_in = width
    return total + c_in * num_classes


def expected_vgg_count(plan, num_classes) -> int:
    total, c_in = 0, 3
    for item in plan:
        if item != "M":
            total += 9 * c_in * item + 2 * item
            c_in = item
    return total + c_in * num_classes + num_classes


def test_all_cifar_models_are_registered():
    assert set(CIFAR_MODELS) | {"resnet_cifar"} <= set(available_models())


@pytest.mark.parametrize(
    "name, options, expected",
    [
        # Documented in docs/cifar.md. ResNet-20 "0.27M" (He et al. 2016, Table 6, option A
        # gives 269,722 with a biased dense head); ours follows the authors' code [C]:
        # projection shortcuts, bias-free 1x1-conv classifier.
        ("resnet20", {}, 272_464),
        ("resnet20", {"shortcut": "pad"}, 269_712),
        ("resnet20", {"num_classes": 100}, 272_464 + 64 * 90),
        ("resnet56", {}, 855_760),
        ("resnet18", {}, 11_173_952),  # "11.2M"
        ("resnet18", {"num_classes": 100}, 11_173_952 + 512 * 90),
        ("vgg16", {}, 14_724_042),  # "14.7M"; OpenLTH's cifar_vgg_16 has +4,224 conv biases
        ("vgg11", {}, 9_228_362),
    ],
)
def test_parameter_counts(name, options, expected):
    params, _ = shapes(get_model(name, **options))
    assert count(params) == expected


def test_parameter_counts_match_closed_forms_for_every_model():
    from lottery_core.models.vgg import VGG_PLANS

    for depth in (20, 32, 44, 56, 110):
        n = (depth - 2) // 6
        for k in (1, 2):
            params, _ = shapes(get_model(f"resnet{depth}", width_multiplier=k))
            assert count(params) == expected_resnet_count((n, n, n), 16 * k, 10), (depth, k)
    params, _ = shapes(get_model("resnet34"))
    assert count(params) == expected_resnet_count((3, 4, 6, 3), 64, 10)
    params, _ = shapes(get_model("resnet20", shortcut="pad"))
    assert count(params) == expected_resnet_count((3, 3, 3), 16, 10, projection=False)
    for depth, plan in VGG_PLANS.items():
        params, _ = shapes(get_model(f"vgg{depth}", num_classes=100))
        assert count(params) == expected_vgg_count(plan, 100)


@pytest.mark.parametrize("name", CIFAR_MODELS)
@pytest.mark.parametrize("num_classes", [10, 100])
def test_output_shapes_and_state_structure(name, num_classes):
    model = get_model(name, num_classes=num_classes)
    assert model.input_shape == (32, 32, 3) and model.num_classes == num_classes
    params, state = shapes(model)
    x = jax.ShapeDtypeStruct((3, 32, 32, 3), jnp.float32)
    for train in (True, False):
        logits, new_state = jax.eval_shape(lambda p, s, x: model.apply(p, s, x, train), params, state, x)
        assert logits.shape == (3, num_classes) and logits.dtype == jnp.float32
        assert jax.tree.structure(new_state) == jax.tree.structure(state)
    # every BN has a "bn" in its name, a scale/bias in params and mean/var in state
    for path, _ in jax.tree_util.tree_leaves_with_path(state):
        names = [p.key for p in path]
        assert "bn" in names[-2] and names[-1] in ("mean", "var")
    prunable = prunable_leaves(params)
    for path, flag in jax.tree_util.tree_leaves_with_path(prunable):
        leaf = path[-1].key
        assert flag == (leaf == "kernel")
        assert leaf in ("kernel", "scale", "bias")


def test_kernels_are_he_normal_and_bn_starts_at_identity():
    init = jax.jit(get_model("resnet18").init)
    params, state = init(jax.random.PRNGKey(3))
    kernel = np.asarray(params["layer4_1"]["conv2"]["kernel"])  # 3x3x512x512, 2.4M draws
    fan_in = 9 * 512
    assert kernel.shape == (3, 3, 512, 512)
    assert abs(kernel.mean()) < 5 * math.sqrt(2 / fan_in) / math.sqrt(kernel.size)
    assert kernel.std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.01)
    stem = np.asarray(params["conv1"]["kernel"])
    assert stem.std() == pytest.approx(math.sqrt(2 / 27), rel=0.15)  # 1,728 draws
    np.testing.assert_array_equal(params["bn1"]["scale"], 1.0)
    np.testing.assert_array_equal(params["bn1"]["bias"], 0.0)
    np.testing.assert_array_equal(state["layer2_0"]["shortcut_bn"]["var"], 1.0)
    # same key, same params; another key, other params
    again, _ = init(jax.random.PRNGKey(3))
    np.testing.assert_array_equal(again["conv1"]["kernel"], stem)
    other, _ = init(jax.random.PRNGKey(4))
    assert not np.array_equal(other["conv1"]["kernel"], stem)


def numpy_conv(x, w, stride, pad):
    """Direct cross-correlation, NHWC x HWIO, symmetric zero padding (torch Conv2d semantics)."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    kh, kw, _, c_out = w.shape
    n, h, wd, _ = x.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, oh, ow, c_out))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            out[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, w)
    return out


@pytest.mark.parametrize("kernel_size, stride", [(3, 1), (3, 2), (1, 2)])
def test_conv_matches_direct_convolution_with_torch_padding(kernel_size, stride):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    w = rng.normal(size=(kernel_size, kernel_size, 3, 4)).astype(np.float32)
    got = np.asarray(conv({"kernel": jnp.asarray(w)}, jnp.asarray(x), stride))
    want = numpy_conv(x.astype(np.float64), w.astype(np.float64), stride, (kernel_size - 1) // 2)
    assert got.shape == want.shape == (2, 8 // stride, 8 // stride, 4)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_batchnorm_train_and_eval_semantics():
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 3.0, size=(4, 5, 5, 6)).astype(np.float32)
    params, state = init_batchnorm(6)
    np.testing.assert_array_equal(params["scale"], 1.0)
    np.testing.assert_array_equal(state["var"], 1.0)
    params = {"scale": jnp.linspace(0.5, 2.0, 6), "bias": jnp.linspace(-1.0, 1.0, 6)}
    state = {"mean": jnp.full((6,), 0.3), "var": jnp.full((6,), 2.0)}
    y, new_state = batchnorm(params, state, jnp.asarray(x), train=True)
    mu = x.reshape(-1, 6).mean(0)
    var = x.reshape(-1, 6).var(0)
    want = (x - mu) / np.sqrt(var + 1e-5) * np.asarray(params["scale"]) + np.asarray(params["bias"])
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
    n = x.size // 6
    np.testing.assert_allclose(new_state["mean"], 0.9 * 0.3 + 0.1 * mu, rtol=1e-5)
    np.testing.assert_allclose(new_state["var"], 0.9 * 2.0 + 0.1 * var * n / (n - 1), rtol=1e-5)
    # eval: running statistics, state untouched
    y_eval, eval_state = batchnorm(params, state, jnp.asarray(x), train=False)
    want_eval = (x - 0.3) / np.sqrt(2.0 + 1e-5) * np.asarray(params["scale"]) + np.asarray(params["bias"])
    np.testing.assert_allclose(y_eval, want_eval, rtol=1e-4, atol=1e-4)
    assert eval_state is state


def small_resnet():
    return get_model("resnet_cifar", depth=8, input_shape=(8, 8, 3))


@pytest.fixture(scope="module")
def small():
    """ResNet-8 on 8x8 inputs, initialised once, with one jitted apply shared by the tests
    (always called on batches of 4 so that it compiles once per mode)."""
    init, apply = jitted(small_resnet())
    params, state = init(jax.random.PRNGKey(0))
    return params, state, apply


def test_model_running_stats_update_only_in_train_mode(small):
    params, state, apply = small
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 8, 8, 3)) * 2.0 + 1.0
    _, eval_state = apply(params, state, x, False)
    for a, b in zip(jax.tree.leaves(eval_state), jax.tree.leaves(state)):
        np.testing.assert_array_equal(a, b)
    _, train_state = apply(params, state, x, True)
    for path, leaf in jax.tree_util.tree_leaves_with_path(train_state):
        before = state
        for p in path:
            before = before[p.key]
        assert not np.allclose(leaf, before), path
    # the stem BN sees the stem conv output: its new running mean is 0.1 * batch mean
    stem_out = jax.jit(conv)(params["conv1"], x)
    np.testing.assert_allclose(train_state["bn1"]["mean"], 0.1 * jnp.mean(stem_out, axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)


def test_eval_mode_is_per_example_and_train_mode_is_not(small):
    params, state, apply = small
    x = jax.random.normal(jax.random.PRNGKey(2), (4, 8, 8, 3))
    other = x.at[1:].set(jax.random.normal(jax.random.PRNGKey(3), (3, 8, 8, 3)) * 3.0)
    eval_x, _ = apply(params, state, x, False)
    eval_other, _ = apply(params, state, other, False)
    np.testing.assert_allclose(eval_x[0], eval_other[0], rtol=1e-5, atol=1e-5)
    assert not np.allclose(eval_x[1], eval_other[1], atol=1e-3)
    train_x, _ = apply(params, state, x, True)
    train_other, _ = apply(params, state, other, True)
    assert not np.allclose(train_x[0], train_other[0], atol=1e-3)


def test_pad_shortcut_has_no_shortcut_parameters_and_runs():
    init, apply = jitted(get_model("resnet_cifar", depth=8, shortcut="pad", input_shape=(8, 8, 3)))
    params, state = init(jax.random.PRNGKey(0))
    assert not any("shortcut" in key for block in params.values() for key in block)
    logits, _ = apply(params, state, jnp.ones((2, 8, 8, 3)), True)
    assert logits.shape == (2, 10) and bool(jnp.all(jnp.isfinite(logits)))


def test_bfloat16_compute_keeps_float32_master_weights_and_matches_float32(small):
    params, state, apply32 = small
    x = jax.random.normal(jax.random.PRNGKey(5), (4, 8, 8, 3))
    bf16 = get_model("resnet_cifar", depth=8, input_shape=(8, 8, 3), compute_dtype="bfloat16")
    _, apply16 = jitted(bf16)
    params_bf, _ = shapes(bf16)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(params_bf))
    logits32, state32 = apply32(params, state, x, True)
    logits16, state16 = apply16(params, state, x, True)
    assert logits16.dtype == jnp.float32
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(state16))
    scale = float(jnp.max(jnp.abs(logits32)))
    assert float(jnp.max(jnp.abs(logits16 - logits32))) < 0.05 * scale
    assert float(jnp.max(jnp.abs(logits16 - logits32))) > 0  # bf16 really was used

    def loss(p):
        return jnp.sum(bf16.apply(p, state, x, True)[0] ** 2)

    grads = jax.jit(jax.grad(loss))(params)
    assert all(g.dtype == jnp.float32 for g in jax.tree.leaves(grads))


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("resnet_cifar", {"depth": 21}, "6n\\+2"),
        ("resnet20", {"shortcut": "option-c"}, "shortcut"),
        ("resnet20", {"num_classes": 0}, "num_classes"),
        ("resnet18", {"width_multiplier": 0}, "width_multiplier"),
        ("vgg16", {"compute_dtype": "float16"}, "compute dtype"),
        ("vgg16", {"num_classes": -1}, "num_classes"),
    ],
)
def test_bad_options_raise_clear_errors(name, options, message):
    with pytest.raises(ValueError, match=message):
        get_model(name, **options)


def test_a_few_sgd_steps_lower_the_loss_of_resnet20():
    model = get_model("resnet20")
    params, state = jax.jit(model.init)(jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(1), (16, 32, 32, 3))
    y = jnp.arange(16) % 10
    optimizer = optax.sgd(0.05, momentum=0.9)
    opt_state = optimizer.init(params)

    def loss_fn(p, s):
        logits, new_s = model.apply(p, s, x, True)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), new_s

    @jax.jit
    def step(p, s, o):
        (loss, s), g = jax.value_and_grad(loss_fn, has_aux=True)(p, s)
        updates, o = optimizer.update(g, o, p)
        return optax.apply_updates(p, updates), s, o, loss

    losses = []
    for _ in range(6):
        params, state, opt_state, loss = step(params, state, opt_state)
        losses.append(float(loss))
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0], losses
