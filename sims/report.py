"""The verify report: assembled from the finished records, rendered as JSON, Markdown and a
terminal table. Pure functions of the records; :mod:`sims.verify` runs the claims and writes.

Every claim is listed with its comparison rule and its verdict (:mod:`sims.verdicts`); a known
deviation also with its reason and the page that explains it. With several seeds each claim
gets its pass rate (the fraction of seeds at which its pass rule holds) and one combined
verdict; the per-seed records stay in ``claims``.
"""

from __future__ import annotations

import datetime
import json
import math
from typing import Any

from sims import verdicts


def environment() -> dict[str, Any]:
    """The report's record of where it ran (:func:`lottery_core.store.provenance.provenance`:
    toolkit version and commit, command line, Python, libraries, backend, devices)."""
    from lottery_core.store.provenance import provenance

    return provenance()


def _environment_line(prov: dict[str, Any]) -> str:
    libraries = ", ".join(f"{k} {v}" for k, v in prov["libraries"].items())
    return (f"- environment: Python {prov['python']}, {prov['platform']}, {libraries}, "
            f"backend {prov['backend']} ({', '.join(prov['devices'])})")


def _expected(claim) -> dict[str, str] | None:
    e = claim.expected
    return None if e is None else {"verdict": e.verdict, "reason": e.reason, "doc": e.doc}


def seeds_text(seeds: list[int]) -> str:
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return "seeds " + ", ".join(map(str, seeds))


def build(claims, *, preset: str, seeds: list[int], done: dict, reused: set, strict: bool,
          code: dict[str, Any], interrupted: bool = False, provenance_info=None) -> dict[str, Any]:
    """The report of ``claims`` × ``seeds``; ``done`` maps ``(claim id, seed)`` to finished
    records, ``reused`` holds the keys taken from an earlier run."""
    entries, by_claim = [], []
    for claim in claims:
        labels, passed, comparison = {}, 0, None
        for seed in seeds:
            record = done.get((claim.id, seed))
            label = verdicts.verdict(record, claim.expected)
            labels[seed] = label
            if record is None:
                entries.append({"claim": claim.id, "source": claim.source,
                                "statement": claim.statement, "preset": preset, "seed": seed,
                                "verdict": label, "expected": _expected(claim)})
                continue
            entries.append(dict(record, verdict=label, reused=(claim.id, seed) in reused,
                                expected=_expected(claim)))
            passed += bool(record["passed"]) and not record.get("error")
            comparison = comparison or record["comparison"]
        finished = sum(label != verdicts.NOT_RUN for label in labels.values())
        by_claim.append({
            "claim": claim.id, "source": claim.source, "statement": claim.statement,
            "budget": claim.budget_text(preset), "paper": claim.paper,
            "comparison": comparison, "expected": _expected(claim),
            "verdict": verdicts.combined(list(labels.values())),
            "seeds_finished": finished, "seeds_passed": passed,
            "pass_rate": passed / finished if finished else None,
            "verdicts_by_seed": {str(s): v for s, v in labels.items()},
            "observed_by_seed": {str(s): done[(claim.id, s)]["observed"]
                                 for s in seeds if (claim.id, s) in done}})
    all_labels = [e["verdict"] for e in entries]
    summary = {"claims": len(claims), "runs": len(entries),
               "finished": sum(v != verdicts.NOT_RUN for v in all_labels),
               "reused": len(reused), "passed": sum(e.get("passed") is True and not e.get("error")
                                                    for e in entries),
               "verdicts": verdicts.counts(all_labels),
               "exit_code": 130 if interrupted else verdicts.exit_code(all_labels,
                                                                      strict=strict)}
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "preset": preset, "seeds": list(seeds), "strict": strict, "interrupted": interrupted,
        "code": code, "provenance": provenance_info or environment(),
        "summary": summary, "by_claim": by_claim, "claims": entries,
    }


# --------------------------------------------------------------------------- text
def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _range(values: list) -> str:
    numbers = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not numbers:
        return "-"
    low, high = min(numbers), max(numbers)
    return _fmt(float(low)) if low == high else f"{_fmt(float(low))} … {_fmt(float(high))}"


def _known_line(expected: dict[str, str] | None) -> str | None:
    if expected is None:
        return None
    return f"known: {expected['reason']} See {expected['doc']}"


