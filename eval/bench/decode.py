"""Decoding candidates from a long video: resolution, access pattern, threads and backends, side by side.

Three tables, one run:

1. `n` candidates (uniform in time) of a long generated H.264 clip (10 minutes of 1280x720 at
   30 fps by default, closed GOPs of 250 frames with 2 B-frames like camera and screen
   recordings): decoded at the model's resolution by FFmpeg's scaler (`read_frames`, the
   default) against full resolution then resized (torch, bilinear with antialiasing); with
   non-reference frames on the way skipped (the default) against every frame decoded;
   seek-based access (seek only when a jump skips work, the default) against sequential
   decoding from the start and against a seek for every candidate; decoder thread counts;
   decord. Every returned frame is checked: the clip carries each frame's index painted into
   its top row.
2. Frame-exactness of PyAV and decord on an open-GOP clip (B-pyramids, like broadcast encoders)
   and on test videos (against each backend's own sequential decode): why PyAV is the default.
3. The share of selection time spent decoding, measured inside `FrameSelector.select` on the
   long clip with a random selector (`--selector`).
4. The decoder's limit on the long clip (a full pass with non-reference frames skipped, and the
   packets the candidates need), parallel decoding by worker count, the keyframe plan against
   the exact one, and pipelined decoding over `--pipeline-videos` clips against the serial loop
   (`eval.bench.decode_paths`).

Generated clips are kept in `--cache` (default ~/.cache/frame-selector/bench), keyed by their
parameters, so only the first run encodes them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from selector.cli_support import UsageError, at_least, check_device, frame_size, int_list
from selector.hardware import usable_cores
from selector.video import DecodeOptions

from .decode_paths import resize
from .painted import default_cache, painted_index, painted_video
from .report import Report, ratio, share
from .timing import timed

TEST_VIDEOS = Path(__file__).resolve().parents[2] / "tests" / "data" / "videos"
DEFAULT_VIDEOS = "moviepy__big_buck_bunny_0_30.webm,moviepy__smpte-2997.mp4,torchcodec__h265_video.mp4"
OPEN_GOP = {"preset": "veryfast", "g": "15", "bf": "3", "x264-params": "open-gop=1:b-pyramid=normal"}


@dataclass
class Settings:
    """Options of `bench decode`."""

    seconds: float = field(default=600, metadata={"help": "length of the generated long clip (default 600)"})
    size: str = field(default="1280x720", metadata={"help": "WIDTHxHEIGHT of the generated long clip (default 1280x720)"})
    long: str | None = field(default=None, metadata={"help": "use this painted clip instead (made by an earlier run; give --size to match)"})
    candidates: int = 128
    model_size: int = field(default=256, metadata={"help": "the model's input side in pixels (default 256)"})
    threads: str = field(default="1,2,4", metadata={"help": "thread counts of one decoder to compare (default 1,2,4)"})
    workers: str | None = field(default=None, metadata={
        "help": "parallel decoding workers to compare (default 1, 2, 4, ... up to the cores present, and the cores)"})
    pipeline_videos: int = field(default=16, metadata={"help": "clips for the pipelined-against-serial table (0: leave it out)"})
    pipeline_seconds: float = field(default=20, metadata={"help": "length of each of those 640x360 clips (default 20)"})
    prefetch: int = field(default=2, metadata={"help": "videos decoded ahead in the pipelined variant (default 2)"})
    repeats: int = field(default=2, metadata={
        "help": "rounds over the variants, best round per variant (default 2; a round of the long clip takes minutes)"})
    videos: str = field(default=DEFAULT_VIDEOS, metadata={
        "help": "test videos for the exactness table (names in tests/data/videos, comma-separated; '' for none)"})
    open_gop_seconds: float = field(default=60, metadata={"help": "length of the open-GOP clip (0: leave it out)"})
    selector: Literal["tiny", "small", "real", "none"] = field(default="small", metadata={
        "help": "random selector for the decode share of selection time (default small)"})
    device: str = field(default="cpu", metadata={"help": "where that selector runs (default cpu)"})
    cache: str | None = field(default=None, metadata={"help": "folder of generated clips (default ~/.cache/frame-selector/bench)"})
    no_progress: bool = False


def _length(seconds: float) -> str:
    return f"{seconds / 60:.0f}-minute" if seconds >= 120 else f"{seconds:.0f}-second"


def _page_cache(path: str | os.PathLike) -> None:
    """Read the file once so every variant finds it in the page cache alike."""
    with open(path, "rb") as handle:
        while handle.read(1 << 24):
            pass


class FallbackCounter(logging.Handler):
    """Counts selector.video's "decoding with PyAV" warnings: a silent decord fallback shows up."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "PyAV" in record.getMessage()


