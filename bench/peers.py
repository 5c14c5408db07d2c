"""Peers in one command: our engine against its reference implementations, same machine, same
load, one process; a table of ratios into bench/RESULTS.md and every number into a JSON file.

    python bench/peers.py                      # all rows; torch rows need the `torch` extra
    python bench/peers.py --quick --json /tmp/peers.json   # tiny one-neuron rows only

Rows (each pair timed ABBA, ours-peer-peer-ours, per round; best of the rounds per side;
ratio = peer time / our time, so > 1 means we are faster):

1. one-neuron Monte Carlo against a ``solve_ivp`` loop (bench/peers_ode.py), agreement: max
   |final state difference|; goal ≥ 500× at ≤ 1e-6;
2. a LeNet-300-100 IMP level against a PyTorch eager masked training loop (goal ≥ 3×);
3. a ResNet-20 training step against PyTorch eager;
4. SNIP / GraSP / SynFlow scoring against Synaptic-Flow-style torch code
   (rows 2-4: bench/peers_torch.py).

Without torch rows 2-4 are skipped with one line saying so. ``--quick`` runs row 1 at a tiny
size and leaves bench/RESULTS.md alone unless ``--results`` is given. Threads: XLA:CPU uses one
thread per visible core; torch gets ``--threads`` (default: the visible cores), reported.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402

from bench import peers_ode  # noqa: E402
from lottery_core.store import atomic_write_json  # noqa: E402

BEGIN, END = "<!-- peers:begin -->", "<!-- peers:end -->"
GOALS = {"one_neuron": "≥ 500× at ≤ 1e-6", "lenet": "≥ 3×"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one-neuron rows only, 100 runs (4 by solve_ivp), one round")
    parser.add_argument("--json", default=str(ROOT / "bench" / "peers.json"),
                        help="where to write every number (default: %(default)s)")
    parser.add_argument("--results", default=None,
                        help="markdown file whose peers section is replaced (default: "
                             "bench/RESULTS.md; with --quick: none)")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--subset", type=int, default=200, help="runs solved by solve_ivp")
    parser.add_argument("--rounds", type=int, default=2, help="ABBA rounds per pair")
    parser.add_argument("--lenet-steps", type=int, default=1000,
                        help="steps of the level with torch on 1 thread (default: %(default)s)")
    parser.add_argument("--lenet-steps-threaded", type=int, default=100,
                        help="steps of the level with torch on --threads threads: fewer, "
                             "because torch's OpenMP threads slow down ~25x on a loaded "
                             "machine (default: %(default)s)")
    parser.add_argument("--resnet-steps", type=int, default=2, help="steps per timed call")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch threads of the first measurement of every torch row; "
                             "each is measured again with 1 (default: %(default)s, as XLA)")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.subset, args.rounds = 100, 4, 1
    elif args.results is None:
        args.results = str(ROOT / "bench" / "RESULTS.md")
    for name in ("runs", "subset", "rounds", "lenet_steps", "lenet_steps_threaded",
                 "resnet_steps", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.subset > args.runs:
        parser.error(f"--subset must be at most --runs ({args.runs}), got {args.subset}")
    return args


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs visible, {platform.system()}"


def load() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def import_torch(threads: int):
    try:
        import torch
    except ImportError:
        print("torch not installed: the LeNet, ResNet-20 and scoring rows are skipped "
              "(pip install -e '.[torch]')", flush=True)
        return None
    torch.set_num_threads(threads)
    return torch


def markdown(report: dict) -> str:
    env = report["environment"]
    lines = [BEGIN, "", f"`{report['command']}`, run {env['date']}.", "",
             f"- **Machine.** {env['machine']}; load average {env['load_start']} at the start, "
             f"{env['load_end']} at the end (1 / 5 / 15 min; shared machine, timings noisy).",
             f"- **Versions.** python {env['python']}, jax {env['jax']} ({env['jax_backend']}, "
             f"one XLA thread per core), numpy {env['numpy']}, scipy {env['scipy']}, torch "
             f"{env['torch'] or 'not installed'}"
             + (f" (eager; every torch row on {env['torch_threads']} threads, as XLA, and "
                "again on 1)" if env["torch"] else "") + ".",
             "- **Timing.** Each pair ABBA (ours, peer, peer, ours) per round, best of "
             f"{report['settings']['rounds']} rounds per side; ratio = peer time / our time.",
             "", "| row | ours | peer | ours time | peer time | ratio | agreement | goal |",
             "|---|---|---|---|---|---|---|---|"]
    for row in report["rows"]:
        cells = [row[k] for k in ("row", "ours", "peer", "ours_time", "peer_time")]
        cells += [f"**{row['ratio']:.2f}×**", row["agreement"], row.get("goal", "")]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    for line in report["skipped"]:
        lines.append(f"\n{line}")
    lines += ["", END]
    return "\n".join(lines)


def write_results(path: Path, text: str) -> None:
    """Replace the peers section of ``path`` (between the markers), or append one."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + text + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + "\n\n## peers\n\n" + text + "\n"
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(new)
    os.replace(tmp, path)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch = None if args.quick else import_torch(args.threads)
    data = None
    if torch is not None:                     # read MNIST first: a bad --data-dir fails fast
        from lottery_core.data import load_dataset
        from lottery_core.errors import DataError

        try:
            data = load_dataset("mnist", args.data_dir)
        except DataError as error:
            print(f"peers.py: error: --data-dir: {error}", file=sys.stderr)
            return 2
    env = dict(date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               machine=machine(), load_start=load(), python=platform.python_version(),
               jax=jax.__version__, jax_backend=jax.default_backend(), numpy=np.__version__,
               scipy=scipy.__version__, torch=torch.__version__ if torch else None,
               torch_threads=torch.get_num_threads() if torch else None)
    print(f"peers: {env['machine']}, load {env['load_start']}, jax {env['jax']}, "
          f"torch {env['torch'] or 'not installed'}", flush=True)
    rows, skipped = [], []

    print("one-neuron Monte Carlo vs solve_ivp loop:", flush=True)
    for r in peers_ode.measure(args.runs, args.subset, args.rounds,
                               log=lambda s: print(s, flush=True)):
        rows.append(dict(r, row=f"one-neuron MC, {args.runs} runs, d = {peers_ode.D}, T = "
                                f"{peers_ode.HORIZON:g}", ours=f"{r['name']} ({r['steps']} steps)",
                         peer=f"scipy {scipy.__version__} solve_ivp DOP853 rtol 1e-10 loop "
                              f"(timed on {r['subset']} runs, extrapolated)",
                         ours_time=f"{r['ours_s']:.3f} s", peer_time=f"{r['peer_s']:.1f} s",
                         agreement=f"max |Δ final state| {r['max_abs_diff']:.1e}",
                         goal=GOALS["one_neuron"]))
    if args.quick:
        skipped.append("--quick: the LeNet, ResNet-20 and scoring rows were not run.")
    elif torch is None:
        skipped.append("torch not installed: the LeNet, ResNet-20 and scoring rows were "
                       "skipped.")
    else:
        from bench import peers_torch

        peer = f"torch {torch.__version__} eager"
        thread_counts = sorted({args.threads, 1}, reverse=True)
        print("LeNet-300-100 IMP level:", flush=True)
        for threads in thread_counts:
            steps = args.lenet_steps if threads == 1 else args.lenet_steps_threaded
            r = peers_torch.lenet_level(torch, data, steps, args.rounds, threads)
            rows.append(dict(r, row=r["name"], ours="engine Trainer (lax.scan) + evaluate",
                             peer=f"{peer}, Adam, masked (open_lth style)",
                             ours_time=f"{r['ours_s']:.2f} s ({r['ours_steps_per_s']:.0f} "
                                       "steps/s)",
                             peer_time=f"{r['peer_s']:.2f} s ({r['peer_steps_per_s']:.0f} "
                                       "steps/s)", goal=GOALS["lenet"]))
        print("ResNet-20 step:", flush=True)
        for threads in thread_counts:
            r = peers_torch.resnet_step(torch, args.resnet_steps, args.rounds, threads)
            rows.append(dict(r, row=r["name"], ours="engine Trainer.step", peer=peer,
                             ours_time=f"{1e3 * r['ours_s']:.0f} ms/step",
                             peer_time=f"{1e3 * r['peer_s']:.0f} ms/step"))
        print("scoring at init:", flush=True)
        for threads in thread_counts:
            for r in peers_torch.scoring(torch, data, args.rounds, threads):
                rows.append(dict(r, row=r["name"], ours="lottery_core.sparsity (jit)",
                                 peer=f"{peer}, Synaptic-Flow style",
                                 ours_time=f"{1e3 * r['ours_s']:.1f} ms",
                                 peer_time=f"{1e3 * r['peer_s']:.1f} ms"))
        torch.set_num_threads(args.threads)
    env["load_end"] = load()
    command = "python bench/peers.py" + (" " + " ".join(argv if argv is not None else
                                                         sys.argv[1:])).rstrip()
    report = dict(command=command.strip(), environment=env, rows=rows, skipped=skipped,
                  settings=dict(runs=args.runs, subset=args.subset, rounds=args.rounds,
                                lenet_steps=args.lenet_steps,
                                lenet_steps_threaded=args.lenet_steps_threaded,
                                resnet_steps=args.resnet_steps,
                                threads=args.threads, quick=args.quick))
    atomic_write_json(Path(args.json), report)
    print(f"wrote {args.json}", flush=True)
    if args.results:
        write_results(Path(args.results), markdown(report))
        print(f"wrote the peers section of {args.results}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