def summary_lines(report: dict[str, Any]) -> list[str]:
    """What the run found, in words: counts per verdict, the known deviations by name, the
    claims that fail, and what the exit status means."""
    s = report["summary"]
    counted = ", ".join(f"{n} {label}" for label, n in s["verdicts"].items()
                        if n or label in (verdicts.REPRODUCED, verdicts.FAIL))
    runs = "claims" if len(report["seeds"]) == 1 else "claim runs"
    lines = [f"{s['runs']} {runs} ({report['preset']}, {seeds_text(report['seeds'])}): {counted}."]
    if s["reused"]:
        lines.append(f"{s['reused']} of them reused from earlier records (--fresh recomputes).")
    headings = {verdicts.NOT_REPRODUCED: "Not reproduced (known, measured and documented)",
                verdicts.SPEC_THRESHOLD_NOT_MET: "Spec thresholds [R] not met (known, measured "
                "and documented; thresholds the spec derived, not the paper's)"}
    for label, heading in headings.items():
        known = [c for c in report["by_claim"] if c["verdict"] == label]
        if known:
            lines.append(f"{heading}: " + "; ".join(
                f"{c['claim']} ({c['expected']['doc']})" for c in known) + ".")
    bad = [c for c in report["by_claim"]
           if not verdicts.accepted(c["verdict"]) and c["verdict"] != verdicts.NOT_RUN]
    if bad:
        lines.append("Not matching the record: " + ", ".join(
            f"{c['claim']} ({c['verdict']})" for c in bad) + ".")
    not_run = [c["claim"] for c in report["by_claim"] if c["verdict"] == verdicts.NOT_RUN]
    if not_run:
        lines.append(f"Not run: {', '.join(not_run)}.")
    if report["interrupted"]:
        rule = "interrupted; rerun the same command to resume"
    elif report["strict"]:
        rule = "only REPRODUCED passes (--strict)"
    else:
        rule = ("every verdict must match its record; --strict also fails on known "
                "deviations and inconclusive claims")
    lines.append(f"exit {s['exit_code']}: {rule}.")
    return lines


def print_table(report: dict[str, Any], stream) -> None:
    """One row per claim, its comparison rule under it (and a known deviation's reason)."""
    rows = report["by_claim"]
    width = max([len(r["claim"]) for r in rows] + [5])
    verdict_width = max(len(v) for v in verdicts.ORDER)
    single = len(report["seeds"]) == 1
    if single:
        header = (f"{'claim':<{width}}  {'predicted':>11}  {'observed':>11}  {'tolerance':>10}  "
                  f"{'verdict':<{verdict_width}}  seconds")
    else:
        header = (f"{'claim':<{width}}  {'pass rate':>10}  {'verdict':<{verdict_width}}  "
                  "observed (min … max over seeds)")
    print(header, file=stream)
    print("-" * len(header), file=stream)
    entries = {(e["claim"], e["seed"]): e for e in report["claims"]}
    for row in rows:
        if single:
            e = entries[(row["claim"], report["seeds"][0])]
            seconds = "reused" if e.get("reused") else (
                f"{e['seconds']:.2f}" if "seconds" in e else "-")
            print(f"{row['claim']:<{width}}  {_fmt(e.get('predicted', '-')):>11}  "
                  f"{_fmt(e.get('observed', '-')):>11}  {_fmt(e.get('tolerance', '-')):>10}  "
                  f"{row['verdict']:<{verdict_width}}  {seconds:>7}", file=stream)
        else:
            rate = f"{row['seeds_passed']}/{row['seeds_finished']}"
            print(f"{row['claim']:<{width}}  {rate:>10}  {row['verdict']:<{verdict_width}}  "
                  f"{_range(list(row['observed_by_seed'].values()))}", file=stream)
            odd = [f"{s} ({v})" for s, v in row["verdicts_by_seed"].items()
                   if not verdicts.accepted(v)]
            if odd:
                print(f"    seeds not matching: {', '.join(odd)}", file=stream)
        if row["comparison"]:
            print(f"    rule: {row['comparison']}", file=stream)
        if row.get("paper"):
            print(f"    budget: {row['budget']}; paper: {row['paper']}", file=stream)
        known = _known_line(row["expected"])
        if known:
            print(f"    {known}", file=stream)
        for seed in report["seeds"]:
            error = entries[(row["claim"], seed)].get("error")
            if error:
                print(f"    error (seed {seed}): {error}", file=stream)
            why = entries[(row["claim"], seed)].get("inconclusive")
            if why:
                print(f"    inconclusive (seed {seed}): {why}", file=stream)


