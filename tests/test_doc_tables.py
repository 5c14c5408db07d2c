"""Every generated result table in docs/ matches the report it names; the generator renders
budgets, the paper's number and verdicts, and rewrites a stale block."""

from __future__ import annotations

import io
import json
from pathlib import Path

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
