"""Keeping the proxy's resident memory flat under glibc's allocator.

Measured (issue 25, `docs/serve.md#memory`): the proxy keeps nothing per request. Over 200
requests Python's traced memory stayed at about 1 MB and glibc's bytes in use at 180-182 MiB,
while the free bytes glibc kept in its arenas grew from 458 to 677 MiB, and the resident memory
with them; one `malloc_trim(0)` gave 590 MiB back to the kernel at once. Each request allocates
and frees megabytes (decoded frames, FFmpeg's buffers, JPEGs, base64 and JSON bodies) on several
threads, some of them new for that request (a decode's worker threads, FFmpeg's own), and glibc
gives threads their own arenas (up to 8 per core) and returns an arena's free pages to the kernel
only from its top. The freed memory stays mapped, spread over many arenas, and grows.

The remedy is the one long-running PyTorch and Python servers use on glibc: fewer arenas
(`MALLOC_ARENA_MAX`), and freed pages handed back with `malloc_trim` at regular times. Both are
no-ops where glibc is not the allocator (macOS, musl, or jemalloc / tcmalloc preloaded).
"""

from __future__ import annotations

import ctypes
import os
import sys

ARENA_ENV = "MALLOC_ARENA_MAX"
_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has `malloc_trim` and `mallopt`), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes, libc.mallopt.argtypes = [ctypes.c_size_t], [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def bound_arenas(limit: int) -> bool:
    """Let glibc create at most `limit` malloc arenas from now on (0: leave its default). The
    operator's `MALLOC_ARENA_MAX`, which glibc read at start, wins. True when the bound was set."""
    if limit < 0:
        raise ValueError(f"arena limit must be >= 0, not {limit}")
    if _LIBC is None or limit == 0 or os.environ.get(ARENA_ENV):
        return False
    return bool(_LIBC.mallopt(_M_ARENA_MAX, limit))


def trim() -> bool:
    """Hand the free pages of every arena back to the kernel; True when some were."""
    return _LIBC is not None and bool(_LIBC.malloc_trim(0))


__all__ = ["ARENA_ENV", "bound_arenas", "trim"]
