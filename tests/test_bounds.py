"""Ceilings on what a user can type, clamps announced and recorded, and refusals before any
file is written (issue 25, items 7 and 8)."""

from __future__ import annotations

import json

import pytest
from conftest import write_fake_mnist

import cae.infra.distributed
from cae import config
from cae.cli import main
from cae.config import PROFILES, clamped_settings, make_config
from cae.errors import CaeError
from cae.notebook_params import check_parameters
from cae.pipeline import check_before_work, train_run


@pytest.mark.parametrize("field, value, message", [
    ("epochs", config.MAX_EPOCHS + 1, "epochs must be <= 10,000"),
    ("batch_size", config.MAX_BATCH + 1, "batch_size must be <= 65,536"),
    ("probe_batch_size", config.MAX_BATCH + 1, "probe_batch_size must be in"),
    ("channels", (16, 32, config.MAX_WIDTH + 1), "channels must each be <= 1,024"),
    ("latent_dim", config.MAX_FEATURES + 1, "latent_dim must be <= 4,096"),
    ("projector_dims", (256, config.MAX_FEATURES + 1, 128), "projector_dims must each be"),
    ("k_max", config.MAX_K + 1, "k_max must be <= 200"),
    ("kmeans_n_init", config.MAX_KMEANS_INIT + 1, "kmeans_n_init must be <="),
    ("tsne_samples", config.MAX_IMAGES + 1, "tsne_samples must be"),
    ("tsne_samples", -5, "tsne_samples must be >= 1"),
    ("eval_train_images", config.MAX_IMAGES + 1, "eval_train_images"),
    ("train_subset", config.MAX_IMAGES + 1, "train_subset"),
    ("min_steps", config.MAX_STEPS + 1, "min_steps must be <="),
    ("probe_epochs", config.MAX_EPOCHS + 1, "probe_epochs"),
    ("head_epochs", config.MAX_EPOCHS + 1, "head_epochs"),
    ("head_self_label_epochs", config.MAX_EPOCHS + 1, "head_self_label_epochs"),
    ("head_neighbours", config.MAX_NEIGHBOURS + 1, "head_neighbours must be <="),
    ("knn_k", config.MAX_NEIGHBOURS + 1, "knn_k"),
    ("head_restarts", config.MAX_RESTARTS + 1, "head_restarts must be <= 100"),
    ("resnet_image_size", config.MAX_IMAGE_SIZE + 1, "resnet_image_size must be <= 512"),
])
def test_each_ceiling_is_one_line(field, value, message):
    with pytest.raises(CaeError, match=message) as caught:
        make_config("smoke", **{field: value})
    assert "\n" not in str(caught.value)


def test_every_profile_lies_under_the_ceilings():
    for profile in PROFILES:
        for dataset in ("mnist", "pneumoniamnist"):
            make_config(profile, dataset=dataset)


def test_cli_refuses_a_ceiling_before_writing_anything(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "--profile", "smoke", "--epochs", "20000", "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "epochs must be <= 10,000" in err and not run_dir.exists()


def test_clamped_settings_name_what_the_training_set_cuts():
    cfg = make_config("smoke", batch_size=4096, k_max=50)
    assert clamped_settings(cfg, 512) == {"batch_size": {"asked": 4096, "used": 512}}
    assert clamped_settings(cfg, 40) == {"batch_size": {"asked": 4096, "used": 40},
                                         "k_max": {"asked": 50, "used": 39}}
    assert clamped_settings(make_config("smoke"), 512) == {}
    assert clamped_settings(make_config("smoke", batch_size=600), 512, processes=3)["batch_size"][
        "used"] == 510
    with pytest.raises(CaeError, match="k_min 8 needs at least 9 training images"):
        clamped_settings(make_config("smoke", k_min=8, k_max=8), 8)


def test_clamps_are_announced_and_recorded_in_provenance(tmp_path, capsys):
    data = write_fake_mnist(tmp_path / "data")
    run_dir = tmp_path / "run"
    code = main(["reproduce", "--profile", "smoke", "--dataset", "mnist", "--data-dir", str(data),
                 "--run-dir", str(run_dir), "--batch-size", "128", "--set", "train_subset=32",
                 "--set", "k_max=40", "--set", "k_min=2", "--no-baselines", "--no-floors",
                 "--quiet", "--epochs", "2"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "cae: warning: batch_size 128" in err and "cae: warning: k_max 40" in err
    clamped = json.loads((run_dir / "provenance.json").read_text())["clamped"]
    assert clamped == {"batch_size": {"asked": 128, "used": 32}, "k_max": {"asked": 40, "used": 31}}


def test_torchrun_batch_refused_before_config_json(tmp_path, monkeypatch):
    monkeypatch.setattr(cae.infra.distributed, "world_size", lambda: 3)
    cfg = make_config("smoke", dataset="mnist")  # batch 128, not a multiple of 3
    with pytest.raises(CaeError, match="make it a multiple of 3"):
        train_run(cfg, None, tmp_path / "run")  # type: ignore[arg-type]
    assert not (tmp_path / "run" / "config.json").exists()
    with pytest.raises(CaeError, match="make it a multiple of 3"):
        check_before_work(cfg, tmp_path / "other", baselines=False)
    assert not (tmp_path / "other").exists()


def test_papermill_unknown_parameter_is_one_line():
    history = ["dataset = 'mnist'\nprofile = 'paper'\n", "# Parameters\nepochs = -3\n",
               "check_parameters(In)"]
    with pytest.raises(CaeError, match="unknown notebook parameter\\(s\\): epochs") as caught:
        check_parameters(history)
    assert "\n" not in str(caught.value)
