"""The val screen: clustering choices on a frozen encoder and the encoder runs, from real run folders."""

import json

import pytest

from cae.cli import main
from cae.screen import RULES, SCREEN_FILE, encoder_screen, read_clustering_screen, screen_run


@pytest.fixture
def screened_runs(tmp_path, fake_mnist_dir):
    root = tmp_path / "screen"
    for variant, setting in (("base", []), ("noflip", ["--set", "hflip=false"])):
        argv = ["reproduce", "--profile", "smoke", "--dataset", "mnist", "--data-dir",
                str(fake_mnist_dir), "--set", "val_holdout=100", *setting, "--no-baselines",
                "--no-floors", "--quiet", "--run-dir", str(root / f"mnist-quick-{variant}-seed0")]
        assert main(argv) == 0
    return root


def test_clustering_screen_scores_every_choice_on_val(screened_runs):
    run_dir = screened_runs / "mnist-quick-base-seed0"
    screen_run(run_dir)
    table = read_clustering_screen(run_dir)
    assert set(table["choice"]) == set(RULES) - {"encoder"}
    elbow = table[table["choice"] == "k range and elbow score"]
    assert len(elbow) == 6 and (elbow[elbow["option"].str.endswith("<= 10")]["k"] <= 10).all()
    assert set(table[table["choice"] == "clustering head"]["option"]) == {"scan", "n2d"}
    assert table["accuracy"].between(0, 1).all()
    assert table.groupby("choice")["chosen"].any().all()  # every choice has a winner
    assert json.loads((run_dir / SCREEN_FILE).read_text())[0]["choice"] == "k range and elbow score"


def test_encoder_screen_names_the_single_change(screened_runs):
    table = encoder_screen(screened_runs).set_index("variant")
    assert table.loc["noflip", "changed"] == "hflip=False"
    assert table.loc["base", "changed"] == "-"
    assert table["val knn"].between(0, 1).all() and table["val head hungarian"].between(0, 1).all()
