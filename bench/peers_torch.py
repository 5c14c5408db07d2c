"""The PyTorch-eager peers of bench/peers.py: a LeNet-300-100 IMP level, a ResNet-20 training
step, and SNIP / GraSP / SynFlow scoring. Needs torch (the ``torch`` extra); every peer starts
from the JAX initialization copied into torch.

- **IMP level** (Frankle & Carbin 2019 as open_lth trains it): the level-1 mask (20% of each
  hidden layer and 10% of the output layer removed by magnitude from a dense level 0 trained
  by the engine), weights rewound to θ_0, Adam 1.2e-3, batch 60, the engine's batch order
  (``epoch_batches((seed, level), ...)``), ``steps`` steps, then test accuracy. Ours: the
  engine's Trainer (one ``lax.scan`` over the steps, gradients and weights masked inside the
  step) and its ``evaluate``. Peer: a Python loop of ``torch.optim.Adam`` steps with the
  gradient masked before and the weights re-masked after each step (open_lth re-applies its
  masks to the weights; masking the gradient too keeps Adam's moments of pruned weights at 0,
  as the engine does, so both compute the same function).
- **ResNet-20 step**: bench/cifar_throughput.py's step on both sides (batch 128, SGD momentum
  0.9, weight decay 1e-4, forward + backward + update on a fixed batch).
- **Scoring**: ``lottery_core.sparsity`` (SNIP, GraSP at T = 200, one SynFlow round) against
  torch code written here in the style of Synaptic-Flow's ``Pruners/pruners.py`` (autograd on
  the masked parameters, the kernels), on 100 examples (10 × classes, Synaptic-Flow's
  default), BatchNorm in eval mode. Agreement: max |score difference| over max |score|.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from bench import cifar_throughput as cifar
from lottery_core import sparsity
from lottery_core.models import get_model
from lottery_core.models.recipes import LENET_MNIST
from lottery_core.sparsity.allocation import layer_fractions
from lottery_core.store import flatten
from lottery_core.training import Trainer, epoch_batches, make_optimizer, make_schedule

SEED = 0
LENET_LAYERS = 3


def abba(ours, peer, rounds: int):
    """Best wall seconds of ``ours()`` and ``peer()`` over ``rounds`` rounds of the order
    ours, peer, peer, ours (load from other processes hits both alike)."""
    times = {"ours": [], "peer": []}
    for _ in range(rounds):
        for side, fn in (("ours", ours), ("peer", peer), ("peer", peer), ("ours", ours)):
            clock = time.perf_counter()
            fn()
            times[side].append(time.perf_counter() - clock)
    return min(times["ours"]), min(times["peer"])


# ----------------------------------------------------------------------------- LeNet IMP level
def lenet_torch(torch, params):
    """LeNet-300-100 as three torch ``Linear`` layers holding the JAX ``params``."""
    layers = []
    for i in range(LENET_LAYERS):
        kernel = np.asarray(params[f"dense_{i}"]["kernel"])
        linear = torch.nn.Linear(*kernel.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(kernel.T.copy()))
            linear.bias.copy_(torch.from_numpy(np.asarray(params[f"dense_{i}"]["bias"]).copy()))
        layers += [linear, torch.nn.ReLU()]
    return torch.nn.Sequential(torch.nn.Flatten(), *layers[:-1])


def lenet_level(torch, data, steps: int, rounds: int, threads: int, log=print) -> dict:
    """The level-1 row: time of ``steps`` masked training steps plus the test evaluation,
    torch on ``threads`` threads."""
    model = get_model("lenet300")
    params0, model_state = model.init(jax.random.PRNGKey(SEED))
    lr, batch = LENET_MNIST["learning_rate"], LENET_MNIST["batch_size"]
    trainer = Trainer(model.apply, make_optimizer("adam", learning_rate=lr),
                      schedule=make_schedule("constant", lr, steps), last_step=steps - 1)
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    x_test, y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
    n = len(data.x_train)

    def train(mask, level):
        rows = jnp.asarray(epoch_batches((SEED, level), n, batch, 0, steps))
        state, _ = trainer.run_steps(trainer.init_state(params0, model_state, mask), x, y, rows)
        return state.params, float(trainer.evaluate(state.params, model_state, x_test, y_test)[1])

    dense, _ = train(sparsity.full_mask(params0), 0)
    fractions = layer_fractions(params0, 10, LENET_MNIST["prune_fraction"],
                                output=LENET_MNIST["prune_fraction_output"])
    mask = jax.tree_util.tree_map(np.asarray, sparsity.prune_by_magnitude(dense, sparsity.full_mask(
        params0), fractions))
    train(mask, 1)                                                   # compile
    result = {}

    def ours():
        result["ours_accuracy"] = train(mask, 1)[1]

    rows = epoch_batches((SEED, 1), n, batch, 0, steps)
    xt, yt = torch.from_numpy(np.asarray(data.x_train)), torch.from_numpy(
        np.asarray(data.y_train).astype(np.int64))
    xt_test = torch.from_numpy(np.asarray(data.x_test))
    yt_test = torch.from_numpy(np.asarray(data.y_test).astype(np.int64))
    masks = [torch.from_numpy(mask[f"dense_{i}"]["kernel"].T.astype(np.float32).copy())
             for i in range(LENET_LAYERS)]

    def peer():
        torch.set_num_threads(threads)
        net = lenet_torch(torch, params0)
        weights = [m.weight for m in net if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for w, m in zip(weights, masks):
                w.mul_(m)
        optimizer = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
        for step_rows in torch.from_numpy(rows.astype(np.int64)):
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(xt[step_rows]), yt[step_rows])
            loss.backward()
            for w, m in zip(weights, masks):
                w.grad.mul_(m)
            optimizer.step()
            with torch.no_grad():
                for w, m in zip(weights, masks):
                    w.mul_(m)
        with torch.no_grad():
            predictions = net(xt_test).argmax(1)
        result["peer_accuracy"] = float((predictions == yt_test).float().mean())

    ours_s, peer_s = abba(ours, peer, rounds)
    density = sum(int(m.sum()) for m in masks) / sum(m.numel() for m in masks)
    row = dict(name=f"LeNet-300-100 IMP level 1 ({steps} steps, density {density:.3f}, "
                    f"train + test eval), torch {threads} thread(s)", threads=threads,
               ours_s=ours_s, peer_s=peer_s, ratio=peer_s / ours_s, steps=steps,
               ours_steps_per_s=steps / ours_s, peer_steps_per_s=steps / peer_s,
               ours_accuracy=result["ours_accuracy"], peer_accuracy=result["peer_accuracy"],
               agreement=f"test accuracy {result['ours_accuracy']:.4f} vs "
                         f"{result['peer_accuracy']:.4f}")
    log(f"  {row['name']}: ours {ours_s:.2f} s, torch {peer_s:.2f} s, ratio {row['ratio']:.2f}, "
        f"{row['agreement']}")
    return row


# ----------------------------------------------------------------------------- ResNet-20 step
def resnet_step(torch, steps: int, rounds: int, threads: int, log=print) -> dict:
    """bench/cifar_throughput.py's step, batch 128, ``steps`` steps per timed call, torch on
    ``threads`` threads."""
    torch.set_num_threads(threads)
    _, run_jax, (model, p0, s0, batch_data) = cifar.compile_jax("resnet20", 128, "float32")
    _, net = cifar.torch_model_for("resnet20", p0, s0, model.num_classes)
    diff = cifar.check_twin(model, p0, s0, batch_data, torch, net)
    run_torch = cifar.torch_runner(torch, net, batch_data)
    run_jax(1)
    run_torch(1)
    ours_s, peer_s = abba(lambda: run_jax(steps), lambda: run_torch(steps), rounds)
    row = dict(name=f"ResNet-20 training step (batch 128, SGD momentum), torch {threads} "
                    "thread(s)", threads=threads,
               ours_s=ours_s / steps, peer_s=peer_s / steps, ratio=peer_s / ours_s,
               steps=steps, agreement=f"train-mode logits max |diff| {diff:.1e}")
    log(f"  {row['name']}: ours {1e3 * row['ours_s']:.0f} ms/step, torch "
        f"{1e3 * row['peer_s']:.0f} ms/step, ratio {row['ratio']:.2f}, {row['agreement']}")
    return row


# ----------------------------------------------------------------------------- scoring
def torch_scores(torch, method: str, net, weights, x, y, temperature: float = 200.0):
    """Synaptic-Flow-style scores of the ``weights`` (list of kernels) of ``net``."""
    F = torch.nn.functional
    net.eval()
    if method == "snip":
        grads = torch.autograd.grad(F.cross_entropy(net(x), y), weights)
        scores = [torch.abs(g * w).detach() for g, w in zip(grads, weights)]
        total = sum(s.sum() for s in scores)
        return [s / total for s in scores]
    if method == "grasp":
        stopped = torch.autograd.grad(F.cross_entropy(net(x) / temperature, y), weights)
        grads = torch.autograd.grad(F.cross_entropy(net(x) / temperature, y), weights,
                                    create_graph=True)
        hg = torch.autograd.grad(sum((s * g).sum() for s, g in zip(stopped, grads)), weights)
        scores = [(h * w).detach() for h, w in zip(hg, weights)]
        norm = torch.abs(sum(s.sum() for s in scores)) + 1e-10
        return [s / norm for s in scores]
    if method == "synflow":
        with torch.no_grad():                                   # linearize: |θ|, signs kept
            state = net.state_dict()
            signs = {k: torch.sign(v) for k, v in state.items() if v.is_floating_point()}
            for k in signs:
                state[k].abs_()
        ones = torch.ones((1,) + tuple(x.shape[1:]), dtype=x.dtype)
        grads = torch.autograd.grad(net(ones).sum(), weights)
        scores = [torch.abs(g * w).detach() for g, w in zip(grads, weights)]
        with torch.no_grad():                                   # nonlinearize
            for k, s in signs.items():
                state[k].mul_(s)
        return scores
    raise ValueError(f"unknown scoring method {method!r}")


def _jax_scorer(method, params, state, apply_fn, x, y):
    if method == "synflow":
        fn = jax.jit(sparsity.synflow_scores, static_argnums=(2, 3))
        return lambda: jax.block_until_ready(fn(params, state, apply_fn, tuple(x.shape[1:])))
    return lambda: jax.block_until_ready(sparsity.score_at_init(method, params, state, apply_fn,
                                                                x=x, y=y))


def scoring(torch, data_mnist, rounds: int, threads: int, log=print) -> list[dict]:
    """Rows for SNIP, GraSP and one SynFlow round on LeNet-300-100 (100 MNIST training
    examples) and ResNet-20 (100 random CIFAR-shaped images: the time does not depend on the
    values). torch on ``threads`` threads."""
    torch.set_num_threads(threads)
    rows = []
    lenet = get_model("lenet300")
    lp, ls = lenet.init(jax.random.PRNGKey(SEED))
    lx, ly = jnp.asarray(data_mnist.x_train[:100]), jnp.asarray(data_mnist.y_train[:100])
    resnet = get_model("resnet20")
    rp, rs = resnet.init(jax.random.PRNGKey(SEED))
    rx = jax.random.normal(jax.random.PRNGKey(1), (100, 32, 32, 3), jnp.float32)
    ry = jnp.arange(100, dtype=jnp.int32) % 10
    nets = {"lenet300": (lenet, lp, ls, lx, ly, lambda: lenet_torch(torch, lp)),
            "resnet20": (resnet, rp, rs, rx, ry,
                         lambda: cifar.torch_model_for("resnet20", rp, rs, 10)[1])}
    for model_name, (model, params, state, x, y, build) in nets.items():
        net = build()
        names = {f"{i}.weight": f"dense_{i // 2}" for i in range(1, 2 * LENET_LAYERS, 2)}
        named = [(names.get(name, name.rsplit(".", 1)[0]), p)
                 for name, p in net.named_parameters()
                 if p.dim() > 1 and name.endswith("weight")]
        kernels = [p for _, p in named]
        xt = torch.from_numpy(np.array(x).reshape(len(x), -1) if model_name == "lenet300"
                              else np.asarray(x).transpose(0, 3, 1, 2).copy())
        yt = torch.from_numpy(np.asarray(y).astype(np.int64))
        for method in ("snip", "grasp", "synflow"):
            ours_fn = _jax_scorer(method, params, state, model.apply, x, y)
            ours_scores = ours_fn()                                      # compile
            peer_scores = torch_scores(torch, method, net, kernels, xt, yt)
            ours_s, peer_s = abba(ours_fn, lambda: torch_scores(torch, method, net, kernels,
                                                                xt, yt), rounds)
            ours_by_name = _jax_kernels(ours_scores)
            ours_flat = np.concatenate([ours_by_name[name].reshape(-1) for name, _ in named])
            peer_flat = np.concatenate([s.numpy().reshape(-1) for s in peer_scores])
            rel = float(np.max(np.abs(ours_flat - peer_flat)) / np.max(np.abs(peer_flat)))
            row = dict(name=f"{method} scores, {model_name}, torch {threads} thread(s)",
                       threads=threads, ours_s=ours_s, peer_s=peer_s,
                       ratio=peer_s / ours_s, agreement=f"max |Δscore| / max |score| {rel:.1e}",
                       relative_score_diff=rel)
            log(f"  {row['name']}: ours {1e3 * ours_s:.1f} ms, torch {1e3 * peer_s:.1f} ms, "
                f"ratio {row['ratio']:.2f}, {row['agreement']}")
            rows.append(row)
    return rows


def _jax_kernels(scores) -> dict[str, np.ndarray]:
    """The kernel leaves of a JAX score tree by module path (``a.b`` of ``{"a": {"b":
    {"kernel": ..}}}``, the names of the torch twins' modules), in torch's layout."""
    out = {}
    for path, leaf in flatten(scores).items():
        module, leaf_name = path.rsplit("/", 1)
        if leaf_name == "kernel":
            leaf = np.asarray(leaf)
            out[module.replace("/", ".")] = leaf.transpose(3, 2, 0, 1) if leaf.ndim == 4 else leaf.T
    return out
