"""Budgets of network-scale claims: quick / full / paper, the record's budget and paper fields,
the run folder the claim trains into, and simulations at the paper preset."""

from __future__ import annotations

import pytest

from sims import registry, verify
from sims.registry import Budget, Outcome

BUDGET = Budget(quick="2 levels, 300 iterations", full="12 levels, 50k iterations",
                paper="20 levels, 50k iterations, 5 seeds")


def _seen(ctx):
    return Outcome(predicted=0.0, observed=0.0, tolerance=0.0,
                   details={"preset_seen": ctx.preset, "runs": str(ctx.runs()),
                            "pick": ctx.pick("q", "f", "p")})


def test_budget_needs_every_preset_and_claims_need_the_paper_number():
    with pytest.raises(ValueError, match="'paper' preset"):
        Budget(quick="a", full="b", paper=" ")
    with pytest.raises(ValueError, match="give paper="):
        registry.claim("toy.no_paper", source="s", statement="t", budget=BUDGET)(_seen)


@pytest.mark.parametrize("preset", ["quick", "full", "paper"])
def test_network_claim_record_states_budget_and_paper(tmp_path, preset):
    network = registry.Claim("toy.network", "src", "stmt", _seen, budget=BUDGET,
                             paper="98.2% [P]")
    record = verify.run_claim(network, seed=0, preset=preset, out_dir=tmp_path)
    assert record["passed"] is True
    assert record["budget"] == BUDGET.at(preset)
    assert record["paper"] == "98.2% [P]"
    assert record["details"]["preset_seen"] == preset
    assert record["details"]["pick"] == preset[0]
    assert record["details"]["runs"] == str(tmp_path / "runs")
    assert (tmp_path / "runs").is_dir()


def test_simulation_claim_runs_at_full_when_paper_is_asked(tmp_path):
    simulation = registry.Claim("toy.sim", "src", "stmt", _seen)
    record = verify.run_claim(simulation, seed=0, preset="paper", out_dir=tmp_path,
                              runs_dir=tmp_path / "store")
    assert record["preset"] == "paper"
    assert record["details"]["preset_seen"] == "full"
    assert record["details"]["pick"] == "f"
    assert record["budget"].startswith("full")
    assert record["paper"] is None
    assert record["details"]["runs"] == str(tmp_path / "store")


def test_report_shows_budget_and_paper(tmp_path):
    import io

    network = registry.Claim("toy.network", "src", "stmt", _seen, budget=BUDGET,
                             paper="98.2% [P]")
    stream = io.StringIO()
    rep = verify.verify([network], preset="full", out_dir=tmp_path, progress=False,
                        stream=stream)
    assert rep["by_claim"][0]["budget"] == BUDGET.full
    assert f"budget: {BUDGET.full}; paper: 98.2% [P]" in stream.getvalue()
    markdown = (tmp_path / "report.md").read_text()
    assert f"*Budget (full):* {BUDGET.full}" in markdown and "*Paper:* 98.2% [P]" in markdown


def test_inconclusive_budget_is_reported_and_only_strict_fails(tmp_path):
    import io

    def undecided(ctx):
        return Outcome(predicted=1.0, observed=0.0, tolerance=0.0,
                       inconclusive="600 images and 2 levels cannot order the criteria")

    network = registry.Claim("toy.undecided", "src", "stmt", undecided, budget=BUDGET,
                             paper="1.19% remaining: >= 95.5% [P]")
    stream = io.StringIO()
    rep = verify.verify([network], preset="quick", out_dir=tmp_path, progress=False,
                        stream=stream)
    assert rep["by_claim"][0]["verdict"] == "INCONCLUSIVE"
    assert rep["summary"]["exit_code"] == 0
    assert "inconclusive (seed 0): 600 images" in stream.getvalue()
    strict = verify.verify([network], preset="quick", out_dir=tmp_path, progress=False,
                           stream=io.StringIO(), strict=True)
    assert strict["summary"]["exit_code"] == 1
