"""Every generated result table in docs/ matches the report it names; the generator renders
budgets, the paper's number and verdicts, and rewrites a stale block."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from sims import doc_tables, registry, verify
from sims.registry import Budget, Outcome

ROOT = Path(__file__).resolve().parents[1]


def test_every_docs_table_is_generated_from_its_report():
    pages = sorted((ROOT / "docs").glob("*.md"))
    stale = {str(p.name): doc_tables.update(p, check=True) for p in pages}
    assert not {k: v for k, v in stale.items() if v}, \
        "run: python -m sims.doc_tables docs/*.md"


def _report(tmp_path):
    def measured(ctx):
        return Outcome(predicted=0.98, observed=0.975, tolerance=0.01,
                       details={"preset": ctx.preset})

    network = registry.Claim("toy.net", "src", "stmt", measured,
                             budget=Budget(quick="q", full="LeNet, 2 seeds", paper="p"),
                             paper="98.2% [P]")
    other = registry.Claim("other.sim", "src", "stmt", measured)
    verify.verify([network, other], preset="full", out_dir=tmp_path / "out", progress=False,
                  stream=io.StringIO())
    return json.loads((tmp_path / "out" / "report.json").read_text())


def test_render_and_update_a_marked_block(tmp_path):
    report = _report(tmp_path)
    table = doc_tables.render(report, ["toy.*"])
    assert "| `toy.net` | LeNet, 2 seeds | 98.2% [P] | 0.975 |" in table
    assert "other.sim" not in table
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "r.json").write_text(json.dumps(report))
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- verify-table: docs/r.json claims=toy.* -->\nold\n"
                    "<!-- /verify-table -->\nafter\n")
    assert doc_tables.update(page, tmp_path, check=True) == ["docs/r.json"]
    assert "old" in page.read_text()
    assert doc_tables.update(page, tmp_path) == ["docs/r.json"]
    text = page.read_text()
    assert "old" not in text and table in text and text.endswith("after\n")
    assert doc_tables.update(page, tmp_path, check=True) == []


def test_curve_table_from_an_experiments_results(tmp_path):
    """An experiment's accuracy curves at the named rounds, mean ± std over seeds, with the
    percentage remaining; a round the results do not have is refused by name."""
    curve = {"levels": [0, 1, 2], "remaining": [100.0, 80.0, 64.0],
             "mean": [97.5, 98.125, 11.35], "std": [0.1, 0.05, 0.0],
             "per_seed": {"0": {"0": 97.4, "1": 97.6}, "1": {"0": 98.1, "1": 98.15},
                          "2": {"0": 11.35, "1": 11.35}}}
    results = {"experiment": "zhou-criteria", "metric": "test accuracy",
               "provenance": {"toolkit": {"commit": "0123456789abcdef"}},
               "curves": {"large_final": curve, "small_final": {**curve, "mean": [1, 2, 3]}}}
    table = doc_tables.render_curves(results, [0, 2])
    assert "commit 0123456789" in table and "over 2 seeds" in table
    assert "| curve | k=0 (100.00%) | k=2 (64.00%) |" in table
    assert "| `large_final` | 97.50 ± 0.10 | 11.35 ± 0.00 |" in table
    assert "| `small_final` | 1.00 ± 0.10 | 3.00 ± 0.00 |" in table
    (tmp_path / "r.json").write_text(json.dumps(results))
    page = tmp_path / "page.md"
    page.write_text("<!-- curve-table: r.json levels=0,2 -->\nold\n<!-- /curve-table -->\n")
    assert doc_tables.update(page, tmp_path) == ["r.json"]
    assert page.read_text().count(table) == 1 and "old" not in page.read_text()
    page.write_text("<!-- curve-table: r.json levels=0,5 -->\n<!-- /curve-table -->\n")
    missing = re.escape("rounds [5] are not in the results (it has 0..2)")
    with pytest.raises(ValueError, match=missing):
        doc_tables.update(page, tmp_path)
    page.write_text("<!-- curve-table: r.json -->\n<!-- /curve-table -->\n")
    with pytest.raises(ValueError, match="name the rounds to show"):
        doc_tables.update(page, tmp_path)
