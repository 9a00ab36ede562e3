"""Plumbing below the method: device and precision, torchrun, atomic files, the allocator, run folders."""
