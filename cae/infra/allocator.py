"""The C allocator kept from handing training buffers back to the OS between steps, and
made to hand them back when training ends and before evaluation's memory peaks.

Every training step frees and reallocates the same few-MiB activation buffers. With
glibc's default thresholds those blocks go back to the OS when freed and come back as
fresh pages on the next step: measured on a 2-core CPU, 12,000-15,000 page faults a
step and about a quarter of phase 1's time. Asking glibc to serve blocks below 32 MiB
from its heap, and to keep up to 64 MiB free at the heap's top, removes them (under 150
a step). 32 MiB is glibc's own cap for its adaptive threshold, and 2x that for the trim
threshold is the ratio its adaptive mode keeps, so this only starts where glibc's
adaptation would end. Blocks of 32 MiB and more (whole datasets, big matrices) are
still returned. Other C libraries (macOS, Windows, musl) keep their defaults.
"""

from __future__ import annotations

import ctypes
import gc

MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h> parameter numbers


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it; AttributeError elsewhere)
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def keep_freed_memory() -> str:
    """Set glibc's mmap and trim thresholds for this process (idempotent); returns what
    the allocator now does, for provenance: 'glibc, keeps blocks < 32 MiB' or 'system
    default'."""
    libc = _glibc()
    if libc is None or not (libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                            and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        return "system default"
    return f"glibc, keeps blocks < {MMAP_THRESHOLD >> 20} MiB"


def release_freed_memory() -> None:
    """Free Python's unreachable reference cycles (figures hold some), then hand the
    heap's free pages back to the OS (glibc's malloc_trim; elsewhere only the first).
    Called where a run's memory peaks are about to start: when training ends, so that
    the buffers kept for its steps do not stay under evaluation, and before the floors'
    and the Feature+KM baseline's KMeans searches (on MNIST 100-130 MB less under them)."""
    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
