"""Every committed metrics.json names its models and protocols with `cae.names`."""

from __future__ import annotations

import json
from pathlib import Path

from cae import names

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def test_committed_metrics_use_only_the_declared_names():
    files = sorted(ARTIFACTS.rglob("metrics.json"))
    assert files
    for path in files:
        rows = json.loads(path.read_text())
        assert {r["model"] for r in rows} <= set(names.MODELS), path
        assert {r["protocol"] for r in rows} <= set(names.PROTOCOLS), path
