"""Handing the memory that requests freed back to the kernel, on glibc.

Each request allocates and frees megabytes (decoded frames, FFmpeg's buffers, JPEGs, base64 and
JSON bodies) on several threads. glibc keeps what is freed in its arenas for reuse and gives an
arena's free pages back to the kernel only from its top, so at rest the proxy's resident memory
still holds much of the last burst's working set. `malloc_trim(0)` gives every arena's free pages
back. Measured in issue 25's setup (`docs/serve.md#memory`), at rest: about 1,070 MiB resident
without it, about 910 MiB with a call every second; flat over thousands of requests either way.
It does nothing where glibc is not the allocator (macOS, musl, jemalloc or tcmalloc preloaded).
"""

from __future__ import annotations

import ctypes
import sys


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has `malloc_trim`), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def trim() -> bool:
    """Hand the free pages of every arena back to the kernel; True when some were."""
    return _LIBC is not None and bool(_LIBC.malloc_trim(0))


__all__ = ["trim"]
