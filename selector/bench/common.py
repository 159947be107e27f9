"""What every benchmark shares: best-of-N timing, memory peaks, the report (markdown tables with
the command that produced them, optionally JSON) and generated videos (option parsing helpers
are in `selector.cli_support`).

Benchmarks compare things side by side in one run: background load then hits every variant
alike, so the ratios mean more than the absolute seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch

from ..atomic import atomic_path
from ..markdown import markdown_table

# --- timing and memory ------------------------------------------------------------------------

F = TypeVar("F", bound=Callable)


def no_grad(fn: F) -> F:
    """`torch.no_grad()` around `fn`, importing torch when `fn` runs: a benchmark module is
    imported by `frame-selector --help`, which must not load torch."""

    @wraps(fn)
    def run(*args, **kwargs):
        import torch

        with torch.no_grad():
            return fn(*args, **kwargs)

    return run  # type: ignore[return-value]


def synchronize(device: str | torch.device) -> None:
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


def rss_bytes() -> int:
    """Resident memory of this process now."""
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:  # Linux without psutil
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def gib(n: float) -> str:
    return f"{n / 2**30:.2f}"


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine(device: str | None = None) -> str:
    """One line: CPU, cores, torch threads, and the GPU when one is used."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = f"{cpu}, {usable_cpus()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    if device and torch.device(device).type == "cuda" and torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name(device)}"
    return text


# --- report -----------------------------------------------------------------------------------


def fmt(value: object, digits: int = 3) -> str:
    if isinstance(value, float):
        if value != value:  # nan: not measured
            return "-"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.{digits}f}"
    return "-" if value is None else str(value)


def ratio(value: float, reference: float) -> str:
    """'2.50x' (value / reference), '-' when either side is missing."""
    if not reference or value is None:
        return "-"
    quotient = value / reference
    return "-" if quotient != quotient else f"{quotient:.2f}x"  # nan: a side was not measured


def share(part: float, whole: float) -> str:
    """'32%' of the whole, '-' when either side is missing."""
    if not whole or part is None or part != part or whole != whole:
        return "-"
    return f"{100 * part / whole:.0f}%" if part / whole >= 0.01 else f"{100 * part / whole:.1f}%"


class Report:
    """Tables printed as they are measured (markdown, ready for the README), kept for `--json`."""

    def __init__(self, bench: str, argv: Sequence[str], device: str | None = None, stream=None):
        self.bench = bench
        self.command = shlex.join(["frame-selector", *argv])
        self.stream = stream or sys.stdout
        self.data: dict = {"bench": bench, "command": self.command, "machine": machine(device), "tables": [], "notes": []}
        self._print(f"command: {self.command}")
        self._print(f"machine: {self.data['machine']}")

    def _print(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def note(self, text: str) -> None:
        self.data["notes"].append(text)
        self._print(text)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[object]], note: str | None = None) -> None:
        self._print()
        self._print(f"### {title}")
        self._print()
        self._print(markdown_table(columns, [[fmt(c) for c in row] for row in rows]))
        if note:
            self._print()
            self._print(note)
        self.data["tables"].append({"title": title, "columns": list(columns), "rows": [list(r) for r in rows], "note": note})

    def write_json(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.data, indent=2, default=_jsonable) + "\n")


def _jsonable(value: object) -> object:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    return str(value)


# --- generated videos -------------------------------------------------------------------------

BITS = 16  # frame index painted into the top row as 16 black/white blocks


def default_cache() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "frame-selector" / "bench"


def _block(width: int, height: int) -> tuple[int, int]:
    return width // BITS, max(8, height // 15)


def painted_video(
    seconds: float,
    width: int = 1280,
    height: int = 720,
    fps: int = 30,
    options: dict[str, str] | None = None,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
    seed: int = 0,
    codec: str = "libx264",
) -> Path:
    """An mp4 clip (H.264 by PyAV's libx264, or another encoder: ``codec="libsvtav1"`` for AV1)
    whose frames carry their own index, cached by its parameters.

    A blocky random texture drifts sideways under a changing grain (so P and B frames carry
    motion and residuals, at a camera-like bitrate of a few Mbit/s) and the top row holds the frame index as 16 black/white
    blocks, which `painted_index` reads back from a decoded frame of any size. Generated once
    per parameter set (a tqdm bar shows progress); the same call later returns the cached file.
    Different seeds give different textures (distinct videos for caches keyed by content).
    """
    if not options:
        options = {"preset": "superfast", "g": "250", "bf": "2"} if codec == "libx264" else {}
    # H.264 clips keep the key they had before other codecs, so existing caches stay valid.
    key = json.dumps([float(seconds), width, height, fps, sorted(options.items()), seed, 2]
                     + ([] if codec == "libx264" else [codec]))
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    folder = Path(cache) if cache else default_cache()
    path = folder / f"painted_{width}x{height}_{fps}fps_{seconds:g}s_seed{seed}_{digest}.mp4"
    if path.is_file():
        return path
    import av
    from tqdm.auto import tqdm

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 16 + 1, 2 * width // 16 + 1, 3), dtype=np.uint8)
    base = np.repeat(np.repeat(coarse, 16, axis=0), 16, axis=1)[:height, : 2 * width]
    # Grain that changes every frame (cycled from a few patterns): a camera-like bitrate.
    grain = rng.integers(-6, 7, (7, height, width, 3), dtype=np.int16)
    block_w, block_h = _block(width, height)
    frames = int(round(seconds * fps))
    with atomic_path(path) as partial, av.open(str(partial), "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = dict(options)
        for i in tqdm(range(frames), desc=f"generating {path.name}", unit="frame", disable=not progress, mininterval=1.0):
            shift = (i * 4) % width
            img = np.clip(base[:, shift : shift + width] + grain[i % len(grain)], 0, 255).astype(np.uint8)
            for bit in range(BITS):
                img[:block_h, bit * block_w : (bit + 1) * block_w] = 255 if i >> bit & 1 else 0
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode())
    return path


def painted_index(img: np.ndarray, width: int, height: int) -> int:
    """The index `painted_video(width=..., height=...)` painted, read from a frame of any size."""
    h, w = img.shape[:2]
    block_w, block_h = _block(width, height)
    y = int(block_h / 2 / height * h)
    value = 0
    for bit in range(BITS):
        x = int((bit + 0.5) * block_w / width * w)
        if img[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].mean() > 128:
            value |= 1 << bit
    return value


__all__ = [
    "Report", "timed", "synchronize", "operator_calls", "peak_rss_bytes", "rss_bytes", "gib", "machine", "ratio", "share", "fmt",
    "int_list", "choice_list", "at_least", "check_device", "painted_video", "painted_index", "default_cache",
    "usable_cpus",
]
