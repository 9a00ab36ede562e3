"""A run directory that never lies: finished results are not relabelled with another config,
--overwrite deletes them first, one process at a time works in a folder, and `cae evaluate`
records provenance and does not advise --resume on Ctrl-C (issue 25, items 1, 2 and 8)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import write_fake_mnist

import cae.cli
import cae.pipeline
from cae.cli import main
from cae.infra.run_files import read_run_json
from cae.config import load_config
from cae.errors import CaeError
from cae.evaluation.export import export_decoder
from cae.infra import run_lock
from cae.infra.runs import (
    RESULTS_CONFIG,
    check_results_config,
    clear_results,
    results_config,
)
from cae.pipeline import reproduce

ROOT = Path(__file__).resolve().parents[1]
COMMITTED_RUN = ROOT / "artifacts" / "pneumoniamnist-validated-seed0"


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[list[str], Path]:
    """One finished smoke run (temperature 0.5, knn_k 5) on a fake MNIST, scored without
    floors or baselines, and the options that made it."""
    data_dir = write_fake_mnist(tmp_path_factory.mktemp("data"))
    options = ["--profile", "smoke", "--dataset", "mnist", "--data-dir", str(data_dir), "--quiet",
               "--set", "train_subset=256", "--set", "batch_size=64"]
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cae.cli, "_export", lambda run_dir, data_dir=None: None)
        assert main(["reproduce", *options, "--run-dir", str(run_dir), "--no-floors",
                     "--no-baselines"]) == 0
    return options, run_dir


@pytest.fixture
def run(finished, tmp_path) -> tuple[list[str], Path]:
    """A copy of the finished run, for one test to change."""
    options, run_dir = finished
    return options, Path(shutil.copytree(run_dir, tmp_path / "run"))


@pytest.fixture(autouse=True)
def no_onnx_export(monkeypatch):
    """The decoder export at the end of reproduce and evaluate, skipped (tested elsewhere)."""
    monkeypatch.setattr(cae.cli, "_export", lambda run_dir, data_dir=None: None)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("cae: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def _contents(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file()}


def test_train_over_a_finished_run_with_another_config_is_refused_and_reproduce_never_relabels(
        run, capsys):
    """The issue's first sequence: `train --set temperature=0.2` over a finished T = 0.5 run,
    then `reproduce --set temperature=0.2`, returned the T = 0.5 metrics as T = 0.2's."""
    options, run_dir = run
    before = _contents(run_dir)
    assert main(["train", *options, "--run-dir", str(run_dir), "--set", "temperature=0.2"]) == 2
    err = _one_line_error(capsys)
    assert "temperature 0.5 there, 0.2 asked" in err and "--overwrite" in err and "--run-dir" in err
    assert main(["reproduce", *options, "--run-dir", str(run_dir), "--set", "temperature=0.2",
                 "--no-floors", "--no-baselines"]) == 2
    assert "temperature 0.5 there, 0.2 asked" in _one_line_error(capsys)
    assert _contents(run_dir) == before  # nothing written, nothing removed

    assert main(["reproduce", *options, "--run-dir", str(run_dir), "--set", "temperature=0.2",
                 "--no-floors", "--no-baselines", "--overwrite"]) == 0
    assert results_config(run_dir).temperature == 0.2
    assert load_config(run_dir / "config.json").temperature == 0.2
    assert (run_dir / "checkpoint.pt").read_bytes() != before["checkpoint.pt"]  # trained again
    assert (run_dir / "metrics.json").read_bytes() != before["metrics.json"]


def test_reproduce_refuses_results_whose_config_json_was_changed_after_them(run, capsys):
    """The state the old `cae train` left (config.json of T = 0.2 beside T = 0.5 results):
    reproduce with T = 0.2 must not return them."""
    options, run_dir = run
    cfg = load_config(run_dir / "config.json")
    cfg.temperature = 0.2
    cfg.save(run_dir / "config.json")
    assert main(["reproduce", *options, "--run-dir", str(run_dir), "--set", "temperature=0.2",
                 "--no-floors", "--no-baselines"]) == 2
    assert "temperature 0.5 there, 0.2 asked" in _one_line_error(capsys)
    with pytest.raises(CaeError, match="another configuration"):
        reproduce(cfg, run_dir, baselines=False, floors=False)


