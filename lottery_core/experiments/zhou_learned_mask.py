"""Zhou et al. 2019 §5: learned supermasks, training only a Bernoulli mask over frozen weights.

Weights (and the zero biases) stay at their random initialization; one logit per kernel entry
is trained with the straight-through estimator (``sparsity.supermask``): SGD with momentum
0.9, learning rate 100, batch 250 (the official README's FC settings [C]). Options: signed
constants (sign(w)·std(w)), dynamic weight rescaling (DWR), the ``round`` mask variant, the
sigmoid-bias initialization. Test accuracy is the mean over 10 mask samples (spec §6.3 [C]);
the fraction kept is the mean of σ(m). Per seed ``seed_<s>.json`` holds the per-epoch history
and ``seed_<s>.checkpoint.npz`` the state after the last finished epoch. The learning rate is
constant and epoch e's batches and mask samples depend only on (seed, e), so a run of E epochs is
the first E epochs of any longer run: ``--epochs`` is not part of the experiment's identity, an
interrupted run resumes from its last finished epoch, a finished run called with more epochs
continues from its checkpoint, and one called with fewer reports epoch E from its history.
``--eval-every K`` tests every K-th epoch and the last (the 10-sample test costs about a third of
an FC epoch); ``--only-seed S`` trains one seed, so that seeds can run in separate processes.
"""

from __future__ import annotations

from pathlib import Path

NAME = "zhou-learned-mask"


def add_arguments(parser) -> None:
    parser.add_argument("--model", default="lenet300", help="network (lenet300, conv2/4/6, ...)")
    parser.add_argument("--dataset", default="mnist", help="mnist, cifar10, cifar100, synthetic")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $LOTTERY_DATA)")
    parser.add_argument("--signed-constant", action="store_true",
                        help="replace the weights by sign(w)·std(w) per layer")
    parser.add_argument("--rescale", action="store_true", help="dynamic weight rescaling (DWR)")
    parser.add_argument("--mode", choices=["bernoulli", "round"], default="bernoulli",
                        help="Bernoulli samples (paper) or the round_mask variant")
    parser.add_argument("--sigmoid-bias", type=float, default=0.0,
                        help="initial mask logit (keep probability σ(bias))")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs")
    parser.add_argument("--learning-rate", type=float, default=100.0, help="SGD learning rate")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    parser.add_argument("--batch-size", type=int, default=250, help="batch size")
    parser.add_argument("--eval-samples", type=int, default=10,
                        help="mask samples averaged for the test accuracy")
    parser.add_argument("--eval-every", type=int, default=1,
                        help="evaluate the test accuracy every K epochs and at the last one")
    parser.add_argument("--seeds", type=int, default=3, help="seeds")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="first seed (seeds first .. first + seeds - 1)")
    parser.add_argument("--only-seed", type=int, default=None,
                        help="train only this seed (run seeds in separate processes); the "
                             "summary is written by a call that finds every seed finished")
    parser.add_argument("--train-subset", type=int, default=None,
                        help="use only the first N training images (quick runs)")
    parser.add_argument("--test-subset", type=int, default=None,
                        help="evaluate on N test images drawn with a fixed seed (default: all)")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="output folder")


def _identity(args) -> dict:
    keys = ("model", "dataset", "signed_constant", "rescale", "mode", "sigmoid_bias",
            "learning_rate", "momentum", "batch_size", "eval_samples", "train_subset")
    identity = {k: getattr(args, k) for k in keys}
    if args.test_subset is not None:        # absent when unused: earlier folders still match
        identity["test_subset"] = args.test_subset
    return identity


def run(args) -> int:
    execute(args)
    return 0


def _seeds(args) -> range:
    return range(args.first_seed, args.first_seed + args.seeds)


