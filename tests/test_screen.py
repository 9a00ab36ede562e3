"""The val screen: clustering choices on a frozen encoder and the encoder runs, from real run folders."""

import json
from pathlib import Path

import pandas as pd
import pytest

from cae.cli import main
from cae.evaluation.screen import (
    RULES,
    SCREEN_FILE,
    encoder_screen,
    pick,
    read_clustering_screen,
    screen_run,
    write_summary,
)

COMMITTED = Path(__file__).resolve().parent.parent / "artifacts" / "screen"


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory, shared_fake_mnist_dir):
    """Two smoke runs of the screen, base and no flip, trained once for the module."""
    root = tmp_path_factory.mktemp("screen")
    for variant, setting in (("base", []), ("noflip", ["--set", "hflip=false"])):
        argv = ["reproduce", "--profile", "smoke", "--dataset", "mnist", "--data-dir",
                str(shared_fake_mnist_dir), "--set", "val_holdout=100", *setting, "--no-baselines",
                "--no-floors", "--quiet", "--run-dir", str(root / f"mnist-quick-{variant}-seed0")]
        assert main(argv) == 0
    return root


@pytest.fixture(scope="module")
def screened_runs(trained_runs):
    """The two runs with the base run's clustering screen stored in its folder."""
    screen_run(trained_runs / "mnist-quick-base-seed0")
    return trained_runs


@pytest.mark.slow
def test_clustering_screen_scores_every_choice_on_val(screened_runs):
    run_dir = screened_runs / "mnist-quick-base-seed0"
    table = read_clustering_screen(run_dir)
    assert set(table["choice"]) == set(RULES) - {"encoder"}
    elbow = table[table["choice"] == "k range and elbow score"]
    assert len(elbow) == 6 and (elbow[elbow["option"].str.endswith("<= 10")]["k"] <= 10).all()
    assert set(table[table["choice"] == "clustering head"]["option"]) == {"scan", "n2d"}
    assert table["accuracy"].between(0, 1).all()
    assert table.groupby("choice")["chosen"].any().all()  # every choice has a winner
    assert json.loads((run_dir / SCREEN_FILE).read_text())[0]["choice"] == "k range and elbow score"


@pytest.mark.slow
def test_encoder_screen_names_the_single_change(trained_runs):
    table = encoder_screen(trained_runs).set_index("variant")
    assert table.loc["noflip", "changed"] == "hflip=False"
    assert table.loc["base", "changed"] == "-"
    assert table["val knn"].between(0, 1).all() and table["val head hungarian"].between(0, 1).all()


@pytest.mark.slow
def test_write_summary_writes_the_chapters_tables_and_figure(screened_runs, tmp_path):
    write_summary(screened_runs, out=tmp_path)
    encoders = pd.read_csv(tmp_path / "encoder_screen.csv")
    assert encoders["variant"].tolist() == ["base", "noflip"] and encoders["chosen"].sum() == 1
    assert pd.read_csv(tmp_path / "clustering_screen.csv")["chosen"].sum() == 4  # one per choice
    assert (tmp_path / "screen.png").read_bytes()[:4] == b"\x89PNG"


def test_pick_keeps_the_default_within_the_margin():
    options = pd.Series(["paper", "other", "third"])
    assert pick(options, pd.Series([0.900, 0.904, 0.1]), "paper").tolist() == [True, False, False]
    assert pick(options, pd.Series([0.900, 0.906, 0.1]), "paper").tolist() == [False, True, False]
    assert pick(options, pd.Series([0.2, 0.1, 0.3]), None).tolist() == [False, False, True]


@pytest.mark.skipif(not (COMMITTED / "encoder_screen.csv").is_file(), reason="no committed screen")
def test_committed_screen_tables_are_what_the_committed_runs_give(tmp_path):
    write_summary(COMMITTED, out=tmp_path)
    for name in ("encoder_screen.csv", "clustering_screen.csv"):
        assert (tmp_path / name).read_text() == (COMMITTED / name).read_text(), name
