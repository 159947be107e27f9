"""Decord vs PyAV for the reads frame selection does: speed and frame-exactness, side by side.

Usage:
    python benchmarks/decode.py [--long PATH] [--seconds 600] [--repeat 3]

Reads 128 sorted, uniformly spaced indices (candidate sampling) and 32 random indices at 256x256
(the selector's input size) through ``selector.video.read_frames``, once per backend, so the
decord column includes opening a reader, as the package does on every call. Times are medians
over ``--repeat`` runs, the backends alternating so that background load hits both alike.

Exactness: on generated clips the frame index is painted into the top row (16 blocks, white =
bit set), so every returned frame says which frame it is. On the test videos a frame counts as
exact when it equals the same backend's sequential decode of that index (sequential decoding is
what both backends get right).

Clips that do not exist are generated once with PyAV's libx264 into ``--cache``: the long clip
(closed GOPs of 250 frames, 2 B-frames, like common camera and screen recordings) and a
60-second open-GOP clip with B-pyramids (like broadcast and some camera encoders).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from selector.video import VideoInfo, probe, read_frames  # noqa: E402

SIZE = (256, 256)
TEST_VIDEOS = Path(__file__).resolve().parent.parent / "tests" / "data" / "videos"
DEFAULT_VIDEOS = ["moviepy__big_buck_bunny_0_30.webm", "moviepy__smpte-2997.mp4", "torchcodec__h265_video.mp4"]
WIDTH, HEIGHT, BITS, BLOCK_W, BLOCK_H = 640, 360, 16, 40, 24
LONG_OPTIONS = {"preset": "ultrafast", "g": "250", "bf": "2"}
OPEN_GOP_OPTIONS = {"preset": "veryfast", "g": "15", "bf": "3", "x264-params": "open-gop=1:b-pyramid=normal"}


def make_painted_clip(path: Path, seconds: int, fps: int, options: dict[str, str]) -> None:
    print(f"generating {path} ({seconds} s) ...", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = np.random.default_rng(0).integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    partial = path.with_suffix(".part.mp4")
    with av.open(str(partial), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = options
        for i in range(seconds * fps):
            img = np.roll(base, i * 3, axis=1)  # moving texture, so P and B frames carry motion
            for bit in range(BITS):
                img[:BLOCK_H, bit * BLOCK_W:(bit + 1) * BLOCK_W] = 255 if i >> bit & 1 else 0
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode())
    partial.rename(path)


def painted_index(img: np.ndarray) -> int:
    """The index painted by make_painted_clip, read from a frame of any size."""
    h, w = img.shape[:2]
    y = int(BLOCK_H / 2 / HEIGHT * h)
    value = 0
    for bit in range(BITS):
        x = int((bit + 0.5) * BLOCK_W / WIDTH * w)
        if img[max(0, y - 2):y + 3, max(0, x - 2):x + 3].mean() > 128:
            value |= 1 << bit
    return value


def sequential_reference(info: VideoInfo, backend: str) -> np.ndarray:
    """Every frame at SIZE, decoded front to back by the backend itself."""
    if backend == "decord":
        import decord

        reader = decord.VideoReader(info.path, ctx=decord.cpu(0), width=SIZE[0], height=SIZE[1])
        return reader.get_batch(list(range(len(reader)))).asnumpy()
    return read_frames(info, range(info.num_frames), size=SIZE, backend="pyav")


class FallbackCounter(logging.Handler):
    """Counts selector.video's warnings, so a silent decord -> PyAV fallback shows in the table."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "PyAV" in record.getMessage()


def timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_video(path: Path, painted: bool, repeat: int, threads: int | None, fallbacks: FallbackCounter) -> list[dict]:
    import decord

    probe_s = {"pyav": timed(lambda: probe(path), repeat),
               "decord": timed(lambda: len(decord.VideoReader(str(path), ctx=decord.cpu(0))), repeat)}
    info = probe(path)
    n = info.num_frames
    rng = np.random.default_rng(0)
    patterns = {"sorted128": np.linspace(0, n - 1, 128).round().astype(int).tolist(),
                "random32": rng.choice(n, 32, replace=n < 32).tolist()}
    references = {} if painted else {b: sequential_reference(info, b) for b in ("pyav", "decord")}
    rows = []
    for pattern, indices in patterns.items():
        row = {"video": path.name, "codec": info.codec, "frames": n, "pattern": pattern,
               "probe": probe_s}
        times: dict[str, list[float]] = {"pyav": [], "decord": []}
        frames = {}
        before = fallbacks.count
        for _ in range(repeat):  # alternate backends: background load hits both alike
            for backend in times:
                start = time.perf_counter()
                frames[backend] = read_frames(info, indices, size=SIZE, backend=backend, num_threads=threads)
                times[backend].append(time.perf_counter() - start)
        row["fallbacks"] = fallbacks.count - before
        row["time"] = {b: statistics.median(t) for b, t in times.items()}
        if painted:
            row["exact"] = {b: sum(painted_index(f) == i for f, i in zip(frames[b], indices)) for b in frames}
        else:
            row["exact"] = {b: sum(np.array_equal(f, references[b][i]) for f, i in zip(frames[b], indices))
                            for b in frames}
        row["n"] = len(indices)
        rows.append(row)
        print(f"  {path.name} {pattern}: pyav {row['time']['pyav']:.3f}s decord {row['time']['decord']:.3f}s",
              flush=True)
    return rows


def print_table(rows: list[dict]) -> None:
    header = ("video", "codec", "frames", "probe pyav/decord s", "read", "pyav s", "decord s",
              "pyav/decord", "exact pyav", "exact decord")
    lines = [header]
    for r in rows:
        lines.append((r["video"], r["codec"], str(r["frames"]),
                      f"{r['probe']['pyav']:.3f} / {r['probe']['decord']:.3f}", r["pattern"],
                      f"{r['time']['pyav']:.3f}", f"{r['time']['decord']:.3f}",
                      f"{r['time']['pyav'] / r['time']['decord']:.2f}",
                      f"{r['exact']['pyav']}/{r['n']}",
                      f"{r['exact']['decord']}/{r['n']}" + (" (fallback)" if r["fallbacks"] else "")))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for k, line in enumerate(lines):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    pyav = sum(r["time"]["pyav"] for r in rows)
    decord = sum(r["time"]["decord"] for r in rows)
    print(f"\ntotal read time: pyav {pyav:.2f} s, decord {decord:.2f} s, ratio pyav/decord {pyav / decord:.2f}")


def main() -> None:
    cache = Path(tempfile.gettempdir()) / "frame-selector-bench"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--long", type=Path, help="painted long clip (default: generated into --cache)")
    parser.add_argument("--seconds", type=int, default=600, help="length of a generated long clip")
    parser.add_argument("--cache", type=Path, default=cache, help="where generated clips are kept")
    parser.add_argument("--videos", nargs="*", default=DEFAULT_VIDEOS, help="test videos (names in tests/data/videos)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--threads", type=int, default=None, help="decoder threads (default: read_frames' default)")
    args = parser.parse_args()

    long_clip = args.long or args.cache / f"long_{args.seconds}s.mp4"
    if not long_clip.exists():
        make_painted_clip(long_clip, args.seconds, 30, LONG_OPTIONS)
    open_gop = args.cache / "open_gop_60s.mp4"
    if not open_gop.exists():
        make_painted_clip(open_gop, 60, 30, OPEN_GOP_OPTIONS)

    fallbacks = FallbackCounter()
    logging.getLogger("selector.video").addHandler(fallbacks)
    logging.getLogger("selector.video").setLevel(logging.INFO)
    print(f"cpus {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}, "
          f"PyAV {av.__version__} (FFmpeg libavcodec {'.'.join(map(str, av.library_versions['libavcodec']))}), "
          f"size {SIZE}, repeat {args.repeat}", flush=True)
    rows = []
    rows += bench_video(long_clip, True, args.repeat, args.threads, fallbacks)
    rows += bench_video(open_gop, True, args.repeat, args.threads, fallbacks)
    for name in args.videos:
        rows += bench_video(TEST_VIDEOS / name, False, args.repeat, args.threads, fallbacks)
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
