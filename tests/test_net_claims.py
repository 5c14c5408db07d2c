"""The network-scale claims of ``pai_net`` and ``pilot_net`` (LeNet-300-100 on real MNIST,
trained through the engine): both topics run once at the quick preset through one shared
``verify`` call; the records carry the budget and the paper's statement; the runs land in
the run store and a second call retrains nothing; ``lottery verify --list`` shows the
budgets; the paper-preset configurations are valid engine configurations."""

from __future__ import annotations

import io

import numpy as np
import pytest

from sims import lenet_mnist as ln
from sims import registry, verify

TOPICS = ("pai_net", "pilot_net")
IDS = ("pai_net.capacity_ordering", "pai_net.pai_below_imp", "pilot_net.imp_pilot_vs_lrr",
       "pilot_net.iterative_pilot_high_sparsity", "pilot_net.lrr_pilot_sparsest",
       "pilot_net.oneshot_vs_baselines")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("net_claims")
    report = verify.verify(registry.select(list(TOPICS)), preset="quick", out_dir=out,
                           progress=False, stream=io.StringIO())
    return out, report


def test_every_claim_is_inconclusive_at_quick_with_budget_and_paper(quick):
    _, report = quick
    rows = {row["claim"]: row for row in report["by_claim"]}
    assert sorted(rows) == sorted(IDS)
    claims = registry.discover()
    for claim_id, row in rows.items():
        assert row["verdict"] == "INCONCLUSIVE", (claim_id, row)
        assert row["budget"] == claims[claim_id].budget.quick
        assert row["paper"] == claims[claim_id].paper and "[P" in row["paper"]
    assert report["summary"]["exit_code"] == 0


def test_records_hold_the_measurements(quick):
    _, report = quick
    records = {r["claim"]: r for r in report["claims"]}
    for claim_id in IDS:
        record = records[claim_id]
        assert record["preset"] == "quick" and record["inconclusive"]
        assert np.isfinite(record["observed"])
    cap = records["pai_net.capacity_ordering"]["details"]
    # 256 images with random labels, one level at 90% sparsity: the dense level of every
    # method is one training (same θ_0, batches), so its memorization coincides exactly
    assert cap["n_random_labels"] == 256 and cap["compared_levels"] == [1]
    assert cap["dense_memorization_spread"] == 0.0
    row = next(iter(cap["table"].values()))
    assert abs(row["density"] - 0.1) < 1e-3
    assert set(row["memorization"]) == {"imp", "random", "magnitude-after"}
    for stats in row["memorization"].values():
        assert 0.0 <= stats["mean"] <= 1.0
    pai = records["pai_net.pai_below_imp"]["details"]
    assert set(pai["curves"]) == {"imp", "snip"}
    # SNIP keeps exactly IMP's number of weights at every level
    for a, b in zip(pai["curves"]["imp"], pai["curves"]["snip"]):
        assert a["density"] == b["density"]
    one = records["pilot_net.oneshot_vs_baselines"]["details"]
    assert one["compared_sparsities"] == [0.9, 0.95, 0.98]
    for s in ("0.9", "0.95", "0.98"):
        assert set(one["table"][s]["test_accuracy"]) == {"pilot", "standard"}
    it = records["pilot_net.iterative_pilot_high_sparsity"]["details"]
    assert set(it["curves"]) == {"imp", "lrr", "imp+pilot", "lrr+pilot"}
    densities = {m: [r["density"] for r in rows] for m, rows in it["curves"].items()}
    assert len({tuple(d) for d in densities.values()}) == 1      # the same masks' sizes


def test_runs_are_in_the_store_and_reused(quick):
    out, _ = quick
    store = out / "runs"
    names = {p.name.split("-")[0] for p in store.iterdir() if p.is_dir()}
    assert {"imp", "lrr", "snip", "imp+pilot", "lrr+pilot", "pilot", "oneshot",
            "mnist"} <= names
    assert (store / "mnist-random-labels").is_dir()
    before = {p: p.stat().st_mtime_ns for p in store.rglob("params.npz")}
    report = verify.verify(registry.select(list(TOPICS)), preset="quick", out_dir=out,
                           progress=False, stream=io.StringIO(), fresh=True)
    after = {p: p.stat().st_mtime_ns for p in store.rglob("params.npz")}
    assert before and before == after        # read from the store: no params rewritten
    assert [r["verdict"] for r in report["by_claim"]] == ["INCONCLUSIVE"] * len(IDS)


def test_list_shows_the_budgets(capsys):
    import lottery_cli.main as cli

    assert cli.main(["verify", "--list", *TOPICS]) == 0
    text = capsys.readouterr().out
    claims = registry.discover()
    for claim_id in IDS:
        assert claim_id in text
        assert claims[claim_id].budget.full[:60] in " ".join(text.split())


def test_random_labels_replace_the_training_labels_and_are_the_test_split():
    from sims.pai_net.claims import CAPACITY_BUDGETS, random_label_data

    data = random_label_data(CAPACITY_BUDGETS["quick"])
    real = ln.mnist(CAPACITY_BUDGETS["quick"])
    assert len(data.y_train) == 256 and len(data.y_val) == 0
    assert np.array_equal(data.x_test, real.x_train) and np.array_equal(data.y_test,
                                                                          data.y_train)
    # redrawn uniformly: about 1/10 agree with the true digit, all 10 classes occur
    assert np.mean(data.y_train == real.y_train) < 0.2
    assert set(np.unique(data.y_train)) == set(range(10))
    assert np.array_equal(random_label_data(CAPACITY_BUDGETS["quick"]).y_train, data.y_train)


def test_paper_budgets_are_valid_engine_configs():
    import lottery_core as lc
    from sims.pai_net.claims import CAPACITY_BUDGETS, PAI_PAPER_BUDGET
    from sims.pilot_net.claims import ITERATIVE_PAPER, ONESHOT_METHODS, ONESHOT_PAPER

    for budget in (CAPACITY_BUDGETS["paper"], PAI_PAPER_BUDGET, ITERATIVE_PAPER):
        for method in ("imp", "lrr", "snip", "synflow"):
            lc.ExperimentConfig(method=method, **budget).validate()
    lc.ExperimentConfig(method="lrr+pilot", **{**ITERATIVE_PAPER, "learning_rate": 0.2}).validate()
    fields = {k: v for k, v in ONESHOT_PAPER.items() if k != "sparsities"}
    for method, settings in ONESHOT_METHODS.values():
        lc.ExperimentConfig(method=method, **fields).validate()
        lc.OneShotSettings(sparsities=ONESHOT_PAPER["sparsities"], **settings).validate(method)
