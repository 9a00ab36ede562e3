"""Run files are written whole or not at all."""

from __future__ import annotations

import errno
import os

import pytest

from cae.errors import CaeError
from cae.infra.files import atomic_write_text, write_json


def test_atomic_write_replaces_the_file(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_full_disk_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    write_json(path, {"accuracy": 0.9})

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(CaeError, match="No space left on device.*previous file is kept"):
        write_json(path, {"accuracy": 0.1})
    assert path.read_text() == '{\n  "accuracy": 0.9\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_read_only_folder_is_one_clear_error(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(CaeError, match="cannot write"):
            atomic_write_text(tmp_path / "x.json", "{}")
    finally:
        tmp_path.chmod(0o700)
