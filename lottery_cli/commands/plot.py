"""Plot test accuracy vs density (mean and spread over seeds) for every run in RUNS_DIR."""

from __future__ import annotations

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("runs_dir", type=Path, metavar="RUNS_DIR", help="folder of runs")
    parser.add_argument("--out", type=Path, default=None,
                        help="figure path (default: RUNS_DIR/accuracy_vs_density.png)")
    parser.add_argument("--metric", default="test_accuracy",
                        choices=["test_accuracy", "val_accuracy", "early_stop"],
                        help="final test/val accuracy, or test accuracy at the early-stopping "
                             "step (minimum validation loss)")
    parser.add_argument("--table", action="store_true",
                        help="also print a Markdown table: run x level x seed, mean and std")


def main(args) -> int:
    from lottery_core.analysis import accuracy_vs_density, markdown_table, plot_runs
    from lottery_core.errors import UsageError

    if not Path(args.runs_dir).is_dir():
        raise UsageError(f"runs folder {args.runs_dir} does not exist")
    try:
        figure = plot_runs(args.runs_dir, args.out, args.metric)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(figure)
    if args.table:
        print(markdown_table(accuracy_vs_density(args.runs_dir, args.metric)))
    return 0
