"""Reading frames: the requested indices decoded exactly (runs that share a keyframe in parallel
threads), resized and upright; substitutes named, never silent; decoded frames handed over to a
request made ahead (`selector.prefetch`)."""

from __future__ import annotations

import contextlib
import itertools
import logging
import operator
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
from av.video.reformatter import VideoReformatter

from ..hardware import usable_cores
from .decoder import DecodeOptions, _Decoder, _SkipUnsafe
from .probing import VideoError, VideoInfo, _av_errors, probe

log = logging.getLogger(__name__)

BACKENDS = ("auto", "decord", "pyav")


def keyframe_runs(keyframes: np.ndarray, unique: np.ndarray, options: DecodeOptions | None = None) -> list[slice]:
    """Split ascending targets where the serial decoder seeks: each run starts at a keyframe and
    is decoded on from there, so runs decode independently and give the serial path's frames.
    Public because the work a read must do (the frames from each run's keyframe to its last
    target) is what `frame-selector bench decode` holds the decoder's speed against."""
    if not len(keyframes):
        return [slice(0, len(unique))]
    seek_gap = (options or DecodeOptions()).seek_gap
    kpos = np.searchsorted(keyframes, unique, side="right") - 1
    entry = np.where(kpos >= 0, keyframes[np.maximum(kpos, 0)], 0)
    starts = [0] + [j for j in range(1, len(unique)) if entry[j] > unique[j - 1] + seek_gap]
    return [slice(a, b) for a, b in zip(starts, starts[1:] + [len(unique)])]


