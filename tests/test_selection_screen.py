"""The selection screen's read-out: rows from the selection split only, paired differences
against the floors of the same seed, and its figure."""

import math

import numpy as np
import pandas as pd
import pytest
from conftest import write_fake_mnist

from cae.config import make_config
from cae.pipeline import reproduce
from cae.report.paired import paired_differences, verdict, verdict_table, verdict_tables
from cae.report.selection_screen import main, screen_figure, screen_rows, write_summary


@pytest.fixture(scope="module")
def screen_root(tmp_path_factory):
    """Two screened smoke runs on a fake MNIST (val hold-out as the selection split)."""
    data_dir = write_fake_mnist(tmp_path_factory.mktemp("data"))
    root = tmp_path_factory.mktemp("selection-screen")
    for variant, extra in (("base", {}), ("jitter0.4", {"intensity_jitter": 0.4})):
        cfg = make_config("smoke", dataset="mnist", data_dir=str(data_dir), progress=False,
                          val_holdout=100, score_on="selection", train_subset=256, **extra)
        reproduce(cfg, root / f"mnist-smoke-{variant}-seed0", baselines=False)
    return root


def test_rows_come_from_the_selection_split_with_their_floors(screen_root):
    rows = screen_rows(screen_root)
    assert set(rows["variant"]) == {"base", "jitter0.4"}
    assert set(rows["model"]) == {"CAE (ours)", "raw pixels", "untrained encoder", "majority class"}
    jitter = rows[rows["variant"] == "jitter0.4"]
    assert set(jitter["changed"]) == {"intensity_jitter=0.4"}
    assert set(rows.loc[rows["variant"] == "base", "changed"]) == {"-"}
    assert (rows["steps"] == 2 * 3).all()  # 256 images, batch 128, 3 epochs


def test_paired_differences_are_ours_minus_each_floor(screen_root):
    rows = screen_rows(screen_root)
    paired = paired_differences(rows, by=("dataset", "variant"))
    one = paired[(paired["variant"] == "base") & (paired["protocol"] == "knn")
                 & (paired["floor"] == "raw pixels")].iloc[0]
    ours = rows[(rows["variant"] == "base") & (rows["protocol"] == "knn")
                & (rows["model"] == "CAE (ours)")]["accuracy"].iloc[0]
    pixels = rows[(rows["variant"] == "base") & (rows["protocol"] == "knn")
                  & (rows["model"] == "raw pixels")]["accuracy"].iloc[0]
    assert one["difference"] == pytest.approx(ours - pixels) and one["seeds"] == 1
    assert math.isnan(one["lo"])  # one seed: no interval
    assert len(paired) == 2 * 4 * 3  # variants x protocols x floors


def test_paired_interval_over_seeds():
    rows = pd.DataFrame([dict(dataset="d", variant="v", seed=s, model=m, protocol="knn", accuracy=a)
                         for s, (ours, floor) in enumerate([(0.8, 0.7), (0.9, 0.7), (0.7, 0.6)])
                         for m, a in (("CAE (ours)", ours), ("raw pixels", floor))])
    row = paired_differences(rows, by=("dataset", "variant")).iloc[0]
    diffs = np.array([0.1, 0.2, 0.1])
    half = 4.302652729911275 * diffs.std(ddof=1) / math.sqrt(3)  # t(0.975, 2)
    assert row["difference"] == pytest.approx(diffs.mean())
    assert (row["lo"], row["hi"]) == pytest.approx((diffs.mean() - half, diffs.mean() + half))
    assert row["verdict"] == "ties" and row["seeds"] == 3  # lo = 0.133 - 0.143 < 0


def test_a_data_only_floor_computed_once_pairs_with_every_seed():
    rows = pd.DataFrame([dict(dataset="d", split="test", seed=s, model="CAE (ours)", protocol="knn",
                              accuracy=a) for s, a in enumerate([0.80, 0.82, 0.81])]
                        + [dict(dataset="d", split="test", seed=0, model="raw pixels", protocol="knn",
                                accuracy=0.85),
                           dict(dataset="d", split="test", seed=0, model="majority class",
                                protocol="-", accuracy=0.6)])
    paired = paired_differences(rows).set_index("floor")
    assert paired.loc["raw pixels", "seeds"] == 3
    assert paired.loc["raw pixels", "difference"] == pytest.approx(0.81 - 0.85)
    assert paired.loc["raw pixels", "verdict"] == "loses"
    assert paired.loc["majority class", "verdict"] == "beats"
    table = verdict_table(paired.reset_index(), floors=("raw pixels", "majority class"))
    assert list(table.columns) == ["raw pixels", "majority class"]
    assert list(verdict_tables(paired.reset_index())) == ["d, test"]
    assert table.iloc[0]["raw pixels"].startswith("-0.040 [") and table.iloc[0]["raw pixels"].endswith("loses")


def test_verdict_reads_the_interval():
    assert verdict(0.01, 0.02) == "beats" and verdict(-0.02, -0.01) == "loses"
    assert verdict(-0.01, 0.02) == "ties" and verdict(float("nan"), float("nan")) == "one seed"


def test_summary_files_and_cli(screen_root, capsys):
    write_summary(screen_root)
    assert {"selection_screen.csv", "selection_paired.csv", "selection_screen_mnist.png"} <= {
        p.name for p in screen_root.iterdir()}
    fig = screen_figure(screen_rows(screen_root), "mnist")
    assert fig.get_figwidth() <= 7.5 and len(fig.axes) == 4
    assert main([str(screen_root)]) == 0
    assert main([str(screen_root / "nothing-here")]) == 2
    assert "error" in capsys.readouterr().err
