"""Run the registered claims and write report.json, report.md and figures.

Exit status: 0 when every claim's verdict matches its record (REPRODUCED, or a known,
documented deviation: NOT REPRODUCED / SPEC THRESHOLD [R] NOT MET); 1 on a FAIL or an
UNEXPECTED PASS (with --strict: on anything but REPRODUCED); 2 on bad usage; 130 when
interrupted (the finished claims are kept: rerun the same command to resume). See
docs/verify.md.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("ids", nargs="*", metavar="ID",
                        help="claim ids or module names (e.g. one_neuron); none means all")
    parser.add_argument("--preset", choices=["quick", "full", "paper"], default="quick",
                        help="size preset: quick (tests, CI), full (the real check; the CPU "
                             "budget of network-scale claims) or paper (the papers' budgets, "
                             "for a GPU; simulations run at full)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="output folder")
    parser.add_argument("--runs", type=Path, default=None, metavar="DIR",
                        help="run store of the network-scale claims (default OUT/runs): "
                             "finished runs found there are checked, not repeated")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=0, help="seed of every claim's PRNG key")
    seeds.add_argument("--seeds", default=None, metavar="A-B",
                       help="run every claim at seeds A..B (e.g. 0-9) and report pass rates")
    parser.add_argument("--strict", action="store_true",
                        help="count known deviations as failures (exit 0 only if all reproduced)")
    parser.add_argument("--fresh", action="store_true",
                        help="recompute every claim instead of reusing finished records")
    parser.add_argument("--list", action="store_true", help="list the claim ids and exit")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def parse_seed_range(text: str) -> list[int]:
    """``"A-B"`` -> ``[A, ..., B]`` (non-negative integers, A <= B); else a UsageError."""
    from lottery_core.errors import UsageError

    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    if not match or int(match.group(1)) > int(match.group(2)):
        raise UsageError(f"--seeds must be a range A-B of non-negative integers with A <= B "
                         f"(e.g. 0-9), got {text!r}")
    return list(range(int(match.group(1)), int(match.group(2)) + 1))


def main(args) -> int:
    from lottery_core.errors import UsageError
    from sims import registry, verify

    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    seeds = parse_seed_range(args.seeds) if args.seeds is not None else [args.seed]
    try:
        claims = registry.select(args.ids)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    if args.list:
        for claim in claims:
            print(f"{claim.id}\t{claim.source}")
            if claim.budget is not None:
                for preset in ("quick", "full", "paper"):
                    print(f"    {preset}: {claim.budget.at(preset)}")
                print(f"    paper's number: {claim.paper}")
        return 0
    if not claims:
        raise UsageError("no claims are registered")
    report = verify.verify(claims, preset=args.preset, seeds=seeds, out_dir=args.out,
                           progress=not args.no_progress, fresh=args.fresh, strict=args.strict,
                           runs_dir=args.runs)
    if report["interrupted"]:
        s = report["summary"]
        runs = "claims" if len(seeds) == 1 else "claim runs"
        print(f"lottery verify: interrupted after {s['finished']} of {s['runs']} {runs} "
              f"(partial report in {args.out / 'report.md'}); rerun the same command to resume",
              file=sys.stderr)
    return report["summary"]["exit_code"]
