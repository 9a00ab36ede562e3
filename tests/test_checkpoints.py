"""Checkpoints: safe to load from a stranger, never overwritten by a failed write or NaN weights."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import cae.method.train
from cae.config import make_config
from cae.data.datasets import load_dataset
from cae.errors import CaeError
from cae.infra.runtime import Runtime
from cae.method.train import CHECKPOINT, read_checkpoint, train


class _WritesAFile:
    """Unpickling this calls Path.write_text: what a hostile checkpoint could do."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return Path.write_text, (self.target, "pwned")


def _smoke(fake_mnist_dir: Path, **overrides):
    cfg = make_config("smoke", dataset="mnist", data_dir=str(fake_mnist_dir), progress=False,
                      **overrides)
    return cfg, load_dataset("mnist", cfg.data_dir, cfg.train_subset, cfg.seed)


def test_a_checkpoint_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    target = tmp_path / "written-on-load"
    torch.save({"fingerprint": "x", "encoder": _WritesAFile(target)}, tmp_path / CHECKPOINT)
    with pytest.raises(CaeError, match=str(tmp_path / CHECKPOINT)):
        read_checkpoint(tmp_path, make_config("smoke"))
    assert not target.exists()


def test_truncated_checkpoint_names_the_file(tmp_path, fake_mnist_dir):
    cfg, data = _smoke(fake_mnist_dir)
    train(cfg, data, tmp_path)
    payload = read_checkpoint(tmp_path, cfg)  # a finished run loads with weights_only
    assert payload["epoch"] == cfg.epochs and payload["elbow"]["k"] >= cfg.k_min
    path = tmp_path / CHECKPOINT
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CaeError, match=f"cannot read checkpoint {path}"):
        read_checkpoint(tmp_path, cfg)


def test_nan_loss_stops_at_once_and_keeps_the_last_good_checkpoint(tmp_path, fake_mnist_dir,
                                                                   monkeypatch):
    cfg, data = _smoke(fake_mnist_dir)
    real_step = cae.method.train.phase1_step
    calls = []

    def step_going_nan(nets, x, *args):
        calls.append(1)
        losses = real_step(nets, x, *args)
        return losses * float("nan") if len(calls) == 5 else losses  # epoch 2, step 1

    monkeypatch.setattr(cae.method.train, "phase1_step", step_going_nan)
    with pytest.raises(CaeError) as error:
        train(cfg, data, tmp_path)
    message = str(error.value)
    assert "NaN or infinite in epoch 2, between steps 1 and 4 of 4" in message
    assert f"checkpoint of epoch 1, {tmp_path / CHECKPOINT}, is kept" in message
    payload = read_checkpoint(tmp_path, cfg)
    assert payload["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in payload["encoder"].values())


def test_a_failing_rename_keeps_the_previous_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    from cae.infra import files
    from cae.method.checkpoints import CHECKPOINT, save_checkpoint
    from cae.method.networks import TrainState, build_networks

    cfg = make_config("smoke", dataset="mnist")
    nets = build_networks(cfg, 1)
    state = TrainState(nets, torch.optim.SGD(nets.encoder.parameters(), lr=0.1), torch.Generator())
    save_checkpoint(state, cfg, tmp_path)
    before = (tmp_path / CHECKPOINT).read_bytes()
    state.epoch = 1

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", failing_replace)
    with pytest.raises(CaeError, match="No space left on device.*previous file is kept"):
        save_checkpoint(state, cfg, tmp_path)
    assert (tmp_path / CHECKPOINT).read_bytes() == before
    assert not (tmp_path / (CHECKPOINT + ".tmp")).exists()


def _train_one_epoch_then_stop(monkeypatch, cfg, data, run_dir: Path,
                               runtime: Runtime | None = None) -> None:
    """Train cfg until its first epoch's checkpoint is written, then stop as a killed run
    would (the next epoch raises); training is whole again afterwards."""
    real_epoch = cae.method.train._run_epoch

    def stop_after_the_first(state, *args):
        if state.epoch == 1:
            raise KeyboardInterrupt
        return real_epoch(state, *args)

    with monkeypatch.context() as patch:
        patch.setattr(cae.method.train, "_run_epoch", stop_after_the_first)
        with pytest.raises(KeyboardInterrupt):
            train(cfg, data, run_dir, runtime=runtime)


def test_kernels_are_recorded_and_a_run_resumes_under_the_other_kernels(tmp_path, fake_mnist_dir,
                                                                        monkeypatch):
    """A checkpoint says which kernels trained it; an `exact` run stopped after its first
    epoch and resumed with `fast` (the same maths, other rounding) continues, its optimizer
    switched to the multi-tensor LARS, and finishes every epoch with finite losses."""
    cfg, data = _smoke(fake_mnist_dir, kernels="exact")
    _train_one_epoch_then_stop(monkeypatch, cfg, data, tmp_path)
    payload = read_checkpoint(tmp_path, cfg)
    assert payload["epoch"] == 1 and payload["runtime"]["kernels"] == "exact"
    fast, _ = _smoke(fake_mnist_dir, kernels="fast")
    state = train(fast, data, tmp_path, resume=True)
    assert state.epoch == cfg.epochs and state.runtime["kernels"] == "fast"
    assert {g["foreach"] for g in state.optimizer.param_groups} == {True}
    assert all(map(math.isfinite, state.history["total"] + state.history["phase2_mse"]))


def test_a_run_is_not_resumed_in_another_precision(tmp_path, fake_mnist_dir, monkeypatch):
    """`precision=auto` resolves per machine: a checkpoint trained in one precision is not
    continued in another (half a run in bf16 and half in fp32 would be recorded as one)."""
    cfg, data = _smoke(fake_mnist_dir, precision="auto")
    _train_one_epoch_then_stop(monkeypatch, cfg, data, tmp_path, Runtime.resolve("cpu", "fp32"))
    with pytest.raises(CaeError, match="trained in fp32 and this run would continue in bf16"):
        train(cfg, data, tmp_path, resume=True, runtime=Runtime.resolve("cpu", "bf16"))
    state = train(cfg, data, tmp_path, resume=True, runtime=Runtime.resolve("cpu", "fp32"))
    assert state.epoch == cfg.epochs