def long_clip_table(args, report: Report, info, width: int, height: int) -> float:
    """Table 1; returns the default path's seconds."""
    from selector.candidates import CandidatePlan, candidate_frames
    from selector.video import default_workers, read_frames

    n = min(args.candidates, info.num_frames)
    indices = [f.index for f in candidate_frames(info, CandidatePlan(n=n))]
    side = args.model_size
    model = (side, side)
    workers = default_workers()
    variants: list[tuple[str, Callable[[], np.ndarray]]] = [
        (f"model resolution {side}x{side}, seek when it skips work, {workers} parallel workers (default)",
         lambda: read_frames(info, indices, size=model)),
        (f"full resolution {width}x{height}, then resize to {side}x{side}",
         lambda: resize(read_frames(info, indices), side)),
    ]

    def with_options(**options):
        return lambda: read_frames(info, indices, size=model, options=DecodeOptions(**options))

    variants += [("every frame on the way decoded (no skipping of non-reference frames; before)",
                  with_options(skip_nonref=False)),
                 ("sequential: decode from the start, keep the candidates", with_options(seek_gap=float("inf"))),
                 ("seek before every candidate", with_options(seek_gap=float("-inf")))]
    for threads in args.thread_counts:
        variants.append((f"1 worker, {threads} decoder thread{'s' * (threads > 1)}",
                         lambda t=threads: read_frames(info, indices, size=model, num_threads=t, workers=1)))
    try:
        import decord  # noqa: F401

        variants.append(("decord (its own seeking), model resolution", lambda: read_frames(info, indices, size=model, backend="decord")))
    except ImportError:
        pass
    # Rounds over all variants, each round in another order, best round per variant: load that
    # comes and goes hits every variant alike instead of whichever ran at the time.
    seconds = {name: float("inf") for name, _ in variants}
    exact = {}
    for round_ in range(args.repeats):
        order = variants[round_ % len(variants):] + variants[:round_ % len(variants)]
        for name, fn in order if round_ % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            frames = fn()
            seconds[name] = min(seconds[name], time.perf_counter() - start)
            exact[name] = min(exact.get(name, n), sum(painted_index(f, width, height) == i for f, i in zip(frames, indices)))
            del frames
    rows = [[name, seconds[name], n / seconds[name], f"{exact[name]}/{n}"] for name, _ in variants]
    default = rows[0][1]
    for row in rows:
        row.append(ratio(default, row[1]))
    report.table(
        f"{n} candidates of a {_length(info.duration)} {width}x{height} H.264 clip ({info.num_frames} frames, "
        f"GOP 250, 2 B-frames)",
        ["variant", "seconds", "frames/s", "exact", "speed vs default"],
        rows,
        note="frames/s: candidates delivered per second; speed vs default > 1x means faster than the default path.",
    )
    report.data.setdefault("results", {})["long_clip"] = seconds
    return default


def exactness_table(args, report: Report, clips: list[tuple[Path, tuple[int, int] | None]]) -> None:
    """Table 2: PyAV against decord, time and frame-exactness."""
    from selector.video import probe, read_frames

    try:
        import decord
    except ImportError:
        report.note("decord is not installed: no backend comparison")
        return
    fallbacks = FallbackCounter()
    logger = logging.getLogger("selector.video")
    logger.addHandler(fallbacks)
    level = logger.level
    logger.setLevel(logging.INFO)
    size = (args.model_size, args.model_size)
    rows = []
    try:
        for path, painted in clips:
            info = probe(path)
            n = info.num_frames
            rng = np.random.default_rng(0)
            patterns = {f"sorted {min(128, n)}": np.linspace(0, n - 1, min(128, n)).round().astype(int).tolist(),
                        "random 32": rng.choice(n, 32, replace=n < 32).tolist()}
            references = {}
            if painted is None:  # each backend's own sequential decode is the reference
                reader = decord.VideoReader(str(path), ctx=decord.cpu(0), width=size[0], height=size[1])
                references = {"decord": reader.get_batch(list(range(len(reader)))).asnumpy(),
                              "pyav": read_frames(info, range(n), size=size, backend="pyav")}
                del reader
            for pattern, indices in patterns.items():
                times: dict[str, float] = {}
                frames = {}
                before = fallbacks.count
                for backend in ("pyav", "decord"):
                    times[backend] = timed(lambda b=backend: frames.__setitem__(b, read_frames(info, indices, size=size, backend=b)),
                                           args.repeats, "cpu", warmup=False)
                if painted is not None:
                    exact = {b: sum(painted_index(f, *painted) == i for f, i in zip(frames[b], indices)) for b in frames}
                else:
                    exact = {b: sum(np.array_equal(f, references[b][i]) for f, i in zip(frames[b], indices)) for b in frames}
                fell_back = " (fell back to PyAV)" if fallbacks.count > before else ""
                rows.append([path.name, info.codec, n, pattern, times["pyav"], times["decord"],
                             ratio(times["decord"], times["pyav"]), f"{exact['pyav']}/{len(indices)}",
                             f"{exact['decord']}/{len(indices)}{fell_back}"])
    finally:
        logger.removeHandler(fallbacks)
        logger.setLevel(level)
    report.table(f"PyAV against decord at {size[0]}x{size[1]}: time and frame-exactness",
                 ["video", "codec", "frames", "read", "pyav s", "decord s", "pyav speed-up", "exact pyav", "exact decord"], rows,
                 note="exact: frames equal to the one asked for (painted index, or the backend's own sequential decode).")


