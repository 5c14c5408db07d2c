"""The claim registry, the verify runner's report files, and the CLI's exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

import lottery_cli.main as cli
from sims import registry, verify
from sims.registry import ClaimContext, Outcome


def test_outcome_default_comparison():
    assert Outcome(predicted=1.0, observed=1.05, tolerance=0.1).resolved_passed()
    assert not Outcome(predicted=1.0, observed=1.2, tolerance=0.1).resolved_passed()
    assert not Outcome(predicted=float("nan"), observed=1.0, tolerance=1.0).resolved_passed()
    assert not Outcome(predicted=0.0, observed=0.0, tolerance=1.0, passed=False,
                       comparison="forced to fail").resolved_passed()


def test_claim_ids_need_a_module():
    with pytest.raises(ValueError, match="module"):
        registry.claim("nomodule", source="s", statement="t")


def test_select_unknown_lists_known():
    with pytest.raises(KeyError) as info:
        registry.select(["definitely_not_a_claim"])
    assert "definitely_not_a_claim" in info.value.args[0]
    assert "Known modules" in info.value.args[0]


def test_claims_live_in_their_topic_package():
    """discover() imports sims/<topic>/claims.py; a claim id's prefix names its topic package."""
    claims = registry.discover()
    assert {c.module for c in claims.values()} >= {"one_neuron", "mirror", "robustness"}
    for c in claims.values():
        assert c.function.__module__ == f"sims.{c.module}.claims", c.id


def _toy_claims():
    def good(ctx: ClaimContext) -> Outcome:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, ctx.seed])
        fig.savefig(ctx.figure_path("toy.png"))
        plt.close(fig)
        return Outcome(predicted=0.5, observed=0.5 + 1e-9, tolerance=1e-6, figure="toy.png",
                       details={"n": ctx.size(10, 1000)})

    def bad(ctx: ClaimContext) -> Outcome:
        return Outcome(predicted=0.0, observed=1.0, tolerance=0.1)

    def broken(ctx: ClaimContext) -> Outcome:
        raise RuntimeError("boom")

    return [registry.Claim("toy.good", "test", "a claim that holds", good),
            registry.Claim("toy.bad", "test", "a claim that fails", bad),
            registry.Claim("toy.broken", "test", "a claim that raises", broken)]


def test_verify_writes_reports(tmp_path):
    good, bad, broken = _toy_claims()
    printed = io.StringIO()
    report = verify.verify([good, bad, broken], preset="quick", seed=3, out_dir=tmp_path,
                           progress=False, stream=printed)
    assert report["summary"]["verdicts"]["REPRODUCED"] == 1
    assert report["summary"]["verdicts"]["FAIL"] == 2
    assert report["summary"]["exit_code"] == 1
    on_disk = json.loads((tmp_path / "report.json").read_text())
    records = {r["claim"]: r for r in on_disk["claims"]}
    assert records["toy.good"]["passed"] is True
    assert records["toy.good"]["seed"] == 3 and records["toy.good"]["preset"] == "quick"
    assert records["toy.good"]["details"]["n"] == 10
    assert records["toy.good"]["comparison"] == "|observed − predicted| <= 1e-06"
    assert records["toy.bad"]["passed"] is False and records["toy.bad"]["verdict"] == "FAIL"
    assert "boom" in records["toy.broken"]["error"]
    assert records["toy.good"]["figure"] == "figures/quick/seed_3/toy.png"
    assert (tmp_path / records["toy.good"]["figure"]).stat().st_size > 0
    markdown = (tmp_path / "report.md").read_text()
    assert "![toy.good, seed 3](figures/quick/seed_3/toy.png)" in markdown
    assert "**FAIL**" in markdown
    table = printed.getvalue()
    assert "    rule: |observed − predicted| <= 0.1" in table       # toy.bad's rule
    assert "error (seed 3): RuntimeError: boom" in table


def test_cli_unknown_claim_exits_2(capsys):
    assert cli.main(["verify", "no_such_claim"]) == 2
    err = capsys.readouterr().err
    assert "no_such_claim" in err and "Known modules" in err


def test_cli_bad_usage_exits_2():
    with pytest.raises(SystemExit) as info:
        cli.main(["verify", "--preset", "huge"])
    assert info.value.code == 2
    assert cli.main(["derive"]) == 2
    assert cli.main(["derive", "no_such_derivation"]) == 2


def test_console_script_help():
    result = subprocess.run([sys.executable, "-m", "lottery_cli", "--help"],
                            capture_output=True, text=True, check=True)
    assert "verify" in result.stdout and "derive" in result.stdout
