"""bench/seed_sweep.py: the per-seed records and per-claim table of docs' seed sweeps, from
report.json files written by the real `lottery verify` runner; sims.stats' Wilson bound of
claims stated over many instances."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import pytest

from sims import registry, verify
from sims.registry import Outcome
from sims.stats import wilson_interval

REPO = Path(__file__).resolve().parents[1]


def _load_bench():
    spec = importlib.util.spec_from_file_location("seed_sweep", REPO / "bench" / "seed_sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _claims(fail_at_seed: int):
    """Two toy claims: one always passes; one fails at ``fail_at_seed`` (observed = seed)."""
    def always(ctx):
        return Outcome(predicted=0.0, observed=0.0, tolerance=0.0)

    def seeded(ctx):
        return Outcome(predicted=1.0, observed=float(ctx.seed), tolerance=0.0,
                       passed=ctx.seed != fail_at_seed, comparison="seed != fail_at_seed",
                       details={"over_instances": {"instances": 10, "held": 9, "rate": 0.9,
                                                 "wilson95": list(wilson_interval(9, 10))}})

    return [registry.Claim("toy.always", "src", "stmt", always),
            registry.Claim("toy.seeded", "src", "stmt", seeded)]


def test_collect_summarize_and_markdown(tmp_path, capsys):
    bench = _load_bench()
    for seed in range(3):
        verify.verify(_claims(fail_at_seed=1), preset="quick", seed=seed,
                      out_dir=tmp_path / f"s{seed}", progress=False, stream=io.StringIO())
    sweep = bench.collect([tmp_path / f"s{s}" for s in range(3)])
    assert [r["seeds"] for r in sweep["reports"]] == [[0], [1], [2]]
    seeded = [r for r in sweep["records"] if r["claim"] == "toy.seeded"]
    assert [(r["seed"], r["passed"], r["observed"]) for r in seeded] == [
        (0, True, 0.0), (1, False, 1.0), (2, True, 2.0)]
    assert seeded[0]["over_instances"]["held"] == 9
    table = bench.summarize(sweep["records"])
    row = table[("toy.seeded", "quick")]
    assert (row["passes"], row["failed_seeds"], row["observed_min"], row["observed_max"]) == (
        2, [1], 0.0, 2.0)
    assert table[("toy.always", "quick")]["passes"] == 3
    text = bench.markdown(table)
    assert "| `toy.seeded` | quick | 2 / 3 | 0 … 2 | 1 | FAIL × 1, REPRODUCED × 2 |" in text
    assert "| `toy.always` | quick | 3 / 3 | 0 … 0 | none | REPRODUCED × 3 |" in text

    # a later report of the same claim and seed replaces the earlier record (a re-run)
    verify.verify(_claims(fail_at_seed=99), preset="quick", seed=1, out_dir=tmp_path / "rerun",
                  progress=False, stream=io.StringIO())
    out = tmp_path / "sweep.json"
    assert bench.main([*(str(tmp_path / f"s{s}") for s in range(3)), str(tmp_path / "rerun"),
                       "--out", str(out), "--markdown"]) == 0
    records = json.loads(out.read_text())["records"]
    rerun = [r for r in records if r["claim"] == "toy.seeded" and r["seed"] == 1]
    assert len(rerun) == 1 and rerun[0]["passed"]
    assert rerun[0]["superseded"]["passed"] is False and rerun[0]["superseded"]["observed"] == 1.0
    out = capsys.readouterr().out
    assert "| `toy.seeded` | quick | 3 / 3 |" in out
    assert "| `toy.seeded` | quick | 1 | 9 / 10 | 0.900 | [0.596, 0.982] | PASS |" in out
    assert "toy.always` | quick | 1 | " not in out      # no instances: not in that table
    # pooled over the 3 seeds: 27 of 30 instances
    assert "| `toy.seeded` | quick | all 3 | 27 / 30 | 0.900 | [0.744, 0.965] |  |" in out


def test_missing_report_is_one_line_and_exit_2(tmp_path, capsys):
    assert _load_bench().main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nowhere" in err


def test_wilson_interval_matches_scipy():
    from scipy.stats import binomtest

    for k, n in ((9, 10), (4, 4), (0, 5), (12, 16), (11, 16), (137, 200)):
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)
    # all k of k: k / (k + z²); the bound exceeds 1/2 from 4 of 4 and from 12 of 16 on
    assert wilson_interval(4, 4)[0] == pytest.approx(4 / (4 + 1.959963984540054**2))
    assert wilson_interval(3, 3)[0] < 0.5 < wilson_interval(4, 4)[0]
    assert wilson_interval(11, 16)[0] < 0.5 < wilson_interval(12, 16)[0]
    with pytest.raises(ValueError, match="3 of 2"):
        wilson_interval(3, 2)


def test_first_format_reports_are_read_with_todays_verdicts(tmp_path):
    """Reports written before the resumable verify (one ``seed``, ``environment``, no verdicts)
    are collected; a failing record of a claim with a documented deviation gets that verdict."""
    bench = _load_bench()
    known = "robustness.data_independent_masks"       # SPEC THRESHOLD [R] NOT MET on record
    record = {"claim": known, "source": "s", "statement": "t", "predicted": 0.5,
              "observed": 0.73, "tolerance": 0.0, "comparison": "ratio < 0.5", "passed": False,
              "preset": "full", "seed": 4, "seconds": 1.0, "figure": None, "details": {}}
    old = {"created": "2026-12-07T01:00:00+00:00", "preset": "full", "seed": 4,
           "environment": {"python": "3.11.7"}, "summary": {}, "claims": [record]}
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "report.json").write_text(json.dumps(old))
    sweep = bench.collect([tmp_path / "old"])
    assert sweep["reports"][0]["seeds"] == [4]
    assert sweep["reports"][0]["provenance"] == {"python": "3.11.7"}
    [collected] = sweep["records"]
    assert collected["verdict"] == "SPEC THRESHOLD [R] NOT MET" and collected["seed"] == 4
