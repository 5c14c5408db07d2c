"""report.json, report.md and the figures of a ``lottery bench gpu`` run, from its phase
records, plus the report sections of the engine's phases (environment, epoch time, tickets,
LRR vs WR)."""

from __future__ import annotations

import datetime
from pathlib import Path

from lottery_core.bench.budget import FAILED, STATUSES
from lottery_core.store import atomic_write_json, atomic_write_text

REPORT_JSON, REPORT_MD = "report.json", "report.md"


def write_report(out: Path, phases, records: list[dict], header: dict) -> dict:
    """Draw each phase's figure, then write ``report.json`` (the header and every phase
    record) and ``report.md``; returns the report."""
    out = Path(out)
    for phase, record in zip(phases, records):
        record["figure"] = None
        if phase.figure is not None and record.get("result"):
            try:
                path = phase.figure(record, out)
            except Exception as exc:     # a figure must not cost the report
                record["figure_error"] = f"{type(exc).__name__}: {exc}"
            else:
                record["figure"] = None if path is None else Path(path).name
    report = {**header,
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec="seconds"),
              "order": [p.name for p in phases],
              "summary": {s: [r["phase"] for r in records if r["status"] == s]
                          for s in STATUSES},
              "phases": {r["phase"]: r for r in records}}
    atomic_write_json(out / REPORT_JSON, report)
    atomic_write_text(out / REPORT_MD, render_markdown(report, phases))
    return report


def render_markdown(report: dict, phases) -> str:
    env = report["phases"].get("environment", {}).get("result", {})
    lines = [f"# lottery bench gpu: {report['mode']} run on {env.get('device_kind', '?')} "
             f"({env.get('backend', '?')})", "",
             f"- created: {report['created']}", f"- command: `{report['command']}`",
             f"- budget: {report['budget_s']:g} s; elapsed: {report['elapsed_s']:.0f} s",
             f"- mode: {report['mode']} ({MODE_NOTE[report['mode']]})", "",
             "| phase | status | seconds | budget s | note |", "|---|---|---|---|---|"]
    for name in report["order"]:
        r = report["phases"][name]
        budget = "—" if r.get("budget_s") is None else f"{r['budget_s']:.0f}"
        note = (r.get("reason") or "") + (f" ({r['note']})" if r.get("note") else "")
        lines.append(f"| {name} | {r['status']} | {r['seconds']:.1f} | {budget} | {note} |")
    for phase in phases:
        r = report["phases"][phase.name]
        lines += ["", f"## {phase.title}", "", f"Status: **{r['status']}**"
                  + (f": {r['reason']}" if r.get("reason") else "") + "."]
        if r.get("note"):
            lines += ["", f"Note: {r['note']}."]
        if phase.markdown is not None and r.get("result"):
            section = phase.markdown(r)
            if section:
                lines += [""] + section
        if r.get("figure"):
            lines += ["", f"![{phase.title}]({r['figure']})"]
        if r["status"] == FAILED and r.get("traceback"):
            lines += ["", "<details><summary>traceback</summary>", "", "```",
                      r["traceback"].rstrip(), "```", "", "</details>"]
    return "\n".join(lines) + "\n"


MODE_NOTE = {"full": "the issue's sizes: ResNet-20 on the full CIFAR-10 training split",
             "tiny": "CPU/CI size: ResNet-8 on a few real CIFAR-10 images; the numbers only "
                     "show that every phase runs, they measure nothing"}


def _gib(value) -> str:
    return "not reported" if value is None else f"{value / 2**30:.2f} GiB"


# ----------------------------------------------------------------------------- sections
def environment_markdown(record: dict) -> list[str]:
    r = record["result"]
    libraries = ", ".join(f"{k} {v}" for k, v in r["libraries"].items() if v)
    return ["| what | value |", "|---|---|",
            f"| backend | {r['backend']} |", f"| devices | {'; '.join(r['devices'])} |",
            f"| memory limit | {_gib(r['memory_limit_bytes'])} |",
            f"| nvidia-smi | {r['nvidia_smi'] or 'not found'} |",
            f"| libraries | {libraries} |", f"| python | {r['python']} |",
            f"| machine | {r['platform']}, {r['cpu_count']} CPUs |",
            f"| XLA_FLAGS | `{r['xla_flags']}` |"]