def execute(args) -> Path:
    """Train every seed (or ``--only-seed``) up to ``--epochs`` (finished epochs are reused)
    and, unless ``--only-seed``, write ``results.json``; return the experiment's folder."""
    import time

    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from lottery_core.sparsity import supermask
    from lottery_core.data import DataError, load_dataset
    from lottery_core.errors import UsageError
    from lottery_core.experiments._common import evaluation_subset, mean_std, open_experiment
    from lottery_core.models import get_model
    from lottery_core.store import (atomic_write_json, layout, load_extra, load_tree_like,
                                    read_json, save_tree, write_results)
    from lottery_core.training import Trainer, default_step_loop, epoch_batches

    for name in ("epochs", "batch_size", "eval_samples", "seeds", "eval_every"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not args.learning_rate > 0:
        raise UsageError(f"--learning-rate must be positive, got {args.learning_rate}")
    if args.first_seed < 0:
        raise UsageError(f"--first-seed must be >= 0, got {args.first_seed}")
    if args.only_seed is not None and args.only_seed not in _seeds(args):
        raise UsageError(f"--only-seed must be in [{args.first_seed}, "
                         f"{args.first_seed + args.seeds}) for --first-seed {args.first_seed} "
                         f"--seeds {args.seeds}, got {args.only_seed}")
    if args.test_subset is not None and args.test_subset < 1:
        raise UsageError(f"--test-subset must be >= 1, got {args.test_subset}")
    try:
        data = load_dataset(args.dataset, args.data_dir, train_subset=args.train_subset)
        model = get_model(args.model, input_shape=data.input_shape, num_classes=data.num_classes)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    seeds = _seeds(args) if args.only_seed is None else [args.only_seed]
    directory = open_experiment(args, NAME, _identity(args), seeds=seeds,
                                whole=args.only_seed is None)
    x_train, y_train = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    x_test, y_test = (jnp.asarray(a) for a in evaluation_subset(data.x_test, data.y_test,
                                                                  args.test_subset))
    per_epoch = len(data.x_train) // args.batch_size
    if per_epoch < 1:
        raise UsageError(f"--batch-size {args.batch_size} exceeds the {len(data.x_train)} "
                         f"training images")

    def build(seed):
        params, state = model.init(jax.random.PRNGKey(seed))
        if args.signed_constant:
            params = supermask.signed_constant_params(params)
        return params, state

    def make_loss(frozen):
        def loss(logits, model_state, x, y, train_state):
            key = jax.random.fold_in(train_state.rng, train_state.step)
            params = supermask.masked_params(frozen, logits, key, mode=args.mode,
                                             rescale=args.rescale, train=True)
            out, new_state = model.apply(params, model_state, x, True)
            return optax.softmax_cross_entropy_with_integer_labels(out, y).mean(), (new_state, {})
        return loss

    sample_params = jax.jit(lambda frozen, logits, key: supermask.masked_params(
        frozen, logits, key, mode=args.mode, rescale=args.rescale, train=False))

    def evaluate(trainer, frozen, logits, model_state, seed, epoch):
        """Test accuracy of ``eval_samples`` independent mask samples (spec §6.3 [C])."""
        keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 10_000 + epoch),
                                args.eval_samples)
        return np.array([float(trainer.evaluate(sample_params(frozen, logits, key),
                                                model_state, x_test, y_test)[1])
                         for key in keys])

    def evaluated(entry, seed, epoch, state):
        """``entry`` with the test accuracy of ``state`` (the state after ``epoch`` epochs)."""
        accs = evaluate(trainer, frozen, state.params, state.model_state, seed, epoch - 1)
        return {**entry, "test_accuracy_mean": float(accs.mean()),
                "test_accuracy_samples": accs.tolist()}

    summary = {"experiment": NAME, "settings": {**_identity(args), "epochs": args.epochs},
               "seeds": {}}
    for seed in seeds:
        result_path = directory / layout.seed_record(seed)
        record = read_json(result_path) if result_path.exists() else {"seed": seed, "history": []}
        frozen, model_state = build(seed)
        trainer = Trainer(model.apply, optax.sgd(args.learning_rate, momentum=args.momentum),
                          loss_fn=make_loss(frozen), grad_transform=lambda g, s: g,
                          param_transform=lambda p, s: p, step_loop=default_step_loop(frozen))
        logits = supermask.init_logits(frozen, args.sigmoid_bias)
        state = trainer.init_state(logits, model_state, jax.tree_util.tree_map(
            lambda l: jnp.ones(l.shape, bool), logits), rng=jax.random.PRNGKey(seed + 7919))
        checkpoint = directory / layout.seed_checkpoint(seed)
        done = 0
        if checkpoint.exists():
            state, extra = load_tree_like(checkpoint, state), load_extra(checkpoint)
            done = extra["epochs_done"]
            if done > len(record["history"]):
                raise UsageError(f"{checkpoint} holds epoch {done} but {result_path} has only "
                                 f"{len(record['history'])} epochs; remove both to start over")
        # the history is written before the checkpoint: entries past the checkpoint (a run
        # killed between the two writes) are recomputed, identically
        if len(record["history"]) > done and len(record["history"]) < args.epochs:
            if done == 0:
                print(f"seed {seed}: no checkpoint beside {result_path.name}; training again "
                      f"from epoch 1 to reach {args.epochs} epochs")
            record["history"] = record["history"][:done]
        for epoch in range(len(record["history"]) + 1, args.epochs + 1):
            clock = time.time()
            idx = epoch_batches((seed, epoch - 1), len(data.x_train), args.batch_size,
                                (epoch - 1) * per_epoch, per_epoch)
            state, steps = trainer.run_steps(state, x_train, y_train, jnp.asarray(idx))
            entry = {"epoch": epoch, "train_loss": float(np.mean(steps["loss"])),
                     "kept_fraction": float(supermask.expected_density(state.params))}
            if epoch % args.eval_every == 0 or epoch == args.epochs:
                entry = evaluated(entry, seed, epoch, state)
            record["history"].append({**entry, "seconds": time.time() - clock})
            atomic_write_json(result_path, record)
            save_tree(checkpoint, state, extra={"epochs_done": epoch})
            if "test_accuracy_mean" in entry:
                print(f"seed {seed} epoch {epoch}/{args.epochs}: test "
                      f"{100 * entry['test_accuracy_mean']:.2f}% kept "
                      f"{entry['kept_fraction']:.3f} loss {entry['train_loss']:.3f}", flush=True)
        final = record["history"][args.epochs - 1]
        if "test_accuracy_mean" not in final:
            if len(record["history"]) != args.epochs or not checkpoint.exists():
                tested = [h["epoch"] for h in record["history"] if "test_accuracy_mean" in h]
                raise UsageError(f"epoch {args.epochs} of seed {seed} was not evaluated and its "
                                 f"state is gone; evaluated epochs: {tested}")
            final = record["history"][-1] = evaluated(final, seed, args.epochs, state)
            atomic_write_json(result_path, record)
        summary["seeds"][str(seed)] = final
    if args.only_seed is not None:
        print(f"seed {args.only_seed}: {args.epochs} epochs in {directory}; run without "
              f"--only-seed for the summary")
        return directory
    finals = [100 * v["test_accuracy_mean"] for v in summary["seeds"].values()]
    kept = [v["kept_fraction"] for v in summary["seeds"].values()]
    summary["test_accuracy"] = dict(zip(("mean", "std"), mean_std(finals)))
    summary["kept_fraction"] = dict(zip(("mean", "std"), mean_std(kept)))
    write_results(directory, summary)
    _plot(directory, args)
    print(f"test accuracy {summary['test_accuracy']['mean']:.2f} ± "
          f"{summary['test_accuracy']['std']:.2f}% (mean over {args.eval_samples} mask samples, "
          f"{args.seeds} seeds), kept {summary['kept_fraction']['mean']:.3f}\n"
          f"results: {directory / layout.RESULTS}")
    return directory