def _read_pyav(info: VideoInfo, keyframes: np.ndarray, unique: np.ndarray, width: int, height: int,
               num_threads: int | None, workers: int, options: DecodeOptions | None) -> tuple[np.ndarray, list[int]]:
    """The frames of ``unique`` (ascending) and those of them that are substitutes.

    Runs (see ``keyframe_runs``) go to up to ``workers`` threads in ascending order, each thread
    with its own container and decoder: PyAV releases the GIL while FFmpeg decodes and scales
    (two threads decoding gave 2.0x the frames of one on 2 cores). A thread takes the next run
    when it is done, so a run far from its keyframe does not hold the others up.
    """
    quarter_turns = round(info.rotation / 90) % 4
    scale_w, scale_h = (height, width) if quarter_turns % 2 else (width, height)
    out = np.empty((len(unique), height, width, 3), dtype=np.uint8)
    runs = keyframe_runs(keyframes, unique, options)
    for wanted in (unique, None):  # None: again without skipping, for streams where that is unsafe
        used = max(1, min(workers, len(runs))) if wanted is not None else 1
        threads = num_threads if num_threads is not None else max(1, default_threads() // used)
        taken = itertools.count()  # next() on a count is atomic: each run goes to one thread
        failed: list[bool] = []  # a thread that fails stops the others taking more runs

        def work() -> list[int]:
            decoder = _Decoder(info, keyframes, threads, wanted, options)
            # One scaler per thread for all its frames: frame.to_ndarray(width=...) builds a new
            # one per frame, which took 2.3x longer on 1080p input.
            scaler = VideoReformatter()
            try:
                with _av_errors(info.path, "decoding"):
                    while not failed and (r := next(taken)) < len(runs):
                        for j in range(runs[r].start, runs[r].stop):
                            frame = scaler.reformat(decoder.frame_at(int(unique[j])), width=scale_w, height=scale_h,
                                                    format="rgb24")
                            rgb = frame.to_ndarray()
                            out[j] = np.rot90(rgb, k=quarter_turns) if quarter_turns else rgb
                return decoder.substituted
            except BaseException:
                failed.append(True)
                raise
            finally:
                decoder.close()

        try:
            if used == 1:
                return out, work()
            with ThreadPoolExecutor(used, thread_name_prefix="decode") as pool:
                pending = [pool.submit(work) for _ in range(used)]
                return out, sorted(i for p in pending for i in p.result())
        except _SkipUnsafe:
            log.info("%s: packets without pts, decoding every frame", info.path)
    raise AssertionError("unreachable")


def _read_decord(info: VideoInfo, unique: np.ndarray, width: int, height: int, num_threads: int) -> np.ndarray | None:
    """decord's batch read, or ``None`` (logged) whenever it cannot be trusted to match PyAV's frames."""
    try:
        import decord
    except ImportError:
        log.info("decord is not installed; decoding %s with PyAV", info.path)
        return None
    try:
        # A fresh reader per call, dropped on return: a long-lived reader keeps decoding in the
        # background and grows in memory (dmlc/decord#197, #208).
        reader = decord.VideoReader(info.path, ctx=decord.cpu(0), width=width, height=height,
                                    num_threads=num_threads)
        if len(reader) != info.num_frames:
            log.warning("%s: decord counts %d frames, the container %d; decoding with PyAV",
                        info.path, len(reader), info.num_frames)
            return None
        batch = reader.get_batch(unique.tolist())
        frames = np.asarray(batch.asnumpy() if hasattr(batch, "asnumpy") else batch)
    except Exception as e:  # decord raises DECORDError, RuntimeError and others; any means "use PyAV"
        log.warning("%s: decord failed (%s); decoding with PyAV", info.path, " ".join(str(e).split())[:200])
        return None
    if frames.shape != (len(unique), height, width, 3) or frames.dtype != np.uint8:
        log.warning("%s: decord returned %s %s; decoding with PyAV", info.path, frames.shape, frames.dtype)
        return None
    return frames


def default_threads() -> int:
    """FFmpeg threads of one decoder when nobody says: the usable cores, at most 8 (see
    ``decode_frames``' ``num_threads``)."""
    return min(8, usable_cores())


WORKERS_ENV = "FRAME_SELECTOR_DECODE_WORKERS"


def default_workers() -> int:
    """Decoding threads for one video: ``$FRAME_SELECTOR_DECODE_WORKERS``, else one per usable core.

    The one setting of parallel decoding, read where it is needed so that every command (select,
    label, cache, eval, lmms-eval) follows it without an option of its own.
    """
    text = os.environ.get(WORKERS_ENV, "").strip()
    if not text:
        return usable_cores()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{WORKERS_ENV} must be a whole number >= 1, not {text!r}")
    return int(text)


@dataclass(frozen=True)
class DecodedFrames:
    """What ``decode_frames`` hands over: the pixels, and which of them are not the frame named.

    Attributes:
        frames: uint8 ``(len(indices), height, width, 3)``, RGB, in the order of the request.
        substituted: ascending source indices whose frame did not decode even after decoding
            again from an earlier keyframe (damaged or dropped in the file); their rows hold
            the frame shown before them, what a player shows at that time. Empty on an exact read.
    """

    frames: np.ndarray
    substituted: tuple[int, ...] = ()


# Frames decoded ahead (``selector.prefetch``), handed over by ``decode_frames`` when the very same
# request comes: the consumer's code (a chooser, the selector) stays the same with or without it.
_SERVED: ContextVar[dict[tuple, DecodedFrames] | None] = ContextVar("served_frames", default=None)


def _request_key(path: str, indices: Sequence[int], size: tuple[int, int] | None, backend: str) -> tuple:
    return (path, tuple(int(i) for i in indices), None if size is None else (int(size[0]), int(size[1])), backend)


@contextlib.contextmanager
def serving(info: VideoInfo, indices: Sequence[int], size: tuple[int, int] | None, decoded: DecodedFrames,
            backend: str = "auto") -> Iterator[None]:
    """Within the block, ``decode_frames(info, indices, size, backend)`` returns ``decoded`` without
    decoding (frames decoded ahead while the model worked on the video before)."""
    served = dict(_SERVED.get() or {})
    served[_request_key(info.path, indices, size, backend)] = decoded
    token = _SERVED.set(served)
    try:
        yield
    finally:
        _SERVED.reset(token)


def read_frames(video: str | os.PathLike | VideoInfo, indices: Sequence[int],
                size: tuple[int, int] | None = None, backend: str = "auto", *,
                num_threads: int | None = None, workers: int | None = None,
                options: DecodeOptions | None = None) -> np.ndarray:
    """Decode frames by presentation index, upright and already at the size the caller needs.

    Every returned frame is the one named; a caller that can use a stand-in for a frame the file
    does not hold intact, and record it as such, calls ``decode_frames`` instead.

    Args: as ``decode_frames``.

    Returns:
        uint8 array ``(len(indices), height, width, 3)``, RGB, in the order of ``indices``.

    Raises:
        VideoError: unreadable video, an index outside ``0 .. num_frames - 1``, or a frame that
            does not decode (damaged or dropped in the file).
        ValueError: an unknown backend or a malformed size (caller bugs, not bad videos).
    """
    decoded = decode_frames(video, indices, size, backend, num_threads=num_threads, workers=workers, options=options)
    if decoded.substituted:
        path = video.path if isinstance(video, VideoInfo) else video
        listed = ", ".join(map(str, decoded.substituted))
        raise VideoError(path, f"frames that do not decode (damaged or dropped in the file): {listed}; "
                         "decode_frames hands over the frame shown before each, marked as a substitute")
    return decoded.frames


def decode_frames(video: str | os.PathLike | VideoInfo, indices: Sequence[int],
                  size: tuple[int, int] | None = None, backend: str = "auto", *,
                  num_threads: int | None = None, workers: int | None = None,
                  options: DecodeOptions | None = None) -> DecodedFrames:
    """Decode frames by presentation index, upright and already at the size the caller needs; a
    frame the file does not hold intact is replaced by the frame shown before it and listed in
    ``substituted`` (and logged as a warning), never handed over silently. Inside ``serving``
    (``selector.prefetch``), the very request decoded ahead is handed over without decoding.

    Args:
        video: a path, or the ``VideoInfo`` of an earlier ``probe`` (saves the demux pass).
        indices: frame indices in presentation order, any order, duplicates allowed.
        size: ``(width, height)`` of the output after rotation; ``None`` = display size. Scaling
            happens in the decoder's scaler, which is much cheaper than resizing full frames.
        backend: ``"auto"`` (PyAV; see the module docstring for why), ``"pyav"`` or ``"decord"``.
        num_threads: FFmpeg threads of each decoder. ``None`` = the usable cores (capped at 8)
            shared among the workers: on 2 cores one decoder with 2 threads was 25% faster than
            FFmpeg's own choice (cores + 1), and more threads only lengthen the pipeline to refill
            after every seek. Pass 1 when several worker processes decode.
        workers: decoders working on the video at once, each from its own keyframes on (runs
            of candidates that share a keyframe; the frames are those one decoder returns).
            ``None`` = ``default_workers()`` (``$FRAME_SELECTOR_DECODE_WORKERS`` or the usable
            cores); never more than the video has runs.
        options: how PyAV gets from one wanted frame to the next (``DecodeOptions``; ``None``:
            the defaults). The frames are the same whatever the options; decord ignores them.

    Raises:
        VideoError: unreadable video, or an index outside ``0 .. num_frames - 1``.
        ValueError: an unknown backend or a malformed size (caller bugs, not bad videos).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if size is not None and (len(size) != 2 or any(operator.index(s) <= 0 for s in size)):
        raise ValueError(f"size must be (width, height) with positive integers, not {size!r}")
    info = video if isinstance(video, VideoInfo) else probe(video)
    wanted = np.asarray([operator.index(i) for i in indices], dtype=np.int64)
    outside = wanted[(wanted < 0) | (wanted >= info.num_frames)]
    if len(outside):
        raise VideoError(info.path, f"frame index {int(outside[0])} out of range: the video has "
                         f"{info.num_frames} frames (0..{info.num_frames - 1})")
    width, height = (int(size[0]), int(size[1])) if size is not None else (info.width, info.height)
    served = (_SERVED.get() or {}).get(_request_key(info.path, wanted.tolist(), size, backend))
    if served is not None:
        return served
    if workers is None:
        workers = default_workers()
    elif operator.index(workers) < 1:
        raise ValueError(f"workers must be >= 1, not {workers!r}")
    unique = np.unique(wanted)
    if not len(unique):
        return DecodedFrames(np.empty((0, height, width, 3), dtype=np.uint8))
    frames, substituted = None, []
    if backend == "decord":
        frames = _read_decord(info, unique, width, height, num_threads or default_threads())
    if frames is None:
        keyframes = info.keyframes if info.keyframes is not None else probe(info.path).keyframes
        frames, substituted = _read_pyav(info, keyframes, unique, width, height, num_threads, workers, options)
    return DecodedFrames(frames[np.searchsorted(unique, wanted)], tuple(substituted))
