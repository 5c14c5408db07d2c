"""Run the registered claims and write report.json, report.md and figures."""

from __future__ import annotations

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("ids", nargs="*", metavar="ID",
                        help="claim ids or module names (e.g. one_neuron); none means all")
    parser.add_argument("--preset", choices=["quick", "full"], default="quick",
                        help="size preset: quick (tests, CI) or full (the real check)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of every claim's PRNG key")
    parser.add_argument("--list", action="store_true", help="list the claim ids and exit")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def main(args) -> int:
    from lottery_core.errors import UsageError
    from sims import registry, verify

    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    try:
        claims = registry.select(args.ids)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    if args.list:
        for claim in claims:
            print(f"{claim.id}\t{claim.source}")
        return 0
    if not claims:
        raise UsageError("no claims are registered")
    report = verify.verify(claims, preset=args.preset, seed=args.seed, out_dir=args.out,
                           progress=not args.no_progress)
    return 0 if report["summary"]["failed"] == 0 else 1
