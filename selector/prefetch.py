"""Decoding ahead: the next videos' frames are decoded while the model works on this one.

Every path over many videos (`FrameSelector.select_videos`, `label`, `cache`, `eval`, the
lmms-eval plug-in) goes through `decode_ahead`: a small bounded thread pool (PyAV releases the
GIL while it decodes, and torch while it computes, so threads overlap both) that loads at most
`depth` items beyond the one being consumed and hands them over in input order. Memory stays bounded by
`depth + 1` videos' frames; `depth = 0` is the serial loop, loading each item when it is taken.
Errors travel with their item: `future.result()` raises where the serial loop raised, so a
consumer's per-video error handling (and hence its records and its resume behaviour) stays as
it was.

`decode_candidates` is the load of the paths whose model code decodes by itself (the selector,
the eval choosers): it decodes the candidates at the size that code will ask for, and
`Prefetched.handed_over()` makes `decode_frames` hand those frames over when the request comes.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from .candidates import CandidatePlan, candidate_frames
from .frames import Frame
from .video import DecodedFrames, VideoInfo, decode_frames, probe, serving

T = TypeVar("T")
R = TypeVar("R")

PREFETCH_ENV = "FRAME_SELECTOR_PREFETCH"
DEFAULT_DEPTH = 2  # two videos ahead: one decoding while the other waits covers a model step's jitter


def default_depth() -> int:
    """Videos decoded ahead: ``$FRAME_SELECTOR_PREFETCH``, else 2 (0 = the serial loop).

    The one setting of pipelining, read where it is needed so that every command follows it.
    """
    text = os.environ.get(PREFETCH_ENV, "").strip()
    if not text:
        return DEFAULT_DEPTH
    if not text.isdigit():
        raise ValueError(f"{PREFETCH_ENV} must be a whole number >= 0, not {text!r}")
    return int(text)


def _now(load: Callable[[T], R], item: T) -> Future[R]:
    """A finished future: the serial loop's load, with the error kept for `result()` like a pool's."""
    future: Future[R] = Future()
    try:
        future.set_result(load(item))
    except BaseException as error:  # noqa: BLE001 - handed to the consumer, as a pool would
        future.set_exception(error)
    return future


def decode_ahead(items: Iterable[T], load: Callable[[T], R], depth: int | None = None) -> Iterator[tuple[T, Future[R]]]:
    """``(item, future of load(item))`` in the order of ``items``, up to ``depth`` loads running
    ahead of the consumer (``None``: `default_depth()`). Leaving the loop early cancels the
    loads not started and waits for the running ones."""
    depth = default_depth() if depth is None else depth
    if depth < 0:
        raise ValueError(f"prefetch depth must be >= 0, not {depth}")
    if depth == 0:
        for item in items:
            yield item, _now(load, item)
        return
    queued: deque[tuple[T, Future[R]]] = deque()
    with ThreadPoolExecutor(depth, thread_name_prefix="prefetch") as pool:
        try:
            for item in items:
                queued.append((item, pool.submit(load, item)))
                if len(queued) > depth:
                    yield queued.popleft()
            while queued:
                yield queued.popleft()
        finally:
            for _, future in queued:
                future.cancel()


@dataclass(frozen=True)
class Prefetched:
    """A probed video, its candidates, and their frames decoded at ``size`` (``None``: nothing
    decoded, the consumer needs no pixels)."""

    info: VideoInfo
    candidates: list[Frame]
    size: tuple[int, int] | None
    decoded: DecodedFrames | None

    @contextlib.contextmanager
    def handed_over(self) -> Iterator[None]:
        """Within the block, a `decode_frames` call for these candidates at this size is handed
        the frames decoded ahead instead of decoding them again."""
        if self.decoded is None:
            yield
            return
        with serving(self.info, [c.index for c in self.candidates], self.size, self.decoded):
            yield


def decode_candidates(video: str | os.PathLike | VideoInfo, plan: CandidatePlan,
                      size_of: Callable[[VideoInfo], tuple[int, int] | None]) -> Prefetched:
    """Probe, lay out the candidates, and decode them at ``size_of(info)`` (skipped when it is
    ``None``): the work a consumer would do on the video before its model, done ahead."""
    info = video if isinstance(video, VideoInfo) else probe(video)
    candidates = candidate_frames(info, plan)
    size = size_of(info)
    decoded = None if size is None else decode_frames(info, [c.index for c in candidates], size=size)
    return Prefetched(info, candidates, size, decoded)


__all__ = ["decode_ahead", "decode_candidates", "default_depth", "Prefetched", "PREFETCH_ENV", "DEFAULT_DEPTH"]
