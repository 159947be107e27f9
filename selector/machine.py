"""What this process may use and what it uses: the CPU cores it is allowed to run on and its
resident memory. Decoding sizes its threads from the first; the server's `/metrics` and the
benchmarks read the second."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one), not the
    machine's: a container or `taskset` limit is what decoding threads actually get."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def rss_bytes() -> int:
    """Resident memory of this process now (psutil where installed, else Linux's /proc)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:  # Linux without psutil
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


__all__ = ["rss_bytes", "usable_cores"]