def _plot(directory: Path, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lottery_core.figures import plain_log_labels, save_figure
    from lottery_core.store import layout, read_json

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    for seed in _seeds(args):
        history = read_json(directory / layout.seed_record(seed))["history"][:args.epochs]
        tested = [h for h in history if "test_accuracy_mean" in h]
        left.plot([h["epoch"] for h in tested], [100 * h["test_accuracy_mean"] for h in tested],
                  label=f"seed {seed}")
        right.plot([h["epoch"] for h in history], [h["kept_fraction"] for h in history],
                   label=f"seed {seed}")
    for axis in (left, right):
        axis.set_xlabel("epoch")
        if args.epochs > 100:                 # long runs: the early rise stays visible
            axis.set_xscale("log")
            plain_log_labels(axis.xaxis)
    left.set_ylabel("test accuracy (%), mean of mask samples")
    right.set_ylabel("fraction kept (mean σ(m))")
    left.legend(fontsize=7)
    flags = [f for f, on in (("signed constant", args.signed_constant), ("DWR", args.rescale)) if on]
    fig.suptitle(f"learned supermask, {args.model} on {args.dataset}"
                 + (f" ({', '.join(flags)})" if flags else "")
                 + "; one line per seed", fontsize=10)
    save_figure(fig, directory / "learned_mask.png", dpi=120)
