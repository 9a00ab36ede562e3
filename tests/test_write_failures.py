"""Every write that can fail on a full or read-only disk (issue 25, item 4): checkpoints,
JSON, CSV, figures and the ONNX graph end in one CaeError line naming the file, the previous
file is kept byte for byte, and no temporary file is left. The failure is injected where the
bytes go down: Python's `open` (a write that stops half-way with ENOSPC), `torch.save` (a
full disk is its RuntimeError) and `Figure.savefig`."""

from __future__ import annotations

import builtins
import errno
import os
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

import cae.report.selection_screen as selection_screen
from cae.config import make_config
from cae.errors import CaeError
from cae.evaluation.export import PrototypeMixer, write_onnx
from cae.infra.files import atomic_write, atomic_write_text, write_json
from cae.method.checkpoints import CHECKPOINT, save_checkpoint
from cae.method.models import ConditionalDecoder
from cae.method.networks import TrainState, build_networks
from cae.report.figures import save_figure

matplotlib.use("Agg")
FULL = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class HalfWritten:
    """A file whose disk fills half-way through the first write."""

    def __init__(self, handle):
        self._handle = handle

    def write(self, data):
        self._handle.write(data[:len(data) // 2])
        self._handle.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


@pytest.fixture
def full_disk(monkeypatch):
    """full_disk(name): from now on, files named name (or name.tmp) opened for writing fill
    the disk half-way through their first write."""
    real_open = builtins.open

    def arm(name: str) -> None:
        def opening(file, mode="r", *args, **kwargs):
            handle = real_open(file, mode, *args, **kwargs)
            hit = isinstance(file, (str, os.PathLike)) and Path(file).name in (name, name + ".tmp")
            return HalfWritten(handle) if hit and any(m in mode for m in "wax") else handle
        monkeypatch.setattr(builtins, "open", opening)
    return arm


def assert_one_line_and_intact(err: pytest.ExceptionInfo, path: Path, before: bytes) -> None:
    message = str(err.value)
    assert f"cannot write {path}" in message and "\n" not in message
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def small_state():
    cfg = make_config("smoke", dataset="mnist")
    nets = build_networks(cfg, 1)
    return cfg, TrainState(nets, torch.optim.SGD(nets.encoder.parameters(), lr=0.1),
                           torch.Generator())


def test_checkpoint_on_a_full_disk(tmp_path, monkeypatch):
    """torch.save reports a full disk as a RuntimeError, after part of the file is written."""
    cfg, state = small_state()
    save_checkpoint(state, cfg, tmp_path)
    path = tmp_path / CHECKPOINT
    before = path.read_bytes()
    state.epoch = 1

    def save_on_full_disk(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 partial")
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0\n"
                           "PytorchStreamWriter failed writing file data/0: file write failed")

    monkeypatch.setattr(torch, "save", save_on_full_disk)
    with pytest.raises(CaeError, match="file write failed.*previous file is kept") as err:
        save_checkpoint(state, cfg, tmp_path)
    assert_one_line_and_intact(err, path, before)


@pytest.mark.parametrize("write", [
    lambda path: write_json(path, {"accuracy": 0.1}),
    lambda path: atomic_write_text(path, "model,accuracy\nours,0.1\n"),
], ids=["json", "text"])
def test_json_and_text_on_a_full_disk(tmp_path, full_disk, write):
    path = tmp_path / "metrics.json"
    write_json(path, {"accuracy": 0.9})
    before = path.read_bytes()
    full_disk(path.name)
    with pytest.raises(CaeError, match="No space left on device") as err:
        write(path)
    assert_one_line_and_intact(err, path, before)


def test_an_interrupted_write_leaves_no_temp_file(tmp_path):
    path = tmp_path / "history.json"
    write_json(path, {"loss": [1.0]})
    before = path.read_bytes()

    def interrupted(handle):
        handle.write('{"loss": [2.0')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, interrupted)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_figure_on_a_full_disk(tmp_path, monkeypatch):
    fig = Figure(figsize=(1, 1))
    path = save_figure(fig, tmp_path / "elbow.png")
    before = path.read_bytes()
    real_savefig = Figure.savefig

    def savefig_on_full_disk(self, target, **kwargs):
        real_savefig(self, "/dev/null", **{**kwargs, "format": "png"})  # drawn, then:
        if hasattr(target, "write"):
            target.write(b"\x89PNG partial")
        else:
            Path(target).write_bytes(b"\x89PNG partial")
        raise FULL

    monkeypatch.setattr(Figure, "savefig", savefig_on_full_disk)
    with pytest.raises(CaeError, match="No space left on device") as err:
        save_figure(fig, path)
    assert_one_line_and_intact(err, path, before)


def test_figure_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "figures").write_text("a file where the folder should be")
    with pytest.raises(CaeError, match=f"cannot write {tmp_path / 'figures' / 'a.png'}") as err:
        save_figure(Figure(figsize=(1, 1)), tmp_path / "figures" / "a.png")
    assert "\n" not in str(err.value)


def test_summary_csv_on_a_full_disk(tmp_path, monkeypatch, full_disk):
    rows = pd.DataFrame({"dataset": ["mnist"], "variant": ["base"], "accuracy": [0.5]})
    monkeypatch.setattr(selection_screen, "screen_rows", lambda root: rows)
    monkeypatch.setattr(selection_screen, "paired_differences", lambda rows, by: rows)
    monkeypatch.setattr(selection_screen, "screen_figure", lambda rows, dataset: Figure((1, 1)))
    path = tmp_path / "selection_screen.csv"
    path.write_text("the previous summary\n")
    full_disk(path.name)
    with pytest.raises(CaeError, match="No space left on device") as err:
        selection_screen.write_summary(tmp_path)
    message = str(err.value)
    assert f"cannot write {path}" in message and "\n" not in message
    assert path.read_text() == "the previous summary\n"
    assert not (tmp_path / "selection_screen.csv.tmp").exists()


def test_onnx_on_a_full_disk(tmp_path, full_disk):
    cfg, state = small_state()
    nets = state.nets
    nets.prototypes = torch.randn(3, cfg.latent_dim)
    nets.cond_decoder = ConditionalDecoder(nets.decoder, 3, cfg.latent_dim)
    mixer = PrototypeMixer(nets, torch.randn(3, cfg.latent_dim), cfg)
    path = tmp_path / "decoder.onnx"
    path.write_bytes(b"the previous graph")
    full_disk(path.name)
    with pytest.raises(CaeError, match="No space left on device") as err:
        write_onnx(mixer, path)
    assert_one_line_and_intact(err, path, b"the previous graph")