# --------------------------------------------------------------------------- markdown
def render_markdown(report: dict[str, Any]) -> str:
    single = len(report["seeds"]) == 1
    s = report["summary"]
    lines = [
        "# lottery verify report",
        "",
        f"- created: {report['created']}",
        f"- preset: `{report['preset']}`, {seeds_text(report['seeds'])}"
        + (", strict" if report["strict"] else ""),
        f"- code: toolkit {report['code']['toolkit']}, git commit "
        f"{report['code']['git_commit'] or 'unknown'}",
        "- command: `" + " ".join(report["provenance"]["command"]) + "`",
        _environment_line(report["provenance"]),
    ]
    if report["interrupted"] or s["finished"] < s["runs"]:
        lines.append(f"- **partial report**: {s['finished']} of {s['runs']} claim runs finished"
                     + (" (interrupted)" if report["interrupted"] else "")
                     + "; rerun the same command to resume")
    lines += [""] + summary_lines(report) + [
        "",
        "Verdicts: REPRODUCED (the pass rule holds); NOT REPRODUCED and SPEC THRESHOLD [R] NOT "
        "MET (known deviations, recorded with the reason and the page that explains them; "
        "[R] marks a threshold the spec derived itself, not the paper's); INCONCLUSIVE (the "
        "budget cannot decide the claim, with the reason); FAIL (unexpected "
        "failure or error); UNEXPECTED PASS (a known deviation passed); NOT RUN.",
        "",
    ]
    if single:
        lines += ["| claim | verdict | predicted | observed | tolerance | rule | seconds |",
                  "|---|---|---|---|---|---|---|"]
    else:
        lines += ["| claim | verdict | pass rate | observed (min … max) | rule |",
                  "|---|---|---|---|---|"]
    entries = {(e["claim"], e["seed"]): e for e in report["claims"]}
    for row in report["by_claim"]:
        mark = row["verdict"] if verdicts.accepted(row["verdict"]) else f"**{row['verdict']}**"
        rule = (row["comparison"] or "-").replace("|", "\\|")
        if single:
            e = entries[(row["claim"], report["seeds"][0])]
            seconds = "reused" if e.get("reused") else _fmt(e.get("seconds", "-"))
            lines.append(f"| `{row['claim']}` | {mark} | {_fmt(e.get('predicted', '-'))} | "
                         f"{_fmt(e.get('observed', '-'))} | {_fmt(e.get('tolerance', '-'))} | "
                         f"{rule} | {seconds} |")
        else:
            lines.append(f"| `{row['claim']}` | {mark} | {row['seeds_passed']}/"
                         f"{row['seeds_finished']} | "
                         f"{_range(list(row['observed_by_seed'].values()))} | {rule} |")
    lines.append("")
    for row in report["by_claim"]:
        lines += [f"## `{row['claim']}`", "", f"*Source:* {row['source']}", "", row["statement"],
                  "", f"*Rule:* {row['comparison'] or '(not run)'}", ""]
        if row.get("paper"):
            lines += [f"*Budget ({report['preset']}):* {row['budget']}", "",
                      f"*Paper:* {row['paper']}", ""]
        lines += [f"*Verdict:* {row['verdict']}"]
        if row["expected"]:
            e = row["expected"]
            lines += ["", f"*Known deviation ({e['verdict']}):* {e['reason']} See `{e['doc']}`."]
        lines.append("")
        for seed in report["seeds"]:
            lines += _seed_section(entries[(row["claim"], seed)], single)
        figures = [entries[(row["claim"], seed)].get("figure") for seed in report["seeds"]]
        figures = [f for f in figures if f]
        if figures:
            first = next(s for s in report["seeds"] if entries[(row["claim"], s)].get("figure"))
            lines += ["", f"![{row['claim']}, seed {first}]({figures[0]})"]
        lines.append("")
    return "\n".join(lines)


def _seed_section(e: dict[str, Any], single: bool) -> list[str]:
    if e["verdict"] == verdicts.NOT_RUN:
        return [f"- seed {e['seed']}: not run"]
    text = (f"predicted {_fmt(e['predicted'])}, observed {_fmt(e['observed'])}, tolerance "
            f"{_fmt(e['tolerance'])}: {e['verdict']}"
            + (" (reused record)" if e.get("reused") else ""))
    lines = [f"- seed {e['seed']}: {text}"]
    if e.get("inconclusive"):
        lines.append(f"  - inconclusive at this budget: {e['inconclusive']}")
    if e.get("error"):
        lines += ["", "```", e["error"], "```", ""]
    details = {k: v for k, v in e["details"].items() if k != "traceback"}
    if single and details:     # with several seeds the details stay in report.json
        lines += ["", "<details><summary>details</summary>", "", "```json",
                  json.dumps(details, indent=1), "```", "", "</details>"]
    return lines
