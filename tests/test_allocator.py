"""The allocator setting a run applies and records, and its release of freed memory."""

import platform

import pytest

from cae.infra.allocator import (
    MMAP_THRESHOLD,
    TRIM_THRESHOLD,
    keep_freed_memory,
    release_freed_memory,
)
from cae.infra.runtime import Runtime


def test_thresholds_start_where_glibcs_adaptation_ends():
    assert MMAP_THRESHOLD == 32 * 2**20 and TRIM_THRESHOLD == 2 * MMAP_THRESHOLD


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_a_run_on_glibc_keeps_freed_blocks_and_records_it():
    assert keep_freed_memory() == "glibc, keeps blocks < 32 MiB"
    runtime = Runtime.resolve("cpu", "fp32")
    assert runtime.describe() == {"device": "cpu", "precision": "fp32",
                                  "allocator": "glibc, keeps blocks < 32 MiB", "kernels": "exact"}
    release_freed_memory()  # returns the heap's free pages; the setting stays
    assert keep_freed_memory() == "glibc, keeps blocks < 32 MiB"


def test_release_frees_unreachable_reference_cycles():
    import gc
    import weakref

    class Node:
        pass

    gc.disable()  # so that only the release can collect the cycle
    try:
        node = Node()
        node.self = node
        alive = weakref.ref(node)
        del node
        assert alive() is not None
        release_freed_memory()
        assert alive() is None
    finally:
        gc.enable()
