"""bench/peers.py without torch: ``--quick`` runs the one-neuron rows (ours against the
solve_ivp loop at a tiny size) and writes its JSON and markdown, where every integrator (the
full-state and the reduced one) agrees with solve_ivp to 1e-6; the graded grid; bad input is
one usage line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import peers, peers_ode  # noqa: E402


def test_quick_writes_the_one_neuron_rows(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## other\n\nkept\n")
    out = tmp_path / "peers.json"
    assert peers.main(["--quick", "--json", str(out), "--results", str(results)]) == 0
    report = json.loads(out.read_text())
    rows = report["rows"]
    assert [r["name"] for r in rows] == [v[0] for v in peers_ode.VARIANTS]
    for row in rows:
        assert row["runs"] == 100 and row["subset"] == 4
        assert row["ours_s"] > 0 and row["peer_s"] > 0
        assert row["ratio"] == pytest.approx(row["peer_s"] / row["ours_s"])
        assert row["max_abs_diff"] < 1e-6          # every integrator agrees with solve_ivp
    assert report["settings"]["quick"] is True
    assert report["skipped"] == ["--quick: the LeNet, ResNet-20 and scoring rows were not run."]
    text = results.read_text()
    assert "## other\n\nkept" in text and text.count(peers.BEGIN) == 1
    assert text.count("| one-neuron MC, 100 runs") == 3
    assert text.count("max \\|Δ final state\\|") == 3         # '|' in a cell is escaped
    # a second run replaces the section rather than appending another
    assert peers.main(["--quick", "--json", str(out), "--results", str(results)]) == 0
    assert results.read_text().count(peers.BEGIN) == 1


def test_graded_grid_spans_the_horizon():
    sizes = peers_ode.step_sizes(30, 2.0)
    np.testing.assert_allclose(sizes.sum(), peers_ode.HORIZON)
    assert np.all(np.diff(sizes) > 0)                   # finest at the start
    np.testing.assert_allclose(peers_ode.step_sizes(4, 1.0), peers_ode.HORIZON / 4)


def test_bad_input_is_one_usage_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        peers.main(["--rounds", "0"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "--rounds must be >= 1, got 0")
