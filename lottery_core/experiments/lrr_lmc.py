"""LRR paper: linear mode connectivity (error barrier) between runs, masks applied (spec §2.3).

For every seed and level k the test error and loss along θ(α) = (1 − α)·θ_a + α·θ_b,
α ∈ {0, 0.1, …, 1} (``--alphas``), for the pairs:

* ``consecutive/<method>``: the end of level k−1 and the end of level k of one run (does the
  pruned, retrained network stay in its parent's basin?), for WR and LRR;
* ``wr-vs-lrr``: the ends of level k of WR and LRR (same seed, same post-warmup start).

Endpoints are stored masked (m ⊙ θ). BatchNorm statistics are re-estimated for every θ(α) on
``--bn-batches`` training batches (normalized, not augmented) unless ``--bn-stats interpolate``.
Writes ``results.json`` (curves, barriers ``max_α [e(α) − ((1−α)e(0) + αe(1))]``, mean ± std
over seeds) and ``barrier_vs_remaining.png``, ``error_along_path.png``.
"""

from __future__ import annotations

from lottery_core.experiments._common import comma_list
from lottery_core.experiments import _lrr_common as common
from lottery_core.store import write_results

NAME = "lmc"


def add_arguments(parser) -> None:
    common.add_common_arguments(parser)
    parser.add_argument("--alphas", type=comma_list(float),
                        default=[round(0.1 * i, 1) for i in range(11)],
                        help="interpolation weights (must include 0 and 1)")
    parser.add_argument("--bn-stats", choices=["recompute", "interpolate"], default="recompute",
                        help="BatchNorm running statistics of θ(α)")
    parser.add_argument("--bn-batches", type=int, default=10,
                        help="training batches used to re-estimate BN statistics")
    parser.add_argument("--pairs", type=comma_list(), default=["consecutive", "wr-vs-lrr"],
                        help="consecutive (level k-1 vs k per method), wr-vs-lrr")


def _plot(results, directory):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from lottery_core.figures import density_axis, line_style, save_figure, spread_caption

    seeds = len(results["seeds"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    remaining = []
    for index, (name, pair) in enumerate(results["pairs"].items()):
        m, s = np.asarray(pair["error_barrier"]["mean"]), np.asarray(pair["error_barrier"]["std"])
        x = np.asarray(pair["remaining"])
        line, = ax.plot(x, 100 * m, ms=3, label=name, **line_style(index))
        ax.fill_between(x, 100 * (m - s), 100 * (m + s), color=line.get_color(), alpha=0.2)
        remaining += list(x)
    density_axis(ax, remaining, "weights remaining at level k")
    ax.set_ylabel("test error barrier (pp)")
    ax.set_title(spread_caption([seeds]), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, directory / "barrier_vs_remaining.png", dpi=120)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for index, (name, pair) in enumerate(results["pairs"].items()):
        last = str(pair["levels"][-1])
        ax.plot(results["alphas"], 100 * np.asarray(pair["curves"][last]["error_mean"]),
                ms=3, label=f"{name}, level {last}", **line_style(index))
    ax.set_xlabel("α (θ(α) = (1 − α)·θ_a + α·θ_b)")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"mean over {seeds} seeds" if seeds > 1 else "one seed", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, directory / "error_along_path.png", dpi=120)


def run(args) -> int:
    import jax.numpy as jnp
    import numpy as np

    from lottery_core.errors import UsageError
    from lottery_core.loops.levels import Runner
    from lottery_core.lmc import barrier, path_curve
    from lottery_core.training import Trainer, make_optimizer

    if not args.alphas or min(args.alphas) != 0.0 or max(args.alphas) != 1.0:
        raise UsageError(f"--alphas must include 0 and 1, got {args.alphas}")
    bad = [p for p in args.pairs if p not in ("consecutive", "wr-vs-lrr")]
    if bad:
        raise UsageError(f"unknown pair kind(s) {bad}; allowed: consecutive, wr-vs-lrr")
    if args.levels < 1:
        raise UsageError("lmc needs --levels >= 1")
    data = common.load_data(args)
    seeds = common.seeds_of(args)
    directory = common.experiment_folder(args, NAME, {"alphas": args.alphas,
                                                      "bn": args.bn_stats,
                                                      "bn_batches": args.bn_batches,
                                                      "pairs": list(args.pairs)})
    runners = {}
    for method in ("wr", "lrr"):
        runner = Runner(common.make_config(args, method), common.runs_directory(args),
                        progress=not args.no_progress, dataset=data, wait=args.wait)
        runner.run()
        runners[method] = runner
    runner = runners["lrr"]
    apply_fn = runner.trainer.apply_fn                  # with the input normalization
    evaluator = Trainer(apply_fn, make_optimizer("sgd"))
    x_test, y_test = runner.eval_sets["test"]

    def evaluate(params, state):
        return evaluator.evaluate(params, state, x_test, y_test)

    batch = runner.cfg.batch_size
    order = np.random.default_rng(0).permutation(len(data.x_train))
    bn_batches = [jnp.asarray(data.x_train[order[i * batch:(i + 1) * batch]])
                  for i in range(min(args.bn_batches, len(order) // batch))]
    pairs = {}
    if "consecutive" in args.pairs:
        for method in ("wr", "lrr"):
            pairs[f"consecutive/{method}"] = [
                (k, (runners[method], k - 1), (runners[method], k))
                for k in range(1, args.levels + 1)]
    if "wr-vs-lrr" in args.pairs:
        pairs["wr-vs-lrr"] = [(k, (runners["wr"], k), (runners["lrr"], k))
                              for k in range(1, args.levels + 1)]
    results = {"experiment": NAME, "alphas": args.alphas, "seeds": seeds,
               "config": runner.cfg.to_dict(),
               "bn_statistics": ("re-estimated for every θ(α) as the mean batch statistics of "
                                 f"{len(bn_batches)} training batches of {batch} (normalized, "
                                 "not augmented)") if args.bn_stats == "recompute" else
                                "linearly interpolated running statistics",
               "pairs": {}}
    for name, items in pairs.items():
        entry = {"levels": [], "remaining": [], "curves": {}}
        barriers, loss_barriers = {}, {}
        for level, (runner_a, level_a), (runner_b, level_b) in items:
            per_seed = {}
            for s in seeds:
                pa, sa, _ = runner_a.load_level(s, level_a)
                pb, sb, _ = runner_b.load_level(s, level_b)
                per_seed[str(s)] = path_curve(evaluate, apply_fn, (pa, sa), (pb, sb),
                                              args.alphas, bn=args.bn_stats,
                                              bn_batches=bn_batches)
            errors = np.mean([c["error"] for c in per_seed.values()], axis=0)
            entry["levels"].append(level)
            density = common.level_metrics(runner_b.run_dir, seeds[:1], level_b)
            entry["remaining"].append(100 * density[level_b][seeds[0]]["density"])
            entry["curves"][str(level)] = {"error_mean": errors.tolist(),
                                           "barrier_of_mean": barrier(args.alphas, errors),
                                           "per_seed": per_seed}
            barriers[level] = {int(s): c["error_barrier"] for s, c in per_seed.items()}
            loss_barriers[level] = {int(s): c["loss_barrier"] for s, c in per_seed.items()}
        entry["error_barrier"] = common.summary(barriers)
        entry["loss_barrier"] = common.summary(loss_barriers)
        results["pairs"][name] = entry
        write_results(directory, results)
    _plot(results, directory)
    print(f"results: {directory / 'results.json'}\nfigures: {directory}")
    return 0
