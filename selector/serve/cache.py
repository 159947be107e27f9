"""Work done once per video, kept for the next request on it: a bounded LRU keyed by the video's
content hash and candidate plan.

An entry holds the probe (`VideoInfo`: every frame's true time and the keyframes, so a later
request neither demuxes nor re-reads the file for them), the candidate records and the frame
prefix (the frames through the vision tower and the LLM, key/value cache kept). The candidates'
decoded pixels are dropped once the prefix exists: the prefix supersedes them, and they are the
largest part (128 frames at 384 px are 57 MB). A file's content hash is itself remembered by
(path, size, mtime, inode), so an unchanged file is hashed once.

Requests that arrive for one unseen video before its prefix is stored share one decode
(`VideoCache.prepare`); with `capacity=0` nothing is kept or shared (`bench serve` measures the
difference).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, replace

import numpy as np

from ..api import FrameSelector
from ..candidates import CandidatePlan
from ..frames import Frame
from ..modeling import FramePrefix
from ..selection import check_k
from ..video import DecodedFrames, VideoInfo, content_hash, probe
from .errors import too_large

HASH_MEMO = 4096  # remembered file hashes


@dataclass(frozen=True)
class CachedVideo:
    """What the cache keeps of a video (for one candidate plan); `substituted`: candidates that
    did not decode and were scored from the frame shown before them."""

    info: VideoInfo
    frames: list[Frame]
    prefix: FramePrefix
    substituted: tuple[int, ...] = ()

    @property
    def nbytes(self) -> int:
        """The bytes of the arrays this entry keeps alive: the prefix's keys and values, its
        frame states and the video's frame clock, which is what grows with the video's length
        and the model's size (the frame records and the probe's scalars are small beside it)."""
        tensors = [t for layer in self.prefix.cache.layers for t in (layer.keys, layer.values) if t is not None]
        if self.prefix.frame_states is not None:
            tensors.append(self.prefix.frame_states)
        arrays = [a for a in (self.info.timestamps, self.info.keyframes) if a is not None]
        return sum(t.nelement() * t.element_size() for t in tensors) + sum(a.nbytes for a in arrays)


@dataclass(frozen=True)
class PreparedVideo:
    """A request's video, ready for the batcher: its prefix when cached, else its decoded
    candidates. `info.path` is this request's file (a cached probe is re-pointed at it)."""

    key: tuple[str, str]
    info: VideoInfo
    frames: list[Frame]
    prefix: FramePrefix | None = None
    pixels: np.ndarray | None = None
    hit: bool = False
    substituted: tuple[int, ...] = ()

    @property
    def digest(self) -> str:
        return self.key[0]


class VideoCache:
    """The LRU of `CachedVideo`s (thread-safe: the model thread stores, the loop reads)."""

    def __init__(self, selector: FrameSelector, capacity: int = 32, max_duration: float | None = None) -> None:
        if capacity < 0:
            raise ValueError(f"cache capacity must be >= 0, not {capacity}")
        self.selector = selector
        self.capacity = capacity
        self.max_duration = max_duration
        self._entries: OrderedDict[tuple[str, str], CachedVideo] = OrderedDict()
        self._hashes: OrderedDict[tuple, str] = OrderedDict()
        self._pending: dict[tuple[str, str], asyncio.Future] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def nbytes(self) -> int:
        """Bytes the cached videos hold (`CachedVideo.nbytes`), for `/metrics`."""
        with self._lock:
            entries = list(self._entries.values())
        return sum(entry.nbytes for entry in entries)

    def get(self, key: tuple[str, str]) -> CachedVideo | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[str, str], entry: CachedVideo) -> None:
        """Keep a video's prefix; its shared decode (if any) is then no longer needed."""
        self.forget(key)
        if self.capacity == 0:
            return
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def forget(self, key: tuple[str, str]) -> None:
        """Drop the shared decode of a video (its prefix is stored, or could not be made)."""
        self._pending.pop(key, None)

    def digest(self, path: str) -> str:
        """The file's content hash, remembered while the file is unchanged."""
        stat = os.stat(path)
        memo = (path, stat.st_size, stat.st_mtime_ns, stat.st_ino)
        with self._lock:
            if memo in self._hashes:
                return self._hashes[memo]
        value = content_hash(path)
        with self._lock:
            self._hashes[memo] = value
            while len(self._hashes) > HASH_MEMO:
                self._hashes.popitem(last=False)
        return value

    def _check(self, info: VideoInfo, frames: list[Frame], k: int) -> None:
        if self.max_duration is not None and info.duration > self.max_duration:
            raise too_large(f"the video lasts {info.duration:.0f} s; this proxy takes up to {self.max_duration:g} s (--max-duration)",
                            code="video_too_long")
        check_k(k, len(frames), "the video")

    def _decode(self, path: str, plan: CandidatePlan, k: int) -> tuple[VideoInfo, list[Frame], DecodedFrames]:
        info, frames = self.selector.candidates(probe(path), plan)
        self._check(info, frames, k)
        return info, frames, self.selector.read_candidates(info, frames)

    async def prepare(self, path: str, plan: CandidatePlan, k: int, executor: Executor | None = None,
                      on_hash: Callable[[], None] | None = None) -> PreparedVideo:
        """Hash, then a cache hit, a decode already under way for the same video, or a decode of
        our own, all on `executor` (off the event loop). Raises `VideoError`, `ProxyError` (413
        for a video over `max_duration`), `ValueError` (k out of range)."""
        loop = asyncio.get_running_loop()
        digest = await loop.run_in_executor(executor, self.digest, path)
        key = (digest, json.dumps(plan.to_dict(), sort_keys=True))
        entry = self.get(key)
        if entry is not None:
            self._check(entry.info, entry.frames, k)
            return PreparedVideo(key, replace(entry.info, path=path), entry.frames, prefix=entry.prefix, hit=True,
                                 substituted=entry.substituted)
        pending = self._pending.get(key) if self.capacity else None
        if pending is not None:
            info, frames, decoded = await asyncio.shield(pending)
            self._check(info, frames, k)
            return PreparedVideo(key, replace(info, path=path), frames, pixels=decoded.frames, hit=True,
                                 substituted=decoded.substituted)
        future = loop.create_future()
        if self.capacity:
            # Shared until the batcher stores the prefix (`put`) or fails to make it (`forget`).
            self._pending[key] = future
        try:
            # A shared decode must not carry this request's k: check k apart, after it.
            result = await loop.run_in_executor(executor, self._decode, path, plan, 1)
            future.set_result(result)
        except BaseException as error:
            self.forget(key)
            future.set_exception(error)
            future.exception()  # retrieved: waiters re-raise it, nobody else must log it
            raise
        info, frames, decoded = result
        try:
            self._check(info, frames, k)
        except Exception:
            self.forget(key)
            raise
        return PreparedVideo(key, info, frames, pixels=decoded.frames, substituted=decoded.substituted)


__all__ = ["CachedVideo", "PreparedVideo", "VideoCache"]
