"""Writing run files so that a crash or a full disk never leaves a half-written one."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np

from cae.errors import CaeError


def atomic_write(path: str | Path, write: Callable[[IO], object], binary: bool = False) -> None:
    """Write path through a temporary file beside it (`write` fills the open handle), flushed
    to disk and then renamed over path. A failed write or rename (full disk, read-only
    folder; torch.save reports a full disk as RuntimeError) raises one-line CaeError naming
    path; on any failure the temporary file is removed and the previous file left whole."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") if binary else open(tmp, "w", encoding="utf-8") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:
        _remove(tmp)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else " ".join(str(exc).split())
        raise CaeError(f"cannot write {path} ({reason}); the previous file is kept. Free disk "
                       f"space or make the folder writable, then run again.") from None
    except BaseException:  # an interrupt, or a value the writer cannot serialise
        _remove(tmp)
        raise


def _remove(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text to path atomically (`atomic_write`)."""
    atomic_write(path, lambda handle: handle.write(text))


def write_json(path: str | Path, value) -> None:
    """Write value as pretty JSON, atomically (`atomic_write_text`); numpy arrays and
    numpy or torch scalars are written as plain lists and numbers."""
    atomic_write_text(path, json.dumps(value, indent=2, default=_json_default) + "\n")


def report_json(value, path: str | Path | None) -> None:
    """A benchmark's result: printed as pretty JSON and, given a path, written there
    (`write_json`; its folder made if missing)."""
    print(json.dumps(value, indent=2, default=_json_default))
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_json(path, value)


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")
