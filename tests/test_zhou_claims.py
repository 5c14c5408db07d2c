"""The Zhou et al. network-scale claims (sims/zhou) at the quick preset, on a 600-image subset
of the real MNIST: one ``verify`` run shared by the module, its verdicts and record fields, the
run store reused by a second call, and ``lottery verify --list`` showing the budgets."""

from __future__ import annotations

import io
import json

import pytest

from sims import registry, verify
from sims.zhou import runs

DECIDED = ("zhou.criteria_ordering_k20", "zhou.signs_mask1", "zhou.zeros_mask0",
           "zhou.heuristic_supermask_fc")
UNDECIDED = ("zhou.dense_fc_baseline", "zhou.lt_matches_dense", "zhou.small_final_collapse",
             "zhou.heuristic_supermask_cifar", "zhou.learned_supermask_plain",
             "zhou.learned_supermask_signed_dwr")


@pytest.fixture(scope="module")
def quick(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("zhou_quick")
    claims = registry.select(["zhou"])
    rep = verify.verify(claims, preset="quick", seed=0, out_dir=out, progress=False,
                        stream=io.StringIO())
    return out, rep, {r["claim"]: r for r in rep["by_claim"]}


def test_quick_verdicts(quick):
    _, rep, by_id = quick
    assert set(by_id) == set(DECIDED) | set(UNDECIDED)
    assert {c: by_id[c]["verdict"] for c in DECIDED} == {c: "REPRODUCED" for c in DECIDED}
    assert {c: by_id[c]["verdict"] for c in UNDECIDED} == \
        {c: "INCONCLUSIVE" for c in UNDECIDED}


def test_quick_records_state_budget_paper_and_measurements(quick):
    out, _, _ = quick
    records = {r["claim"]: r for r in json.loads((out / "report.json").read_text())["claims"]}
    for claim in registry.select(["zhou"]):
        record = records[claim.id]
        assert record["budget"] == claim.budget.quick and record["paper"] == claim.paper
        assert "error" not in record, record.get("error")
    for claim_id in UNDECIDED:
        assert records[claim_id]["inconclusive"]
    # the schedule lands exactly on the spec's 1.19% at round 20 (spec §2.3)
    assert records["zhou.criteria_ordering_k20"]["observed"] == pytest.approx(1.19, abs=0.01)
    assert records["zhou.criteria_ordering_k20"]["details"]["at_k20"]["small_final"]["mean"] \
        <= 20.0
    # an untrained network with a one-shot mask is far above chance (11.35%)
    assert records["zhou.heuristic_supermask_fc"]["observed"] > 31.35
    learned = records["zhou.learned_supermask_signed_dwr"]["details"]
    assert learned["epochs"] == 2 and 0.1 < learned["kept_fraction"]["mean"] < 0.93
    assert all(11.35 < v <= 100 for v in learned["per_seed"].values())


def test_runs_are_stored_and_reused(quick):
    out, _, _ = quick
    store = out / "runs"
    folder = runs.folder("criteria", "quick", 0, store)
    assert folder.parent == store and (folder / "results.json").is_file()
    levels = sorted((folder / "runs").glob("*/seed_*/level_*/metrics.json"))
    assert len(levels) == 3 * 21                  # 3 criteria, rounds 0..20, one seed
    stamps = [p.stat().st_mtime_ns for p in levels]
    runs._CACHE.clear()
    # as a fresh process would: every level is found finished, nothing is trained again
    assert runs.folder("criteria", "quick", 0, store) == folder
    assert [p.stat().st_mtime_ns for p in levels] == stamps
    curve = json.loads((folder / "results.json").read_text())["curves"]["large_final"]
    assert curve["levels"] == list(range(21))


def test_list_shows_the_budgets(capsys):
    import lottery_cli.main as cli

    assert cli.main(["verify", "zhou", "--list"]) == 0
    text = capsys.readouterr().out
    for claim in registry.select(["zhou"]):
        assert claim.id in text
        for preset in ("quick", "full", "paper"):
            assert f"{preset}: {claim.budget.at(preset)}" in text
    assert "95.3% on MNIST [S]" in text