def epoch_time_markdown(record: dict) -> list[str]:
    r = record["result"]
    rows = r.get("rows", [])
    if not rows:
        return []
    lines = [f"{r['model']}, one epoch = {rows[0]['steps']} steps over {r['train_images']} "
             f"training images with random crop + flip + normalization on the device; the "
             f"level runner's Trainer (LRR recipe: SGD, momentum 0.9, wd 1e-4, cosine "
             f"schedule, masked step). bfloat16 = the model's `compute_dtype` (convolutions and "
             f"matmuls in bf16; parameters, BN, gradients and optimizer state in float32). "
             f"First call = compilation + epoch 0; epoch = epoch 1 timed alone; evaluation on "
             f"the {rows[0]['eval_images']} test images.", "",
             "| batch | dtype | epoch s | images/s | first call s | compile s (≈) | eval s | "
             "train loss epoch 0 → 1 | test acc. after 2 epochs | peak device memory |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        loss = " → ".join(f"{v:.3f}" for v in row["train_loss_epoch"])
        lines.append(f"| {row['batch']} | {row['dtype']} | {row['epoch_s']:.3f} | "
                     f"{row['images_per_s']:.0f} | {row['first_call_s']:.1f} | "
                     f"{row['compile_s']:.1f} | {row['eval_s']:.3f} | {loss} | "
                     f"{100 * row['test_accuracy_after_2_epochs']:.1f}% | "
                     f"{_gib(row['peak_device_bytes'])} |")
    return lines


def tickets_markdown(record: dict) -> list[str]:
    r = record["result"]
    rows = r.get("rows", [])
    if not rows:
        return []
    lines = [f"K tickets (seeds: own initialization and batch order) trained together by "
             f"`Trainer.run_steps_seeds` (`--seed-parallel vmap`), batch {r['batch']}, float32, "
             f"one epoch ({r['steps']} steps) each; K = 1 is the plain `run_steps` (the "
             f"epoch_time row). Speed-up = K × (one ticket's epoch) / (K tickets' epoch).", "",
             "| K | program | epoch of K tickets s | ticket-images/s | speed-up vs sequential | "
             "first call s | peak device memory |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['tickets']} | {row['program']} | {row['epoch_s']:.3f} | "
                     f"{row['ticket_images_per_s']:.0f} | {row['speedup_vs_sequential']:.2f} | "
                     f"{row['first_call_s']:.1f} | {_gib(row['peak_device_bytes'])} |")
    return lines


def lrr_markdown(record: dict) -> list[str]:
    from lottery_core.bench.lrr import SPEC_STATEMENTS, table

    r = record["result"]
    if "plan" not in r:
        return []
    plan = r["plan"]
    lines = [f"Reduced LRR paper recipe (spec lrr.md §2.2) on {r['model']}, CIFAR-10, batch "
             f"{r['batch']}, {r['train_images']} training / {r['test_images']} test images, "
             f"seed {r['seed']}: {plan['warmup_epochs']} warmup epochs (the recipe: 10), "
             f"{plan['levels']} pruning levels of 20% (global magnitude), {plan['epochs']} "
             f"epochs per level (the recipe: 150), planned from the measured epoch time "
             f"({r['planned_from']['epoch_s']:.2f} s) to fit {r['planned_from']['available_s']:.0f}"
             f" s (estimate {plan['estimate_s']:.0f} s). Levels finished by both methods: "
             f"{r.get('levels_done', 0)} of {plan['levels'] + 1}.", "",
             f"The runs: `{r['command']}` (and `lottery experiment lrr-signs` with the same "
             f"options) finds them in the same folder and reports or extends them."]
    rows = table(r)
    if rows:
        lines += ["", "| level | remaining % | WR final % | LRR final % | LRR − WR pp | "
                  "WR best % | LRR best % | sign flips vs previous level WR / LRR % | "
                  "vs rewind point WR / LRR % |", "|---|---|---|---|---|---|---|---|---|"]
        for row in rows:
            def flips(key):
                a, b = row[f"wr_flips_{key}"], row[f"lrr_flips_{key}"]
                return "—" if a is None else f"{a:.3f} / {b:.3f}"

            lines.append(f"| {row['level']} | {row['remaining']:.1f} | {row['wr_accuracy']:.2f} | "
                         f"{row['lrr_accuracy']:.2f} | {row['lrr_minus_wr']:+.2f} | "
                         f"{row['wr_best_accuracy']:.2f} | {row['lrr_best_accuracy']:.2f} | "
                         f"{flips('vs_previous_level')} | {flips('vs_rewind_point')} |")
        observed = r.get("observations", {})
        lines += ["", "Spec statements beside this run (one seed and a reduced recipe: "
                  "indicative, not a validation of the claims):", "",
                  "| statement | source | here |", "|---|---|---|"]
        for st in SPEC_STATEMENTS:
            lines.append(f"| {st['text']} | {st['source']} | {observed.get(st['check'], '—')} |")
    return lines


def status_ok(records: list[dict]) -> bool:
    """No phase failed (skipped and partial phases are budget decisions, not faults)."""
    return all(r["status"] != FAILED for r in records)

