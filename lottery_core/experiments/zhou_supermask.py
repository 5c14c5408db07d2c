"""Zhou et al. 2019 §5: heuristic supermasks, one-shot masks applied to the untrained network.

Per seed the dense network is trained once (a resumable level-0 run); then for every
criterion and power k = 0..24 the one-shot mask keeps the fraction base_ℓ^k of layer ℓ
(base_ℓ = 1 − the per-round pruning rate: FC 0.8 hidden / 0.9 output) ranked by the criterion
on (w_i = θ_0, w_f), and the **untrained** θ_0 ⊙ m is evaluated on the test set, with the
initial values and with signed constants α_ℓ·sign(θ_0) (spec zhou.md §6.2 [C/P]). snip and
grad use g_0, the gradient at θ_0 on the first training batch.
"""

from __future__ import annotations

from pathlib import Path

from lottery_core.experiments._common import comma_list

NAME = "zhou-supermask"

#: the official default list: 9 criteria, snip, grad and the 4 sign-conditioned ones
DEFAULT_CRITERIA = ("large_final", "magnitude_increase", "movement", "large_init_large_final",
                    "large_init", "random", "small_init", "small_init_small_final",
                    "small_final", "snip", "grad", "large_final_same_sign",
                    "large_final_diff_sign", "magnitude_increase_same_sign",
                    "magnitude_increase_diff_sign")
TREATMENTS = ("init", "signed_constant")


def add_arguments(parser) -> None:
    parser.add_argument("--model", default="lenet300", help="network (lenet300, conv2/4/6, ...)")
    parser.add_argument("--dataset", default="mnist", help="mnist, cifar10, cifar100, synthetic")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $LOTTERY_DATA)")
    parser.add_argument("--criteria", type=comma_list(), default=list(DEFAULT_CRITERIA),
                        help="comma-separated mask criteria")
    parser.add_argument("--powers", type=comma_list(int), default=list(range(25)),
                        help="one-shot powers k (remaining fraction base^k per layer)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="first seed (seeds first .. first + seeds - 1)")
    parser.add_argument("--iterations", type=int, default=None,
                        help="dense training steps (default: the model's, FC 50,000)")
    parser.add_argument("--train-subset", type=int, default=None,
                        help="use only the first N training images (quick runs)")
    parser.add_argument("--eval-every", type=int, default=None,
                        help="evaluate the dense training every N steps (default: 10 times)")
    parser.add_argument("--test-subset", type=int, default=None,
                        help="evaluate the masked networks on N test images drawn with a "
                             "fixed seed (default: the whole test set)")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="output folder")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def one_shot_masks(criterion, init_flat, final_flat, fractions, powers, seed, gradients=None):
    """``{k: flat mask}``: per layer keep base_ℓ^k (``floor`` pruning count, official code)."""
    import numpy as np

    from lottery_core.sparsity import criteria

    masks = {}
    for k in powers:
        rates = {path: 1.0 - (1.0 - fraction) ** k for path, fraction in fractions.items()}
        full = {path: np.ones(np.shape(init_flat[path]), bool) for path in fractions}
        masks[k] = criteria.network_mask(criterion, init_flat, final_flat, full, rates,
                                         seed=seed * 1000 + k, gradients=gradients)
    return masks


def run(args) -> int:
    execute(args)
    return 0


