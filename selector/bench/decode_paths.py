"""`bench decode`'s tables on the decoder's limit and on the faster paths: the ceiling and the
minimum work on the long clip, parallel decoding of one video by worker count, the keyframe plan
(speed against time displacement), and pipelined decoding over many videos against the serial
loop for the selector, the feature cache and labelling."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .common import Report, painted_index, painted_video, ratio, usable_cpus


def _best(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Seconds of the fastest of `repeats` calls and the last result (no warm-up: decoding has none)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def ceiling(info) -> tuple[int, float]:
    """(packets, seconds) of one sequential pass over every packet with non-reference frames
    skipped: the most packets per second this decoder gets through on this clip."""
    import av

    from ..video.reading import _default_threads

    with av.open(info.path) as container:
        stream = container.streams[info.stream_index]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = _default_threads()
        stream.codec_context.skip_frame = "NONREF"
        packets = 0
        start = time.perf_counter()
        for packet in container.demux(stream):
            packets += packet.size > 0
            for _ in stream.codec_context.decode(packet):
                pass
        return packets, time.perf_counter() - start


def needed_packets(info, indices: Sequence[int]) -> int:
    """Frames from each run's keyframe to its last candidate: what any exact decoder must read."""
    from ..video.reading import _runs

    unique = np.unique(np.asarray(indices))
    keyframes = info.keyframes
    total = 0
    for run in _runs(keyframes, unique):
        first = int(unique[run.start])
        entry = int(keyframes[max(0, np.searchsorted(keyframes, first, side="right") - 1)])
        total += int(unique[run.stop - 1]) - entry + 1
    return total


def limit_table(report: Report, info, indices: Sequence[int], size: tuple[int, int], default_s: float, serial_s: float) -> dict:
    """The ceiling and the minimum work, against the measured paths."""
    packets, seconds = ceiling(info)
    rate = packets / seconds
    needed = needed_packets(info, indices)
    floor = needed / rate
    rows = [
        ["ceiling: every packet, non-reference frames skipped, one decoder", packets, seconds, rate, "-"],
        [f"minimum work: the {needed} packets from each run's keyframe to its last candidate, at the ceiling rate",
         needed, floor, rate, "1.00x"],
        ["measured: 1 worker", needed, serial_s, needed / serial_s, ratio(serial_s, floor)],
        ["measured: default (parallel workers)", needed, default_s, needed / default_s, ratio(default_s, floor)],
    ]
    report.table(f"The decoder's limit on this clip ({len(indices)} candidates at {size[0]}x{size[1]})",
                 ["", "packets", "seconds", "packets/s", "vs minimum"], rows,
                 note="packets/s: packets through the decoder per second (skipped non-reference frames count as "
                      "passed). The minimum divides only by one decoder's rate; workers divide it further.")
    return {"ceiling_packets": packets, "ceiling_s": seconds, "needed_packets": needed, "floor_s": floor}


def parallel_table(report: Report, info, indices: Sequence[int], size: tuple[int, int], workers: Sequence[int],
                   repeats: int, painted: tuple[int, int] | None) -> dict[int, float]:
    """One video's candidates by worker count; every frame checked against its painted index."""
    from ..video import read_frames

    seconds: dict[int, float] = {w: float("inf") for w in workers}
    exact: dict[int, int] = {}
    for round_ in range(repeats):  # rounds in alternating order: load that comes and goes hits all alike
        for w in workers if round_ % 2 == 0 else workers[::-1]:
            took, frames = _best(lambda w=w: read_frames(info, indices, size=size, workers=w), 1)
            seconds[w] = min(seconds[w], took)
            if painted is not None:
                exact[w] = sum(painted_index(f, *painted) == i for f, i in zip(frames, indices))
    one = seconds[workers[0]]
    rows = [[w, seconds[w], len(indices) / seconds[w], f"{exact[w]}/{len(indices)}" if w in exact else "-",
             ratio(one, seconds[w])] for w in workers]
    report.table(f"Parallel decoding of one video by worker count ({usable_cpus()} cores here)",
                 ["workers", "seconds", "frames/s", "exact", f"speed-up vs {workers[0]}"], rows,
                 note="Each worker is a thread with its own container and decoder, taking runs of candidates that "
                      "share a keyframe; FFmpeg threads per decoder = min(8, cores) // workers.")
    return seconds