def share_table(args, report: Report, info) -> None:
    """Table 3: decoding's share of `FrameSelector.select` on the long clip."""
    from .models import DecodeTimedSelector, build_selector, describe

    device = check_device(args.device)
    built, _ = build_selector(args.selector, device)
    selector = DecodeTimedSelector(built.model, built.processor, name=built.name)
    n = min(args.candidates, info.num_frames)
    question = "When does the bunny come out of its burrow?"
    selector.select(info, question, k=min(4, n), candidates=min(n, 4))  # warm-up
    selector.decode_seconds = 0.0
    start = time.perf_counter()
    selector.select(info, question, k=min(8, n), candidates=n)
    total = time.perf_counter() - start
    decode = selector.decode_seconds
    side = selector.image_size
    report.table(
        f"Share of selection time spent decoding ({args.selector} selector, {device}, {n} candidates at {side}x{side})",
        ["selector", "decode s", "model s", "select s (first question)", "decode share"],
        [[f"{args.selector}: {describe(selector)}", decode, total - decode, total, share(decode, total)]],
        note="`frame-selector bench real-size` gives the share at real size.",
    )


def paths_tables(args, report: Report, info, width: int, height: int, default_s: float, videos: list[Path], cache,
                 progress: bool) -> None:
    """Table 4: the limit, parallel decoding, the keyframe plan, pipelining."""
    from selector.candidates import CandidatePlan, candidate_frames

    from . import decode_paths

    model = (args.model_size, args.model_size)
    n = min(args.candidates, info.num_frames)
    indices = [f.index for f in candidate_frames(info, CandidatePlan(n=n))]
    parallel = decode_paths.parallel_table(report, info, indices, model, args.worker_counts, args.repeats, (width, height))
    results = report.data.setdefault("results", {})
    results["parallel"] = parallel
    results["limit"] = decode_paths.limit_table(report, info, indices, model, default_s, parallel[args.worker_counts[0]])
    results["keyframes"] = decode_paths.keyframe_table(report, [Path(info.path), *videos], args.candidates, model, args.repeats)
    if args.pipeline_videos and args.selector != "none":
        from .models import build_selector

        selector, _ = build_selector(args.selector, check_device(args.device), max_candidates=max(args.candidates, 8))
        clips = decode_paths.pipeline_videos(args.pipeline_videos, args.pipeline_seconds, cache, progress)
        results["pipeline"] = decode_paths.pipeline_table(report, selector, clips, args.candidates, 448 * 448, args.repeats,
                                                          args.prefetch)


def _worker_counts(text: str | None) -> list[int]:
    """1, 2, 4, ... below the cores, then the cores; or the counts asked for."""
    if text:
        return int_list(text, "--workers")
    cores, counts = usable_cores(), [1]
    while counts[-1] * 2 < cores:
        counts.append(counts[-1] * 2)
    return counts + [cores] if cores > 1 else counts


def run(args: Settings, report: Report) -> None:
    from selector.video import probe

    width, height = frame_size(args.size, "--size", "1280x720", 64, even=True)
    at_least(args.candidates, 1, "--candidates")
    at_least(args.model_size, 8, "--model-size")
    at_least(args.repeats, 1, "--repeats")
    args.thread_counts = int_list(args.threads, "--threads")
    args.worker_counts = _worker_counts(args.workers)
    at_least(args.pipeline_videos, 0, "--pipeline-videos")
    at_least(args.prefetch, 1, "--prefetch")
    if args.seconds <= 0 or args.open_gop_seconds < 0:
        raise UsageError("--seconds must be > 0 and --open-gop-seconds >= 0")
    names = [v for v in args.videos.split(",") if v.strip()]
    missing = [v for v in names if not (TEST_VIDEOS / v).is_file()]
    if missing:
        raise UsageError(f"--videos: {', '.join(missing)} not in {TEST_VIDEOS}")
    if args.selector != "none":
        check_device(args.device)
    cache = args.cache or default_cache()
    progress = not args.no_progress
    if args.long:
        long_path = Path(args.long)
    else:
        long_path = painted_video(args.seconds, width, height, 30, cache=cache, progress=progress)
    _page_cache(long_path)
    info = probe(long_path)
    report.note(f"long clip: {long_path} ({os.path.getsize(long_path) / 1e6:.0f} MB, {info.codec}, "
                f"{8 * os.path.getsize(long_path) / info.duration / 1e6:.1f} Mbit/s)")
    default_s = long_clip_table(args, report, info, width, height)
    paths_tables(args, report, info, width, height, default_s, [TEST_VIDEOS / v for v in names], cache, progress)
    clips: list[tuple[Path, tuple[int, int] | None]] = []
    if args.open_gop_seconds:
        clips.append((painted_video(args.open_gop_seconds, 640, 360, 30, OPEN_GOP, cache=cache, progress=progress), (640, 360)))
    clips += [(TEST_VIDEOS / v, None) for v in names]
    if clips:
        exactness_table(args, report, clips)
    if args.selector != "none":
        share_table(args, report, info)


__all__ = ["Settings", "run"]