def execute(args) -> Path:
    """Train the dense networks (finished runs are reused), evaluate every one-shot mask and
    write ``results.json``; return the experiment's folder."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from lottery_core.config import ExperimentConfig
    from lottery_core.data import DataError
    from lottery_core.errors import UsageError
    from lottery_core.experiments._common import (evaluation_subset, mean_std,
                                                  open_experiment, plot_curves)
    from lottery_core.loops.levels import Runner
    from lottery_core.sparsity import criteria, signed_constant_params
    from lottery_core.store import (flatten, layout, level_directory, load_tree, read_json,
                                    unflatten, write_results)
    from lottery_core.training import epoch_batches

    unknown = [c for c in args.criteria if c not in criteria.CRITERIA]
    if unknown:
        raise UsageError(f"unknown criteria {unknown}; available: {', '.join(criteria.CRITERIA)}")
    if any(k < 0 for k in args.powers):
        raise UsageError(f"powers must be >= 0, got {args.powers}")
    if args.test_subset is not None and args.test_subset < 1:
        raise UsageError(f"--test-subset must be >= 1, got {args.test_subset}")
    base = {k: v for k, v in dict(method="imp", model=args.model, dataset=args.dataset,
                                  levels=0, seeds=args.seeds,
                                  first_seed=args.first_seed or None,
                                  iterations=args.iterations,
                                  train_subset=args.train_subset,
                                  eval_every=args.eval_every).items() if v is not None}
    try:
        config = ExperimentConfig(**base)
        config.validate()
        identity = {"base": base, "criteria": args.criteria, "powers": args.powers}
        if args.test_subset is not None:      # absent when unused: earlier folders still match
            identity["test_subset"] = args.test_subset
        directory = open_experiment(args, NAME, identity)
        runner = Runner(config, directory / layout.RUNS, data_dir=args.data_dir,
                        progress=not args.no_progress, wait=args.wait)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    runner.run()                                  # dense training, resumable, once per seed;
    #                                               a finished level is checked, then skipped
    if (directory / layout.RESULTS).exists():     # the folder's identity fixes every number
        read_json(directory / layout.RESULTS)     # checked against its manifest
        print(f"results (finished earlier): {directory / layout.RESULTS}")
        return directory
    model, data = runner.model, runner.dataset
    x_test, y_test = (jnp.asarray(a) for a in evaluation_subset(data.x_test, data.y_test,
                                                                  args.test_subset))

    def accuracies(stacked_params):
        """Test accuracy per leading index (power) of ``stacked_params``; the Trainer's
        evaluation (compiled batches; a Python loop over them for conv nets on CPU)."""
        count = len(args.powers)
        return np.array([float(runner.trainer.evaluate(
            jax.tree_util.tree_map(lambda leaf: leaf[i], stacked_params), {}, x_test,
            y_test)[1]) for i in range(count)])

    def first_batch_gradient(params, seed):
        idx = epoch_batches((seed, 0), len(data.x_train), runner.cfg.batch_size, 0, 1)[0]

        def loss(p):
            logits, _ = model.apply(p, {}, jnp.asarray(data.x_train[idx]), True)
            return optax.softmax_cross_entropy_with_integer_labels(
                logits, jnp.asarray(data.y_train[idx])).mean()

        return flatten(jax.tree_util.tree_map(np.asarray, jax.grad(loss)(params)))

    per_seed = {t: {c: {} for c in args.criteria} for t in TREATMENTS}
    remaining = {}
    seeds = list(range(config.first_seed, config.first_seed + config.seeds))
    for seed in seeds:
        init = load_tree(runner.seed_dir(seed) / layout.INIT)["params"]
        final = load_tree(level_directory(runner.run_dir, seed, 0) / layout.PARAMS)
        init_flat, final_flat = flatten(init), flatten(final)
        gradients = first_batch_gradient(init, seed)
        starts = {"init": init_flat,
                  "signed_constant": flatten(jax.tree_util.tree_map(
                      np.asarray, signed_constant_params(init)))}
        for criterion in args.criteria:
            masks = one_shot_masks(criterion, init_flat, final_flat, runner.fractions,
                                   args.powers, seed, gradients)
            for k, mask in masks.items():
                kept = sum(int(m.sum()) for m in mask.values())
                total = sum(m.size for m in mask.values())
                remaining[k] = 100.0 * kept / total
            for treatment, start in starts.items():
                stacked = unflatten({path: np.stack([start[path] * masks[k][path]
                                                     if path in runner.fractions else start[path]
                                                     for k in args.powers])
                                     for path in start})
                values = np.asarray(accuracies(jax.tree_util.tree_map(jnp.asarray, stacked)))
                per_seed[treatment][criterion][seed] = [100.0 * float(v) for v in values]
        print(f"seed {seed}: done ({len(args.criteria)} criteria x {len(args.powers)} powers)")
    results = {"experiment": NAME, "base": base, "powers": args.powers,
               "remaining": [remaining[k] for k in args.powers],
               "metric": "test accuracy (%) of the untrained masked network",
               "test_examples": int(len(y_test)), "curves": {}}
    for treatment in TREATMENTS:
        curves = {}
        for criterion in args.criteria:
            table = np.array([per_seed[treatment][criterion][s] for s in seeds])
            stats = [mean_std(table[:, j]) for j in range(table.shape[1])]
            mean = [s[0] for s in stats]
            peak = int(np.argmax(mean))
            curves[criterion] = {"remaining": results["remaining"], "mean": mean,
                                 "std": [s[1] for s in stats],
                                 "per_seed": {str(s): per_seed[treatment][criterion][s]
                                              for s in seeds},
                                 "peak": {"power": args.powers[peak], "mean": mean[peak],
                                          "std": stats[peak][1],
                                          "remaining": results["remaining"][peak]}}
        results["curves"][treatment] = curves
        plot_curves(curves, directory / f"supermask_{treatment}.png",
                    title=f"untrained {args.model} on {args.dataset}, one-shot masks "
                          f"({treatment.replace('_', ' ')} weights)",
                    ylabel="test accuracy without training (%)", seeds=len(seeds),
                    chance=100.0 * float(np.bincount(np.asarray(y_test)).max() / len(y_test)))
    write_results(directory, results)
    for treatment in TREATMENTS:
        best = max(results["curves"][treatment].items(), key=lambda kv: kv[1]["peak"]["mean"])
        print(f"{treatment}: best {best[0]} peak {best[1]['peak']['mean']:.1f}% at "
              f"{best[1]['peak']['remaining']:.1f}% remaining")
    print(f"results: {directory / layout.RESULTS}")
    return directory
