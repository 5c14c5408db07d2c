"""Benchmarks and validations on an accelerator: lottery bench gpu (docs/gpu.md)."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

GPU_HELP = ("one accelerator, one command: device and library versions, ResNet-20 CIFAR-10 "
            "epoch time (batch 128/256, float32/bfloat16), K vmapped tickets, the one-neuron "
            "and mirror simulations on the device vs float64 CPU, and a reduced LRR vs WR run "
            "with its sign flips, all sized to --budget-s; writes report.json, report.md and "
            "figures into --out")


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="bench", metavar="NAME")
    sub.required = True
    gpu = sub.add_parser("gpu", help=GPU_HELP, description=GPU_HELP)
    gpu.add_argument("--budget-s", type=float, default=480.0,
                     help="wall-clock seconds for the whole command, data loading and report "
                          "included (default: %(default)g)")
    gpu.add_argument("--out", type=Path, default=Path("bench-gpu"),
                     help="output folder; a rerun into it keeps the phases that finished "
                          "(default: %(default)s)")
    gpu.add_argument("--data-dir", default=None,
                     help="folder holding cifar-10-batches-py/ (default: $LOTTERY_DATA)")
    size = gpu.add_mutually_exclusive_group()
    size.add_argument("--tiny", action="store_true",
                      help="CPU/CI sizes (ResNet-8, 128 images); the default on a CPU")
    size.add_argument("--full", action="store_true",
                      help="the issue's sizes (ResNet-20, full CIFAR-10); the default on an "
                           "accelerator")


def phases(weights: dict):
    """The phases, in order, with their share of the budget (``weights[name]``)."""
    from lottery_core.bench import environment, figures, lrr, report, training
    from lottery_core.bench.budget import Phase
    from sims import device_check

    return [Phase("environment", "Device and libraries", environment.run_phase, 0.0,
                  report.environment_markdown),
            Phase("epoch_time", "Training epoch time (batch x dtype)", training.run_epoch_time,
                  weights["epoch_time"], report.epoch_time_markdown, figures.epoch_time),
            Phase("sims", "Simulations on the device vs float64 CPU", device_check.run_phase,
                  weights["sims"], device_check.markdown),
            Phase("tickets", "K tickets vmapped together", training.run_tickets,
                  weights["tickets"], report.tickets_markdown, figures.tickets),
            Phase("lrr", "Reduced LRR vs WR on CIFAR-10 (lrr-vs-imp, lrr-signs)",
                  lrr.run_phase, weights["lrr"], report.lrr_markdown, figures.lrr)]


def main(args) -> int:
    """``lottery bench gpu`` (the only benchmark so far)."""
    from lottery_core.bench.budget import Clock
    from lottery_core.errors import UsageError

    clock = Clock(args.budget_s)
    if not math.isfinite(args.budget_s) or args.budget_s < 0:
        raise UsageError(f"--budget-s must be a finite number >= 0, got {args.budget_s:g}")
    import jax

    from lottery_core.bench.budget import run_phases
    from lottery_core.bench.report import status_ok, write_report
    from lottery_core.bench.settings import FULL, SETTINGS, TINY
    from lottery_core.bench.training import BenchRun

    backend = jax.default_backend()
    mode = TINY if args.tiny else FULL if args.full else (TINY if backend == "cpu" else FULL)
    settings = SETTINGS[mode]

    def log(message: str) -> None:
        print(f"[{clock.elapsed():6.1f}/{clock.budget_s:g} s] {message}", flush=True)

    command = (f"lottery bench gpu --budget-s {args.budget_s:g} --out {args.out}"
               + (f" --data-dir {args.data_dir}" if args.data_dir else "")
               + (" --tiny" if args.tiny else " --full" if args.full else ""))
    log(f"{command}: {mode} run on {backend} ({jax.devices()[0].device_kind})")
    run = BenchRun(settings, args.data_dir, Path(args.out))
    started = time.monotonic()
    data = run.dataset()          # a missing or broken data folder: one line, exit 2
    log(f"data: {len(data.y_train)} training, {len(data.y_val)} validation, "
        f"{len(data.y_test)} test images ({time.monotonic() - started:.1f} s)")
    identity = {"mode": mode, "backend": backend, "device_kind": jax.devices()[0].device_kind,
                "settings": settings.identity()}
    all_phases = phases(settings.phase_weights)
    records = run_phases(all_phases, clock=clock, out=Path(args.out), identity=identity,
                         shared=run, log=log, reserve_s=min(15.0, 0.1 * args.budget_s))
    header = {"command": command, "mode": mode, "budget_s": args.budget_s,
              "elapsed_s": clock.elapsed(), "identity": identity}
    write_report(Path(args.out), all_phases, records, header)
    print(f"{'phase':<12} {'status':<12} {'seconds':>8}  note")
    for r in records:
        print(f"{r['phase']:<12} {r['status']:<12} {r['seconds']:>8.1f}  {r.get('reason') or ''}")
    print(f"report: {Path(args.out) / 'report.md'} ({clock.elapsed():.0f} s of "
          f"{args.budget_s:g} s)", file=sys.stdout, flush=True)
    return 0 if status_ok(records) else 1
