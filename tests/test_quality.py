"""Quality on real PneumoniaMNIST: the trained encoder beats an untrained one of the same seed.

Runs the `quick` profile (minutes), so it needs the real data: it is skipped only when
$CAE_DATA_DIR does not hold pneumoniamnist.npz.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cae.config import make_config
from cae.pipeline import reproduce

DATA = Path(os.environ.get("CAE_DATA_DIR", "/nonexistent"))


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "medmnist" / "pneumoniamnist.npz").is_file(),
                    reason="needs the real PneumoniaMNIST under $CAE_DATA_DIR/medmnist")
def test_quick_profile_beats_untrained_encoder(tmp_path):
    cfg = make_config("quick", dataset="pneumoniamnist", data_dir=str(DATA), progress=False)
    metrics = reproduce(cfg, tmp_path / "quick", baselines=False).metrics
    test = metrics[metrics.split == "test"].set_index(["model", "protocol"])["accuracy"]
    for protocol in ("knn", "lin"):
        ours, untrained = test["CAE (ours)", protocol], test["untrained encoder", protocol]
        pixels = test["raw pixels", protocol]
        print(f"{protocol}: trained {ours:.3f}  untrained {untrained:.3f}  raw pixels {pixels:.3f}")
        assert ours > untrained, f"{protocol}: trained {ours:.3f} <= untrained {untrained:.3f}"
