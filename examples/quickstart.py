"""Quick start with the Python API: IMP and LRR on a tiny MLP, then the masks they found.

    python examples/quickstart.py [OUT]

Runs in well under a minute on a laptop CPU (synthetic data: no download). docs/api.md
explains each call.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

import lottery_core as lc


def main(out: Path) -> dict:
    data = lc.synthetic(n_train=400, n_test=100, input_shape=(8, 8, 1), validation_size=50)
    results = {}
    for method in ("imp", "lrr"):
        config = lc.ExperimentConfig(method=method, model="mlp", model_options={"widths": [32]},
                                     dataset="synthetic", optimizer="sgd", momentum=0.9,
                                     learning_rate=0.05, batch_size=25, iterations=60,
                                     levels=2, seeds=1)
        run_dir = lc.run_levels(config, out, dataset=data, progress=False, log=lambda s: None)
        last = run_dir / "seed_0" / "level_2"
        mask = lc.load_tree(last / "mask.npz")
        report = lc.density_report(mask, lc.prunable_paths(mask))
        results[method] = report["overall"]
        print(f"{method}: {run_dir.name}, density after 2 levels {report['overall']:.4f}")
    # the same exact per-layer counts for both methods: 20% of the remaining weights per level,
    # 10% of the output layer's (the MLP defaults), so a density between 0.8^2 and 0.9^2
    assert results["imp"] == results["lrr"] and 0.8 ** 2 < results["imp"] < 0.9 ** 2, results
    records = lc.read_run(out)
    print(f"{len(records)} finished levels, test accuracies "
          f"{np.round([r['test_accuracy'] for r in records], 3).tolist()}")
    return results


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