def test_resume_with_another_knn_k_is_refused_and_overwrite_scores_again_without_training(
        run, capsys):
    """The issue's second sequence: `train --resume --set knn_k=50` over a finished knn_k = 5
    run, then `reproduce --set knn_k=50`, reported the knn_k = 5 numbers."""
    options, run_dir = run
    checkpoint = (run_dir / "checkpoint.pt").read_bytes()
    metrics = (run_dir / "metrics.json").read_bytes()
    scored = (run_dir / "metrics.json").stat().st_mtime_ns
    assert main(["train", *options, "--run-dir", str(run_dir), "--resume", "--set", "knn_k=50"]) == 2
    err = _one_line_error(capsys)
    assert "knn_k 5 there, 50 asked" in err and "--overwrite" in err and "training is kept" in err
    assert load_config(run_dir / "config.json").knn_k == 5
    assert main(["reproduce", *options, "--run-dir", str(run_dir), "--set", "knn_k=50",
                 "--no-floors", "--no-baselines"]) == 2
    assert "knn_k 5 there, 50 asked" in _one_line_error(capsys)
    assert (run_dir / "metrics.json").read_bytes() == metrics

    # an evaluation-only change with --overwrite: scored again on the same checkpoint
    assert main(["reproduce", *options, "--run-dir", str(run_dir), "--set", "knn_k=50",
                 "--no-floors", "--no-baselines", "--overwrite"]) == 0
    assert (run_dir / "checkpoint.pt").read_bytes() == checkpoint
    recorded = read_run_json(run_dir / RESULTS_CONFIG)
    assert recorded["config"]["knn_k"] == 50 and recorded["fingerprint"] == results_config(
        run_dir).fingerprint() == load_config(run_dir / "config.json").fingerprint()
    assert (run_dir / "metrics.json").stat().st_mtime_ns != scored  # written again
    # and now the finished knn_k = 50 run is read back, not trained or scored again
    written = (run_dir / "metrics.json").stat().st_mtime_ns
    assert main(["reproduce", *options, "--run-dir", str(run_dir), "--set", "knn_k=50",
                 "--no-floors", "--no-baselines"]) == 0
    assert (run_dir / "metrics.json").stat().st_mtime_ns == written


def test_evaluate_refuses_results_of_another_config_then_overwrite_scores_again(run, capsys):
    options, run_dir = run
    checkpoint = (run_dir / "checkpoint.pt").read_bytes()
    cfg = load_config(run_dir / "config.json")
    cfg.knn_k = 50
    cfg.save(run_dir / "config.json")  # changed by hand, or by a cae before the record
    assert main(["evaluate", "--run-dir", str(run_dir), "--no-floors"]) == 2
    err = _one_line_error(capsys)
    assert "knn_k 5 there, 50 asked" in err and "--overwrite" in err
    with pytest.raises(CaeError, match="knn_k 5 there, 50 asked"):
        export_decoder(run_dir)
    assert main(["evaluate", "--run-dir", str(run_dir), "--no-floors", "--overwrite"]) == 0
    assert results_config(run_dir).knn_k == 50
    assert (run_dir / "checkpoint.pt").read_bytes() == checkpoint


def test_train_over_a_finished_run_of_the_same_config_is_refused_too(run, capsys):
    options, run_dir = run
    assert main(["train", *options, "--run-dir", str(run_dir)]) == 2
    err = _one_line_error(capsys)
    assert "already holds a finished run" in err and "--resume" in err and "--overwrite" in err
    assert main(["train", *options, "--run-dir", str(run_dir), "--resume"]) == 0  # kept as it is


def test_retrain_over_a_run_of_another_config_needs_overwrite(run, capsys):
    options, run_dir = run
    assert main(["reproduce", *options, "--run-dir", str(run_dir), "--set", "temperature=0.2",
                 "--no-floors", "--no-baselines", "--retrain"]) == 2
    assert "temperature 0.5 there, 0.2 asked" in _one_line_error(capsys)


def test_runs_written_before_the_record_are_read_back_unchanged(run, tmp_path, capsys):
    """Committed runs have no results_config.json: theirs is their config.json, and
    reading them back writes nothing into them."""
    options, run_dir = run
    (run_dir / RESULTS_CONFIG).unlink()
    before = _contents(run_dir)
    cfg = load_config(run_dir / "config.json")
    assert reproduce(cfg, run_dir, baselines=False, floors=False).config == cfg
    assert _contents(run_dir) == before
    assert main(["train", *options, "--run-dir", str(run_dir), "--set", "temperature=0.2"]) == 2
    assert "temperature 0.5 there, 0.2 asked" in _one_line_error(capsys)

    committed = Path(shutil.copytree(COMMITTED_RUN, tmp_path / "committed"))
    before = _contents(committed)
    cfg = load_config(committed / "config.json")
    done = reproduce(cfg, committed)
    assert done.config == cfg and len(done.metrics) > 0
    assert _contents(committed) == before


