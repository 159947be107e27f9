"""Measuring one thing: best-of-N seconds (CUDA synchronised), the dispatcher's operator calls
and kernel launches, and this process's peak memory.

Benchmarks compare things side by side in one run: background load then hits every variant
alike, so the ratios mean more than the absolute seconds.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import torch

F = TypeVar("F", bound=Callable)


def no_grad(fn: F) -> F:
    """`torch.no_grad()` around `fn`, importing torch when `fn` runs: every benchmark module is
    imported by `frame-selector --help`, which must not load torch."""

    @wraps(fn)
    def run(*args, **kwargs):
        import torch

        with torch.no_grad():
            return fn(*args, **kwargs)

    return run  # type: ignore[return-value]


def synchronize(device: str | torch.device) -> None:
    """Wait for the GPU's queued work, so that a clock read after it counts that work."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], repeats: int, device: str | torch.device = "cpu", warmup: bool = True) -> float:
    """Seconds of the fastest of `repeats` calls (after one warm-up call unless `warmup=False`),
    synchronising CUDA so that GPU work is counted."""
    if warmup:
        fn()
    best = float("inf")
    for _ in range(max(1, repeats)):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def operator_calls(fn: Callable[[], object], device: str | torch.device = "cpu") -> tuple[int, int | None]:
    """(operator calls, kernel launches) of one call of `fn`: the dispatcher's work, what a
    launch-bound step costs. Operator calls are the aten operators not called by another (views
    included; inside a compiled region, the operators its generated code still calls); kernel
    launches (CUDA only, else None) count each kernel or CUDA graph launched from the host."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    cuda = torch.device(device).type == "cuda"
    with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])) as prof:
        fn()
        synchronize(device)

    def top_level(event) -> bool:
        parent = event.cpu_parent
        while parent is not None and not parent.name.startswith("aten::"):
            parent = parent.cpu_parent
        return parent is None

    events = prof.events()
    calls = sum(1 for e in events if e.name.startswith("aten::") and top_level(e))
    launches = sum(1 for e in events if "LaunchKernel" in e.name or "GraphLaunch" in e.name) if cuda else None
    return calls, launches


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


__all__ = ["no_grad", "operator_calls", "peak_rss_bytes", "synchronize", "timed"]
