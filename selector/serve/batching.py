"""Micro-batching: the selection work of requests in flight together runs as one batch on the
selector's device, in one model thread.

A batch is whatever queued while the previous one ran (plus up to `window` seconds of waiting
for the first one's company), at most `max_batch` requests. In it:

* the candidates of every video without a frame prefix go through the vision tower together
  (stacked: the tower sees frames, not videos), then each video's prefix is computed once and
  stored in the `VideoCache`;
* all questions on one video are packed into one pass after its prefix
  (`FrameSelector.score_questions`), so several questions on a video cost one prefix;
* each request then gets its own `Selection` (its own k, rule and delta).

One thread does all model work: the device is used by one batch at a time, and decoding, JPEG
encoding and HTTP keep the other threads and the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..api import FrameSelector, Selection
from ..records import VideoQuestion
from .cache import CachedVideo, PreparedVideo, VideoCache
from .request import SelectionSettings


@dataclass
class _Job:
    video: PreparedVideo
    question: str
    settings: SelectionSettings
    future: asyncio.Future = field(repr=False)


@dataclass(frozen=True)
class Chosen:
    """A request's selection and the size of the batch it was scored in."""

    selection: Selection
    batch: int


class SelectionBatcher:
    """Queue requests' selection work and run it in micro-batches (see the module notes)."""

    def __init__(self, selector: FrameSelector, cache: VideoCache, max_batch: int = 32, window: float = 0.002) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, not {max_batch}")
        self.selector = selector
        self.cache = cache
        self.max_batch = max_batch
        self.window = window
        self.batches = 0
        self.batched = 0
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task | None = None
        self._model = ThreadPoolExecutor(1, thread_name_prefix="frame-selector-model")

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="frame-selector-batcher")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._model.shutdown(wait=True)

    async def select(self, video: PreparedVideo, question: str, settings: SelectionSettings) -> Chosen:
        """This request's selection, scored with whatever else is in flight."""
        if self._queue is None:
            raise RuntimeError("the batcher is not started")
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(video, question, settings, future))
        return await future

    async def _gather(self) -> list[_Job]:
        assert self._queue is not None
        jobs = [await self._queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.window
        while len(jobs) < self.max_batch:
            if not self._queue.empty():
                jobs.append(self._queue.get_nowait())
                continue
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                jobs.append(await asyncio.wait_for(self._queue.get(), left))
            except asyncio.TimeoutError:
                break
        return jobs

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._gather()
            try:
                results = await loop.run_in_executor(self._model, self._work, jobs)
            except Exception as error:  # a bug in the batch as a whole: every request hears of it
                results = [error] * len(jobs)
            self.batches += 1
            self.batched += len(jobs)
            for job, result in zip(jobs, results):
                if job.future.done():  # the client went away
                    continue
                if isinstance(result, BaseException):
                    job.future.set_exception(result)
                else:
                    job.future.set_result(Chosen(result, len(jobs)))

    def _prefixes(self, groups: OrderedDict[tuple, list[_Job]]) -> dict[tuple, object]:
        """Each group's prefix: from the request, the cache, or computed here (one vision pass
        over every missing video's candidates)."""
        prefixes: dict[tuple, object] = {}
        missing = []
        for key, jobs in groups.items():
            video = jobs[0].video
            cached = video.prefix or getattr(self.cache.get(key), "prefix", None)
            if cached is not None:
                prefixes[key] = cached
            else:
                missing.append(key)
        if not missing:
            return prefixes
        pixels = [groups[key][0].video.pixels for key in missing]
        try:
            features = self.selector.encode_pixels(np.concatenate(pixels))
        except Exception as error:
            for key in missing:
                self.cache.forget(key)
            return {**prefixes, **{key: error for key in missing}}
        start = 0
        for key, frames in zip(missing, pixels):
            video = groups[key][0].video
            try:
                prefix = self.selector.frame_prefix(features[start:start + len(frames)])
                self.cache.put(key, CachedVideo(video.info, video.frames, prefix, video.substituted))
                prefixes[key] = prefix
            except Exception as error:
                self.cache.forget(key)
                prefixes[key] = error
            start += len(frames)
        return prefixes

    def _work(self, jobs: list[_Job]) -> list[Selection | BaseException]:
        groups: OrderedDict[tuple, list[_Job]] = OrderedDict()
        for job in jobs:
            groups.setdefault(job.video.key, []).append(job)
        prefixes = self._prefixes(groups)
        results: dict[int, Selection | BaseException] = {}
        for key, group in groups.items():
            prefix = prefixes[key]
            try:
                if isinstance(prefix, BaseException):
                    raise prefix
                questions = [VideoQuestion(str(i), job.video.info.path, job.question, list(job.settings.options or []))
                             for i, job in enumerate(group)]
                scores = self.selector.score_questions(prefix, questions)
                for job, question, row in zip(group, questions, scores):
                    s = job.settings
                    results[id(job)] = self.selector.selections(job.video.info, job.video.frames, s.candidates, [question],
                                                                row[None], s.k, s.rule, s.delta, substituted=job.video.substituted)[0]
            except Exception as error:
                for job in group:
                    results.setdefault(id(job), error)
        return [results[id(job)] for job in jobs]


__all__ = ["Chosen", "SelectionBatcher"]
