"""One process per run directory: an advisory lock on `<run_dir>/.lock`.

Every command that writes into a run directory (`cae train`, `evaluate`, `reproduce`,
`baselines`, `export-decoder`) holds the lock while it works; a second process is
refused at once with the holder's PID, which the lock file holds. The lock is
`fcntl.flock`, so the kernel releases it when its process dies, even by SIGKILL: a
leftover `.lock` file locks nothing. Within one process the lock is re-entrant.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from cae.errors import CaeError

LOCK_FILE = ".lock"
_HELD: dict[Path, list[int]] = {}  # run dir (resolved) -> [file descriptor, depth]


def acquire(run_dir: str | Path) -> None:
    """Take run_dir's lock, or raise CaeError naming the process that holds it.

    A folder that does not exist, or in which this process cannot create the lock file,
    is not locked: nothing can be written there, and the command fails on its own."""
    key = Path(run_dir).resolve()
    if key in _HELD:
        _HELD[key][1] += 1
        return
    path = key / LOCK_FILE
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EROFS):
                return
            raise CaeError(f"cannot create the lock file {path} ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise CaeError(f"run directory {run_dir} is in use by another cae process "
                           f"(PID {holder}); wait for it to finish, or pass another "
                           f"--run-dir") from None
        if _same_file(fd, path):
            break
        os.close(fd)  # the holder removed this file as it let go: lock the one now there
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[key] = [fd, 1]


def release(run_dir: str | Path) -> None:
    """Let go of a lock taken by `acquire` (the outermost release removes the lock file)."""
    key = Path(run_dir).resolve()
    held = _HELD.get(key)
    if held is None:
        return
    held[1] -= 1
    if held[1]:
        return
    del _HELD[key]
    try:
        (key / LOCK_FILE).unlink(missing_ok=True)  # still locked: no one else holds this file
    finally:
        os.close(held[0])


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False
