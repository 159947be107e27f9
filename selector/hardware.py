"""What this process may run on and uses, and the defaults every command takes from it.

Loading a model, decoding in parallel and timing a benchmark all ask the same questions: how many
CPU cores may this process use, which device does a model go to when none is named, and in which
dtype. They are answered here once, so that a selector, a scorer, a baseline and a downstream
model loaded without options all land on the same device in the same precision.

The server's `/metrics` and the benchmarks read the process's resident memory here too. torch is
imported only when a device or dtype is asked for: the decoder asks for cores alone.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity where the platform has one (a container or
    `taskset` limits it below the machine's count), else every core."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def rss_bytes() -> int:
    """Resident memory of this process now (psutil where installed, else Linux's /proc)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:  # Linux without psutil
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def default_device() -> str:
    """``"cuda"`` when a GPU is available, else ``"cpu"``: where a model goes unless told."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str | torch.device) -> torch.dtype:
    """bfloat16 on CUDA (what the Qwen and SigLIP checkpoints ship in), float32 elsewhere: on a CPU
    bfloat16 matmuls are slow on most processors and lose precision for nothing."""
    import torch

    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


__all__ = ["default_device", "default_dtype", "rss_bytes", "usable_cores"]