def test_a_crash_while_old_results_are_deleted_leaves_them_labelled(run, monkeypatch):
    """--overwrite moves the old results aside, the record last, then deletes them: a
    crash part-way leaves older results under their own config, never a mixture."""
    _, run_dir = run
    cfg = load_config(run_dir / "config.json")
    other = load_config(run_dir / "config.json")
    other.temperature = 0.2
    real_rename, moved = Path.rename, []

    def crash_on_the_third(self, target):
        if len(moved) == 2:
            raise KeyboardInterrupt
        moved.append(self.name)
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", crash_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        clear_results(run_dir)
    monkeypatch.setattr(Path, "rename", real_rename)
    assert RESULTS_CONFIG not in moved and results_config(run_dir) == cfg
    with pytest.raises(CaeError, match="temperature 0.5 there, 0.2 asked"):
        check_results_config(other, run_dir, "")
    clear_results(run_dir)  # the next --overwrite finishes the job, and the crash's leftovers
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.json"]


HOLDER = ("import sys, time\n"
          "from cae.infra.run_lock import acquire\n"
          "acquire(sys.argv[1])\n"
          "print('held', flush=True)\n"
          "time.sleep(600)\n")


def _holder(run_dir: Path) -> subprocess.Popen:
    """Another process holding run_dir's lock."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                                     os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], env=env,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "held\n"
    return process


def test_a_second_process_is_refused_at_once_naming_the_holder(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = _holder(run_dir)
    try:
        options = ["--profile", "smoke", "--dataset", "mnist", "--quiet", "--run-dir", str(run_dir)]
        for argv in (["evaluate", "--run-dir", str(run_dir)],
                     ["export-decoder", "--run-dir", str(run_dir)],
                     ["train", *options], ["reproduce", *options, "--allow-untrained-weights"],
                     ["baselines", *options, "--allow-untrained-weights"]):
            assert main(argv) == 2, argv
            err = _one_line_error(capsys)
            assert f"in use by another cae process (PID {holder.pid})" in err, argv
        assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]  # nothing written
    finally:
        holder.kill()
        holder.wait()


def test_a_process_killed_with_sigkill_leaves_no_stale_lock(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = _holder(run_dir)
    holder.send_signal(signal.SIGKILL)
    assert holder.wait() == -signal.SIGKILL
    assert (run_dir / run_lock.LOCK_FILE).is_file()  # the file stays; its lock went with the process
    assert main(["evaluate", "--run-dir", str(run_dir)]) == 2
    assert "cannot read config" in _one_line_error(capsys)  # past the lock
    run_lock.acquire(run_dir)
    try:
        assert (run_dir / run_lock.LOCK_FILE).read_text() == f"{os.getpid()}\n"
        run_lock.acquire(run_dir)  # re-entrant within one process
        run_lock.release(run_dir)
        assert (run_dir / run_lock.LOCK_FILE).is_file()
    finally:
        run_lock.release(run_dir)
    assert not (run_dir / run_lock.LOCK_FILE).exists()


def test_ctrl_c_during_evaluate_does_not_advise_resume(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cae.pipeline, "evaluate", interrupted)
    assert main(["evaluate", "--run-dir", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert "--resume" not in err and "run `cae evaluate` again" in err


def test_train_then_evaluate_writes_and_updates_provenance(run):
    """`cae train` then `cae evaluate` (the torchrun path) wrote no provenance.json."""
    _, run_dir = run
    for path in run_dir.iterdir():  # what `cae train` leaves
        if path.name not in ("config.json", "checkpoint.pt", "history.json", "elbow.json"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert main(["evaluate", "--run-dir", str(run_dir), "--no-floors"]) == 0
    first = json.loads((run_dir / "provenance.json").read_text())
    trained = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    seconds = first["wall_time_s"]
    assert seconds["train"] == trained["seconds"] and seconds["evaluate"] > 0
    assert seconds["total"] == pytest.approx(seconds["train"] + seconds["evaluate"])
    assert first["world_size"] == trained["world_size"] == 1 and first["dataset"] == "mnist"
    assert results_config(run_dir) == load_config(run_dir / "config.json")

    assert main(["evaluate", "--run-dir", str(run_dir), "--no-floors"]) == 0
    second = json.loads((run_dir / "provenance.json").read_text())
    assert second["wall_time_s"]["train"] == seconds["train"]
    assert second["wall_time_s"]["evaluate"] != seconds["evaluate"]
