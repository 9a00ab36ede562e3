"""The command line end to end: reproduce, resume, and one-line errors on bad input."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import normalized_mutual_info_score

import cae.method.train
from cae.cli import main
from cae.config import make_config

REAL_DATA = Path(os.environ.get("CAE_DATA_DIR", "/nonexistent"))
HAS_PNEUMONIA = (REAL_DATA / "medmnist" / "pneumoniamnist.npz").is_file()


@pytest.fixture
def dataset_args(fake_mnist_dir: Path) -> list[str]:
    """Real PneumoniaMNIST when CAE_DATA_DIR holds it (CI), else MNIST-format data the test made."""
    if HAS_PNEUMONIA:
        return ["--dataset", "pneumoniamnist", "--data-dir", str(REAL_DATA)]
    return ["--dataset", "mnist", "--data-dir", str(fake_mnist_dir)]


@pytest.mark.slow
def test_reproduce_smoke_writes_every_artifact(tmp_path, dataset_args, capsys):
    run_dir = tmp_path / "run"
    code = main(["reproduce", "--profile", "smoke", *dataset_args, "--run-dir", str(run_dir),
                 "--allow-untrained-weights", "--quiet"])
    assert code == 0, capsys.readouterr().err
    for name in ("config.json", "checkpoint.pt", "history.json", "elbow.json", "metrics.json",
                 "metrics.csv", "provenance.json", "mapping_vs_k.json"):
        assert (run_dir / name).is_file(), name
    for name in ("montage", "training", "elbow", "reconstructions", "prototypes"):
        assert (run_dir / "figures" / f"{name}.png").stat().st_size > 1000
    rows = json.loads((run_dir / "metrics.json").read_text())
    splits = {"val", "test"} if HAS_PNEUMONIA else {"test"}
    n_classes = 2 if HAS_PNEUMONIA else 10
    for split in splits:
        assert (run_dir / "figures" / f"tsne_{split}.png").is_file()
        assert (run_dir / "figures" / f"mapping_vs_k_{split}.png").is_file()
        elbow_k = json.loads((run_dir / "elbow.json").read_text())["k"]
        assert (run_dir / "figures" / f"composition_{split}_k{elbow_k}.png").is_file()
        ours = {r["protocol"] for r in rows if r["model"] == "CAE (ours)" and r["split"] == split}
        assert ours == {"stat", "knn", "lin", "hungarian"}
        head = {r["protocol"]: r for r in rows
                if r["model"] == "CAE + clustering head" and r["split"] == split}
        assert set(head) == {"stat", "hungarian"} and head["hungarian"]["k"] == n_classes
    models = {r["model"] for r in rows}
    assert models == {"CAE (ours)", "CAE + clustering head", "ResNet18", "Feature+KM",
                      "majority class", "raw pixels", "untrained encoder"}
    hungarian_k = {r["k"] for r in rows if r["protocol"] == "hungarian"}
    assert hungarian_k == {n_classes}  # one cluster per class, for our model and every floor
    assert {r["weights"] for r in rows if r["model"] in ("ResNet18", "Feature+KM")} == {"untrained"}
    assert all(0 <= r["accuracy"] <= 1 for r in rows)
    provenance = json.loads((run_dir / "provenance.json").read_text())
    assert provenance["precision"] in ("fp32", "bf16") and provenance["wall_time_s"]["total"] > 0
    assert 100 < provenance["peak_rss_mb"] < 64 * 1024  # MiB: torch alone takes over 100
    after = provenance["peak_rss_mb_after"]  # the peak so far after each phase: never falls
    assert after["train"] <= after["evaluate"] <= after["baselines"] <= provenance["peak_rss_mb"]
    assert "UNTRAINED" in capsys.readouterr().err
    against_k = json.loads((run_dir / "mapping_vs_k.json").read_text())
    chosen = json.loads((run_dir / "elbow.json").read_text())["k"]
    ours_stat = {r["split"]: r["accuracy"] for r in rows
                 if r["model"] == "CAE (ours)" and r["protocol"] == "stat"}
    for split in splits:  # the curve at the elbow's k is protocol (a) itself
        at_elbow = against_k[split]["accuracy"][against_k["ks"].index(chosen)]
        assert at_elbow == pytest.approx(ours_stat[split], abs=1e-9)
        # the cluster-by-class counts at each k are the clustering scored at that k
        for k, counts, nmi in zip(against_k["ks"], against_k[split]["composition"],
                                  against_k[split]["nmi"]):
            counts = np.array(counts)
            assert counts.shape[0] == k
            clusters, labels = np.nonzero(counts)
            repeats = counts[clusters, labels]
            assert normalized_mutual_info_score(np.repeat(labels, repeats),
                                                np.repeat(clusters, repeats)) == pytest.approx(nmi)

    # a second call reuses the finished run instead of retraining
    before = (run_dir / "checkpoint.pt").stat().st_mtime_ns
    assert main(["reproduce", "--profile", "smoke", *dataset_args, "--run-dir", str(run_dir),
                 "--allow-untrained-weights", "--quiet"]) == 0
    assert (run_dir / "checkpoint.pt").stat().st_mtime_ns == before

    # evaluate recomputes our rows and floors identically and keeps the baseline rows
    assert main(["evaluate", "--run-dir", str(run_dir)]) == 0
    assert json.loads((run_dir / "metrics.json").read_text()) == rows

    # a run folder that lost a training file is refused with one line, before any work
    history = (run_dir / "history.json").read_bytes()
    (run_dir / "history.json").unlink()
    capsys.readouterr()
    assert main(["evaluate", "--run-dir", str(run_dir)]) == 2
    assert "history.json is missing" in capsys.readouterr().err
    (run_dir / "history.json").write_bytes(history)


def test_baselines_command_refuses_without_weights_then_labels_untrained(tmp_path, fake_mnist_dir,
                                                                         offline_hub, capsys):
    args = ["baselines", "--profile", "smoke", "--dataset", "mnist", "--data-dir",
            str(fake_mnist_dir), "--run-dir", str(tmp_path / "run"), "--quiet"]
    assert main(args) == 2
    assert "--allow-untrained-weights" in capsys.readouterr().err
    assert main([*args, "--allow-untrained-weights"]) == 0
    rows = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert {(r["model"], r["weights"]) for r in rows} == {("ResNet18", "untrained"),
                                                          ("Feature+KM", "untrained")}


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    payload = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    return {f"{part}.{k}": v for part in ("encoder", "decoder", "cond_decoder")
            for k, v in payload[part].items()} | {"prototypes": payload["prototypes"]}


def test_resume_gives_identical_results(tmp_path, fake_mnist_dir, monkeypatch):
    args = ["train", "--profile", "smoke", "--dataset", "mnist", "--data-dir", str(fake_mnist_dir),
            "--quiet", "--set", "train_subset=256", "--set", "batch_size=64"]
    assert main([*args, "--run-dir", str(tmp_path / "straight")]) == 0

    calls = {"n": 0}
    real_save = cae.method.train.save_checkpoint

    def interrupted_save(*a, **k):
        real_save(*a, **k)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(cae.method.train, "save_checkpoint", interrupted_save)
    assert main([*args, "--run-dir", str(tmp_path / "resumed")]) == 130
    monkeypatch.setattr(cae.method.train, "save_checkpoint", real_save)
    assert torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=False)["epoch"] == 2
    assert main([*args, "--run-dir", str(tmp_path / "resumed"), "--resume"]) == 0

    straight, resumed = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert straight.keys() == resumed.keys()
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name
    history = [json.loads((tmp_path / d / "history.json").read_text()) for d in ("straight", "resumed")]
    assert history[0] == history[1]


@pytest.mark.slow
def test_kill_9_mid_training_then_resume_gives_identical_results(tmp_path, fake_mnist_dir):
    args = ["train", "--profile", "smoke", "--dataset", "mnist", "--data-dir", str(fake_mnist_dir),
            "--quiet", "--set", "train_subset=256", "--set", "batch_size=32", "--set", "epochs=6",
            "--set", "warmup_epochs=3"]
    assert main([*args, "--run-dir", str(tmp_path / "straight")]) == 0

    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "cae.cli", *args, "--run-dir", str(killed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (killed / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # the first epoch's checkpoint: training is under way
    time.sleep(random.Random(0).uniform(0.0, 0.2))  # then a step somewhere after it
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    epoch = torch.load(killed / "checkpoint.pt", weights_only=True)["epoch"]
    assert 1 <= epoch < 6  # killed mid-run, after at least one epoch
    assert main([*args, "--run-dir", str(killed), "--resume"]) == 0

    straight, resumed = _weights(tmp_path / "straight"), _weights(killed)
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name
    history = [json.loads((d / "history.json").read_text()) for d in (tmp_path / "straight", killed)]
    assert history[0] == history[1]


@pytest.mark.parametrize("argv, message", [
    (["train", "--dataset", "cifar10"], "unknown dataset 'cifar10'"),
    (["train", "--set", "temperature=-1"], "temperature must be > 0"),
    (["train", "--set", "no_such_field=1"], "unknown configuration field(s): no_such_field"),
    (["train", "--set", "batch_size=many"], "batch_size must be a whole number"),
    (["evaluate", "--run-dir", "/nonexistent/run"], "cannot read config"),
    (["export-decoder"], "export-decoder needs --run-dir"),
    (["export-decoder", "--run-dir", "/nonexistent/run"], "cannot read config"),
    (["train", "--set", "epochs=abc"], "epochs must be a whole number"),
    (["train", "--epochs", "0"], "epochs must be a positive integer"),
    (["train", "--set", "channels=a,b,c"], "channels must be a whole number, got 'a'"),
    (["train", "--set", "dataset=cifar10"], "unknown dataset 'cifar10'"),  # no --dataset: --set counts
    (["train", "--dataset", "mnist", "--set", "dataset=pneumoniamnist"], "disagree"),
    (["train", "--seed", "1", "--set", "seed=2"], "--seed 1 and --set seed=2 disagree"),
])
def test_bad_input_gives_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_data_names_file_md5_and_place(tmp_path, capsys, monkeypatch):
    import medmnist

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(medmnist.dataset.MedMNIST, "download", offline)
    monkeypatch.setattr("cae.data.datasets.MEDMNIST_DEFAULT_ROOT", tmp_path / "cache")
    assert main(["train", "--profile", "smoke", "--data-dir", str(tmp_path / "empty"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "pneumoniamnist.npz not found" in err and "28209eda62fecd6e6a2d98b1501bb15f" in err
    assert str(tmp_path / "empty" / "medmnist" / "pneumoniamnist.npz") in err
    assert not (tmp_path / "empty").exists()  # the failed download leaves no empty folder


def test_corrupt_data_file_is_refused(tmp_path, capsys):
    (tmp_path / "medmnist").mkdir()
    (tmp_path / "medmnist" / "pneumoniamnist.npz").write_bytes(b"not an npz")
    assert main(["train", "--profile", "smoke", "--data-dir", str(tmp_path), "--quiet"]) == 2
    assert "corrupt" in capsys.readouterr().err


def test_checkpoint_from_another_config_is_refused(tmp_path, fake_mnist_dir, capsys):
    args = ["train", "--profile", "smoke", "--dataset", "mnist", "--data-dir", str(fake_mnist_dir),
            "--run-dir", str(tmp_path), "--quiet", "--set", "train_subset=128"]
    assert main(args) == 0
    assert main([*args, "--resume", "--set", "temperature=0.2"]) == 2
    assert "another configuration" in capsys.readouterr().err
    # fields read only after training may change: the finished checkpoint is taken as it is
    before = (tmp_path / "checkpoint.pt").read_bytes()
    assert main([*args, "--resume", "--set", "tsne_samples=500", "--set", "knn_k=3"]) == 0
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert json.loads((tmp_path / "config.json").read_text())["tsne_samples"] == 500


def test_training_fingerprint_leaves_out_evaluation_fields_only():
    cfg = make_config("smoke", dataset="mnist")
    evaluated = make_config("smoke", dataset="mnist", tsne_samples=500, head_method="n2d")
    trained = make_config("smoke", dataset="mnist", temperature=0.2)
    assert evaluated.fingerprint(training_only=True) == cfg.fingerprint(training_only=True)
    assert evaluated.fingerprint() != cfg.fingerprint()
    assert trained.fingerprint(training_only=True) != cfg.fingerprint(training_only=True)


def test_epochs_option_scales_the_phases():
    from cae.cli import build_parser, config_from_args

    cfg = config_from_args(build_parser().parse_args(["train", "--profile", "paper", "--epochs", "20"]))
    assert (cfg.epochs, cfg.warmup_epochs, cfg.lr_warmup_epochs) == (20, 10, 2)
    assert cfg == make_config("paper", epochs=20, warmup_epochs=10, lr_warmup_epochs=2)


@pytest.mark.parametrize("command", ["train", "evaluate", "baselines", "reproduce", "export-decoder"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0 and "--run-dir" in capsys.readouterr().out


def test_reproduce_checks_weights_and_run_dir_before_training(tmp_path, fake_mnist_dir,
                                                              offline_hub, capsys):
    args = ["reproduce", "--profile", "smoke", "--dataset", "mnist", "--data-dir",
            str(fake_mnist_dir), "--quiet"]
    run_dir = tmp_path / "run"
    assert main([*args, "--run-dir", str(run_dir)]) == 2
    assert "--allow-untrained-weights" in capsys.readouterr().err
    assert not (run_dir / "checkpoint.pt").exists()  # refused before the first epoch
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for command in (["reproduce", "--allow-untrained-weights"], ["train"]):
        assert main([*command, *args[1:], "--run-dir", str(a_file)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("cae: error: run directory") and "existing file" in err
        assert len(err.strip().splitlines()) == 1
