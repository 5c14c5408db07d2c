"""The LRR paper's network-scale claims (sims/lrr, spec lrr.md §3 items 10-13) at the quick
preset on real CIFAR-10 images: one shared ``verify`` run of the whole topic, the records'
budget and paper fields, the claims reading the experiments' results, shared runs; the rules
and the data folder on their own; ``lottery verify --list`` showing the budgets."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

import lottery_cli.main as cli
from lottery_core.errors import DataError
from sims import registry, shared_data, verify
from sims.lrr import compare, settings
from sims.verdicts import INCONCLUSIVE

CLAIMS = ["lrr.lrr_at_least_wr", "lrr.lrr_mask_quality", "lrr.lrr_on_random_masks",
          "lrr.lrr_optimizes_wr_masks", "lrr.sign_flips_early",
          "lrr.sign_perturbation_robustness"]


@pytest.fixture(scope="module")
def quick(cifar10_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("lrr_claims")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOTTERY_DATA", str(cifar10_dir))
        rep = verify.verify(registry.select(["lrr"]), preset="quick", out_dir=out,
                            progress=False, stream=io.StringIO())
    return out, rep, {r["claim"]: r for r in rep["claims"]}


def results_of(out, name):
    [path] = list((out / "runs").glob(f"{name}-*/results.json"))
    return json.loads(path.read_text())


def test_every_claim_is_inconclusive_at_quick_with_budget_and_paper(quick):
    _, rep, records = quick
    assert sorted(records) == CLAIMS
    budget = settings.budget()
    for cid, r in records.items():
        assert "error" not in r, r.get("error")
        assert r["verdict"] == INCONCLUSIVE and r["inconclusive"], cid
        assert r["budget"].startswith(budget.quick) and "not the paper's setting" in r["budget"]
        assert r["paper"] and "retrieved" in r["paper"]
        assert r["figure"] and (quick[0] / r["figure"]).stat().st_size > 0
    assert rep["summary"]["exit_code"] == 0
    assert "sign" in records["lrr.sign_flips_early"]["inconclusive"]


def test_claims_read_the_experiments_gaps(quick):
    out, _, records = quick
    curves = results_of(out, "lrr-vs-imp")["curves"]
    lrr = np.array(curves["lrr"]["test_accuracy"]["mean"][1:])
    wr = np.array(curves["wr"]["test_accuracy"]["mean"][1:])
    g = records["lrr.lrr_at_least_wr"]["details"]["gap"]
    assert g["remaining"] == pytest.approx([80.0, 64.0], abs=0.01)
    np.testing.assert_allclose(g["per_level_mean"], lrr - wr)
    assert records["lrr.lrr_at_least_wr"]["observed"] == pytest.approx(min(lrr - wr))
    swap = results_of(out, "mask-swap")["curves"]
    mq = records["lrr.lrr_mask_quality"]["details"]["gap"]
    expected = np.array(swap["wr_on_lrr_masks"]["test_accuracy"]["mean"][1:]) - \
        np.array(swap["wr"]["test_accuracy"]["mean"][1:])
    assert mq["mean"] == pytest.approx(expected.mean())
    pert = results_of(out, "sign-perturbation")
    assert (pert["p"], pert["every"]) == (0.3, 1)
    d = records["lrr.sign_perturbation_robustness"]["details"]
    for m in ("lrr", "wr"):
        np.testing.assert_allclose(d["drop_mean"][m], pert["drop"][m]["mean"][1:])
    # the at-chance guard reads the perturbed curves (chance 10% on CIFAR-10)
    assert d["chance"] == 10.0 and d["best_perturbed_level_mean"] == pytest.approx(max(
        max(pert["curves"][f"{m}+perturbed"]["test_accuracy"]["mean"][1:]) for m in ("lrr", "wr")))
    flips = results_of(out, "lrr-signs")["methods"]
    row = records["lrr.sign_flips_early"]["details"]["rows"]["1"]
    assert row["lrr_vs_rewind_point"] == flips["lrr"]["vs_rewind_point"]["mean"][1]
    assert row["wr_vs_rewind_point"] == flips["wr"]["vs_rewind_point"]["mean"][1]


def test_wr_and_lrr_are_trained_once_for_all_claims(quick):
    out, _, records = quick
    runs = {r["details"]["runs"]["wr"] for r in (records["lrr.lrr_at_least_wr"],
                                                records["lrr.lrr_mask_quality"],
                                                records["lrr.lrr_optimizes_wr_masks"])}
    runs.add(records["lrr.sign_flips_early"]["details"]["runs"]["wr"])
    runs.add(records["lrr.sign_perturbation_robustness"]["details"]["runs"]["wr"])
    assert len(runs) == 1
    # wr, lrr, the two mask swaps, two random-mask runs, two perturbed runs (wr and lrr with
    # another config hash): eight runs in all, nothing trained twice
    folders = [p.name for p in (out / "runs" / "runs-test64").iterdir() if p.is_dir()]
    ref = records["lrr.lrr_at_least_wr"]["details"]["runs"]
    assert len(folders) == 8 and sorted(name.rsplit("-", 1)[0] for name in folders) == sorted(
        ["wr", "wr", "lrr", "lrr", "lrr+random-balanced", "wr+random-balanced",
         f"wr+mask-of-{ref['lrr']}", f"lrr+mask-of-{ref['wr']}"]), folders
    random = records["lrr.lrr_on_random_masks"]["details"]
    assert random["masks_equal"] is True and set(random["kinds"]) == {"balanced"}


def test_rules_decide_on_paired_gaps():
    remaining = [100.0, 80.0, 64.0]
    better = np.array([[50.0, 48.0], [52.0, 47.0], [51.0, 49.0]])
    g = compare.gaps(better, better - [[1.0, 2.0], [1.5, 2.5], [0.5, 1.5]], remaining)
    assert g["per_level_mean"] == pytest.approx([1.0, 2.0])
    assert g["mean"] == pytest.approx(1.5) and g["se"] == pytest.approx(0.5 / math.sqrt(3))
    assert compare.beats(g)[0] and compare.at_every_level(g)[0]
    # one level clearly worse: "at every level" fails although the mean gap is positive
    worse = compare.gaps(better, better - [[4.0, -1.0], [4.1, -1.1], [3.9, -0.9]], remaining)
    assert worse["mean"] > 0 and not compare.at_every_level(worse)[0]
    # a positive but noisy mean gap does not beat
    noisy = compare.gaps(better, better - [[3.0, 3.0], [-2.0, -2.0], [0.5, 0.5]], remaining)
    passed, rule = compare.beats(noisy)
    assert noisy["mean"] > 0 and not passed and "2·SE" in rule
    assert compare.early_levels(2) == [1] and compare.early_levels(7) == [1, 2, 3]
    assert compare.early_levels(10) == [1, 2, 3, 4]


def test_cifar10_folder_is_written_once_from_the_shared_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("LOTTERY_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("LOTTERY_SHARED_DATA", raising=False)
    monkeypatch.setattr(shared_data, "SHARED", tmp_path / "none")
    with pytest.raises(DataError, match="lottery data fetch cifar10"):
        shared_data.cifar10_dir()
    shared = tmp_path / "shared"
    shared.mkdir()
    # a stand-in for make_cifar10.py writing the six files (the real one takes ~15 s)
    (shared / "make_cifar10.py").write_text(
        "import pathlib, sys\nout = pathlib.Path(sys.argv[1], 'cifar-10-batches-py')\n"
        "out.mkdir()\nfor n in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:\n"
        "    (out / n).write_text(n)\n")
    monkeypatch.setattr(shared_data, "SHARED", shared)
    root = shared_data.cifar10_dir()
    assert root == tmp_path / "data"
    assert (root / "cifar-10-batches-py" / "test_batch").read_text() == "test_batch"
    assert [p.name for p in root.iterdir()] == ["cifar-10-batches-py"]    # no temp folder left
    (shared / "make_cifar10.py").unlink()
    assert shared_data.cifar10_dir() == root                              # found, not rewritten


def test_list_shows_the_budgets(capsys):
    assert cli.main(["verify", "lrr", "--list"]) == 0
    text = capsys.readouterr().out
    for cid in CLAIMS:
        assert cid in text
    assert "ResNet-18 (CIFAR) on CIFAR-10, all 50,000" in text
    assert "MLP 3072-300-100-10" in text and "every 30 epochs" in text