def keyframe_table(report: Report, clips: Sequence[Path], n: int, size: tuple[int, int], repeats: int) -> list[dict]:
    """The keyframe plan against the exact uniform plan: speed, and how far its frames sit from the times asked for."""
    from ..candidates import CandidatePlan, candidate_frames, uniform_times
    from ..video import probe, read_frames

    rows, results = [], []
    for path in clips:
        info = probe(path)
        times = {}
        shown = {}
        for plan in (CandidatePlan(n=n), CandidatePlan(kind="keyframes", n=n)):
            frames = candidate_frames(info, plan)
            indices = [f.index for f in frames]
            times[plan.kind], _ = _best(lambda: read_frames(info, indices, size=size), repeats)
            shown[plan.kind] = np.array([f.seconds for f in frames])
        # Each uniform time's distance to the nearest keyframe candidate: defined also when the
        # video has fewer keyframes than candidates (then several times share one keyframe).
        wanted = uniform_times(info.timestamps, info.duration, len(shown["uniform"]))
        off = np.abs(wanted[:, None] - shown["keyframes"][None, :]).min(axis=1)
        gop = float(np.mean(np.diff(info.timestamps[info.keyframes]))) if len(info.keyframes) > 1 else float("nan")
        rows.append([path.name, len(shown["uniform"]), len(shown["keyframes"]), gop, times["uniform"], times["keyframes"],
                     ratio(times["uniform"], times["keyframes"]), float(off.mean()), float(off.max())])
        results.append({"video": path.name, "uniform_s": times["uniform"], "keyframes_s": times["keyframes"],
                        "keyframe_candidates": len(shown["keyframes"]), "mean_off_s": float(off.mean()), "max_off_s": float(off.max())})
    report.table(f"The keyframe plan (keyframes:{n}, approximate) against uniform:{n} (exact)",
                 ["video", "uniform candidates", "keyframe candidates", "mean GOP s", "uniform s", "keyframes s", "speed-up",
                  "mean displacement s", "max displacement s"], rows,
                 note="displacement: seconds from each uniform time to the nearest keyframe candidate. A video with "
                      "fewer keyframes than candidates gets them all: fewer candidates, further apart.")
    return results


def pipeline_table(report: Report, selector, videos: Sequence[Path], n: int, label_pixels: int, repeats: int, depth: int) -> dict:
    """Many videos through the selector, the feature cache and labelling: serial loop against
    decoding ahead (`selector.prefetch`), the same model work in both."""
    import torch

    from ..api import encode_frames
    from ..candidates import CandidatePlan, candidate_frames
    from ..prefetch import ahead
    from ..video import content_hash, probe, read_frames

    side = selector.image_size
    infos = [probe(v) for v in videos]
    indices = {info.path: [f.index for f in candidate_frames(info, CandidatePlan(n=n))] for info in infos}
    question = "When does the texture change direction?"
    ids, mask = selector.processor.question_batch([question])

    def label_size(info) -> tuple[int, int]:
        scale = min(1.0, (label_pixels / (info.width * info.height)) ** 0.5)
        return max(28, round(info.width * scale)), max(28, round(info.height * scale))

    @torch.no_grad()
    def score(pixels: np.ndarray) -> None:
        """The scorer's work on label-sized frames: resized to its input (as a VLM's processor
        does), the vision tower, the frame prefix, one question."""
        from .decode import resize

        features = encode_frames(selector.model, selector.processor, resize(pixels, side))
        prefix = selector.model.frame_prefix(features, selector.prefix_ids)
        selector.model.score_with_prefix(prefix, ids, mask)

    def run_select(d: int) -> None:
        for _ in selector.select_videos([(info, [question]) for info in infos], k=min(8, n), candidates=n, prefetch=d):
            pass

    def run_cache(d: int) -> None:
        for _, pixels in ahead(infos, lambda info: read_frames(info, indices[info.path], size=(side, side)), d):
            encode_frames(selector.model, selector.processor, pixels.result())

    def run_label(d: int) -> None:
        def load(info):
            return read_frames(info, indices[info.path], size=label_size(info)), content_hash(info.path)

        for _, loaded in ahead(infos, load, d):
            score(loaded.result()[0])

    paths = {"select (FrameSelector.select_videos)": run_select,
             "cache (decode at the tower's size, then the vision tower, as build_cache)": run_cache,
             f"label (decode at the scorers' size, {label_pixels} pixels, and hash; the small selector as the scorer)": run_label}
    seconds = {(name, d): float("inf") for name in paths for d in (0, depth)}
    run_select(0)  # warm-up: first allocations, thread pools
    for round_ in range(repeats):
        for name, fn in paths.items():
            for d in (0, depth) if round_ % 2 == 0 else (depth, 0):
                took, _ = _best(lambda: fn(d), 1)
                seconds[name, d] = min(seconds[name, d], took)
    rows = [[name, seconds[name, 0], seconds[name, depth], len(videos) / seconds[name, depth],
             ratio(seconds[name, 0], seconds[name, depth])] for name in paths]
    report.table(f"Pipelined over {len(videos)} videos ({n} candidates each) against the serial loop",
                 ["path", "serial s", f"pipelined s ({depth} ahead)", "videos/s pipelined", "speed-up"], rows,
                 note="Serial: each video decoded, then its model work. Pipelined: the next videos decoded in "
                      "threads while the model works (FRAME_SELECTOR_PREFETCH). Both decode with the default workers.")
    return {name: {"serial_s": seconds[name, 0], "pipelined_s": seconds[name, depth]} for name in paths}


def pipeline_videos(count: int, seconds: float, cache, progress: bool) -> list[Path]:
    """`count` distinct 640x360 painted clips (GOP 250, like the long clip), generated once."""
    return [painted_video(seconds, 640, 360, 30, seed=v + 1, cache=cache, progress=progress) for v in range(count)]


__all__ = ["ceiling", "needed_packets", "limit_table", "parallel_table", "keyframe_table", "pipeline_table", "pipeline_videos"]
