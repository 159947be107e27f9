"""The labelling job: every manifest item of one shard, exactly once, resumable after any crash.

Items are grouped by video, so decoding and captions are done once per video however many
questions it has. Rows are buffered and published in atomic parts (`store.ShardWriter`); a bad
item (unreadable video, empty question, a backend that keeps failing) becomes a `failed` row
with its error text and its `pseudolabel.failures` reason, and the job goes on. Every row
records how many retries its requests needed, per scorer kind (the captions of a video count
for the first of its rows written).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import xxhash
from tqdm.auto import tqdm

from selector.atomic import write_atomic
from selector.candidates import CandidatePlan, candidate_frames
from selector.frames import Frame
from selector.openai_client import scrub
from selector.prefetch import decode_ahead
from selector.records import VideoQuestion
from selector.video import VideoInfo, content_hash, probe, read_frames

from .base import Captioner, Scorer, SpatialScorer, TemporalResult, TemporalSelector
from .failures import Reason, ReplyError, classify
from .manifest import BadRow
from .signals import DEFAULT_WEIGHTS, combine, span_label, temporal_label
from .store import ShardWriter, append_run_record

log = logging.getLogger(__name__)


@dataclass
class LabelSettings:
    """What shapes the labels besides the scorers; all of it is recorded as provenance."""

    plan: CandidatePlan = field(default_factory=CandidatePlan)
    frame_pixels: int = 448 * 448
    span_mode: str = "binary"
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    flush_every: int = 16
    retry_failed: bool = False

    def to_dict(self) -> dict:
        record = asdict(self)
        record["plan"] = self.plan.to_dict()
        return record


@dataclass
class JobSummary:
    shard: int
    num_shards: int
    items: int = 0
    skipped: int = 0
    labelled: int = 0
    failed: int = 0
    frames: int = 0
    seconds: float = 0.0
    failures: dict[str, int] = field(default_factory=dict)  # reason -> items
    examples: dict[str, str] = field(default_factory=dict)  # reason -> the first such error
    retries: int = 0

    def line(self) -> str:
        rate = self.frames / self.seconds if self.seconds > 0 else 0.0
        return (
            f"shard {self.shard}/{self.num_shards}: {self.items} items, {self.skipped} already done, "
            f"{self.labelled} labelled, {self.failed} failed, {self.frames} frames in {self.seconds:.1f} s "
            f"({rate:.1f} frames/s), {self.retries} requests retried"
        )


def shard_of(video: str, num_shards: int) -> int:
    """Shard by video, so all questions on a video share one process (and its caption cache)."""
    return zlib.crc32(os.path.abspath(video).encode()) % num_shards


def scoring_size(info: VideoInfo, pixels: int) -> tuple[int, int]:
    """The (width, height) the candidates are decoded at for the scorers and the captioner:
    display aspect ratio, at most `pixels` pixels (`LabelSettings.frame_pixels`), never upscaled."""
    scale = min(1.0, math.sqrt(pixels / max(1, info.width * info.height)))
    return max(28, round(info.width * scale)), max(28, round(info.height * scale))


def package_versions() -> dict[str, str]:
    versions = {}
    for name in ("frame-selector", "torch", "transformers", "openai", "av", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


class CaptionCache:
    """Captions per (video content, candidate plan, frame size, captioner), reused by every
    question on the video and by every later run."""

    def __init__(self, root: Path, captioner: Captioner):
        self.dir = Path(root) / "captions"
        self.captioner = captioner
        self.provenance = json.dumps(captioner.provenance(), sort_keys=True)

    def key(self, video_hash: str, plan: CandidatePlan, size: tuple[int, int]) -> str:
        text = json.dumps([video_hash, plan.to_dict(), list(size), self.provenance], sort_keys=True)
        return xxhash.xxh3_128_hexdigest(text.encode())

    def get(self, key: str, frames: Sequence[np.ndarray]) -> list[str]:
        path = self.dir / f"{key}.json"
        if path.is_file():
            captions = json.loads(path.read_text())["captions"]
            if len(captions) == len(frames):
                return captions
        captions = self.captioner.caption(frames)
        if len(captions) != len(frames):
            raise ValueError(f"captioner returned {len(captions)} captions for {len(frames)} frames")
        write_atomic(path, json.dumps({"captions": captions, "captioner": json.loads(self.provenance)}), durable=True)
        return captions


@dataclass
class LabelVideo:
    """One video as the label job holds it, shared by every question on it: its candidates, their
    frames decoded at `scoring_size`, their captions, and its identity (size and content hash)."""

    info: VideoInfo
    frames: list[Frame]
    pixels: list[np.ndarray] | None
    captions: list[str] | None
    video_size: int
    video_hash: str


def _failed_row(item: VideoQuestion | BadRow, error: str, reason: Reason, provenance: str) -> dict:
    """`error` is one line, already scrubbed of secrets (a server's message may echo the key)."""
    return {
        "id": item.id,
        "video": item.video,
        "question": item.question,
        "options": list(item.options) if isinstance(item, VideoQuestion) and item.options else None,
        "answer": item.answer if isinstance(item, VideoQuestion) else None,
        "spans": [list(s) for s in item.spans] if isinstance(item, VideoQuestion) and item.spans else None,
        "status": "failed",
        "error": error,
        "reason": reason,
        "provenance": provenance,
    }


class RetryMeter:
    """Each scorer's `retries_taken` since the last reading: what one row's requests needed."""

    def __init__(self, scorers: dict[str, Scorer | None]) -> None:
        self.scorers = {kind: scorer for kind, scorer in scorers.items() if scorer is not None}
        self.seen = {kind: scorer.retries_taken for kind, scorer in self.scorers.items()}

    def take(self) -> dict[str, int]:
        """{"spatial": n, "caption": n, "temporal": n}, zeros for absent scorers."""
        taken = dict.fromkeys(("spatial", "caption", "temporal"), 0)
        for kind, scorer in self.scorers.items():
            now = scorer.retries_taken
            taken[kind], self.seen[kind] = now - self.seen[kind], now
        return taken


class LabelJob:
    """Labels the items of one shard with the given scorers (any of them may be None)."""

    def __init__(
        self,
        out: str | os.PathLike,
        spatial: SpatialScorer | None = None,
        captioner: Captioner | None = None,
        temporal: TemporalSelector | None = None,
        settings: LabelSettings | None = None,
        shard: int = 0,
        num_shards: int = 1,
    ):
        if not 0 <= shard < num_shards:
            raise ValueError(f"shard {shard} is outside 0..{num_shards - 1}")
        if temporal is not None and captioner is None:
            raise ValueError("the temporal signal reads captions: give a captioner too")
        self.out = Path(out)
        self.spatial, self.captioner, self.temporal = spatial, captioner, temporal
        self.settings = settings or LabelSettings()
        self.shard, self.num_shards = shard, num_shards
        self.writer = ShardWriter(self.out, shard, num_shards)
        self.captions = CaptionCache(self.out, captioner) if captioner is not None else None
        self.run_provenance = {
            "spatial": spatial.provenance() if spatial else None,
            "captioner": captioner.provenance() if captioner else None,
            "temporal": temporal.provenance() if temporal else None,
            "settings": self.settings.to_dict(),
            "packages": package_versions(),
        }
        self._provenance_json = json.dumps(self.run_provenance, sort_keys=True)
        self._meter = RetryMeter({"spatial": spatial, "caption": captioner, "temporal": temporal})

    def run(self, items: Sequence[VideoQuestion | BadRow], progress: bool = True) -> JobSummary:
        summary = JobSummary(self.shard, self.num_shards)
        mine = [item for item in items if shard_of(item.video, self.num_shards) == self.shard]
        done = self.writer.done(retry_failed=self.settings.retry_failed)
        todo = [item for item in mine if item.id not in done]
        summary.items, summary.skipped = len(mine), len(mine) - len(todo)
        append_run_record(self.out, self.shard, self.num_shards, {"started": time.time(), **self.run_provenance})
        groups: dict[str, list[VideoQuestion | BadRow]] = {}
        for item in todo:
            groups.setdefault(item.video, []).append(item)
        buffer: list[dict] = []
        self._meter.take()  # retries before this run (the Batch API mode's captions) belong to no row
        start = time.perf_counter()
        bar = tqdm(total=len(todo), desc=f"labels shard {self.shard}/{self.num_shards}", disable=not progress, unit="item")
        # The next videos are decoded while the scorers work on this one (selector.prefetch).
        for (video, group), decoded in decode_ahead(groups.items(), self._decode_group):
            for row in self._label_video(group, decoded, summary):
                buffer.append(row)
                bar.update(1)
                bar.set_postfix(ok=summary.labelled, failed=summary.failed, refresh=False)
                if len(buffer) >= self.settings.flush_every:
                    self.writer.write(buffer)
                    buffer = []
        self.writer.write(buffer)
        bar.close()
        summary.seconds = time.perf_counter() - start
        return summary

    def _fail(self, item: VideoQuestion | BadRow, error: BaseException | str, summary: JobSummary) -> dict:
        """The failed row of `item`: a `BadRow`'s reason is `input`, an exception is classified."""
        if isinstance(error, str):
            text, reason = error, "input"
        else:
            text, reason = f"{type(error).__name__}: {error}", classify(error)
        text = scrub(" ".join(text.split()))
        summary.failed += 1
        summary.failures[reason] = summary.failures.get(reason, 0) + 1
        summary.examples.setdefault(reason, text[:200])
        log.warning("item %s failed (%s): %s", item.id, reason, text)
        return self._with_retries(_failed_row(item, text, reason, self._provenance_json), summary)

    def _with_retries(self, row: dict, summary: JobSummary) -> dict:
        row["retries"] = self._meter.take()
        summary.retries += sum(row["retries"].values())
        return row

    def _decode_video(self, video: str) -> LabelVideo:
        """Probe, decode the candidates once at the scorers' size, and hash: the part of a video's
        work that needs no backend, so it can run ahead in another thread."""
        info = probe(video)
        frames = candidate_frames(info, self.settings.plan)
        pixels = None
        if self.spatial is not None or self.captioner is not None:
            pixels = list(read_frames(info, [f.index for f in frames], size=scoring_size(info, self.settings.frame_pixels)))
        return LabelVideo(info, frames, pixels, None, os.path.getsize(video), content_hash(video))

    def _decode_group(self, group: tuple[str, list[VideoQuestion | BadRow]]) -> LabelVideo | None:
        """`_decode_video` of a group with something to label (a group of bad rows needs nothing)."""
        video, items = group
        return self._decode_video(video) if any(isinstance(item, VideoQuestion) for item in items) else None

    def _captioned(self, prepared: LabelVideo) -> LabelVideo:
        """With the captions (cached), made here, in the job's thread: their requests' retries
        belong to the video's first row."""
        if self.captions is None or self.temporal is None:
            return prepared
        size = scoring_size(prepared.info, self.settings.frame_pixels)
        captions = self.captions.get(self.captions.key(prepared.video_hash, self.settings.plan, size), prepared.pixels)
        return replace(prepared, captions=captions)

    def _prepare_video(self, video: str) -> LabelVideo:
        """Probe, decode the candidates once at the scorers' size, hash, and caption (cached)."""
        return self._captioned(self._decode_video(video))

    def _label_video(self, group: list[VideoQuestion | BadRow], decoded: Future[LabelVideo | None], summary: JobSummary):
        items = [item for item in group if isinstance(item, VideoQuestion)]
        for bad in (item for item in group if isinstance(item, BadRow)):
            yield self._fail(bad, bad.reason, summary)
        if not items:
            return
        try:
            prepared = self._captioned(decoded.result())
        except Exception as error:  # noqa: BLE001 - any failure of one video fails its items, not the job
            for item in items:
                yield self._fail(item, error, summary)
            return
        seconds = [f.seconds for f in prepared.frames]
        spatial = self._together(self.spatial, lambda questions: self.spatial.score_many(prepared.pixels, questions),
                                 "spatial scoring", items, prepared)
        temporal = self._together(self.temporal, lambda questions: self.temporal.select_many(prepared.captions, seconds, questions),
                                  "temporal selection", items, prepared)
        for item in items:
            try:
                row = self._label_item(item, prepared, spatial.get(item.id), temporal.get(item.id))
            except Exception as error:  # noqa: BLE001 - recorded, and the job goes on
                yield self._fail(item, error, summary)
                continue
            row.update(video_size=prepared.video_size, video_hash=prepared.video_hash)
            summary.labelled += 1
            summary.frames += len(prepared.frames)
            yield self._with_retries(row, summary)

    def _together(self, scorer: SpatialScorer | TemporalSelector | None, ask: Callable[[list[str]], list], what: str,
                  items: list[VideoQuestion], prepared: LabelVideo) -> dict[str, Any]:
        """A video's questions answered in one call (`ask`), from a backend that saves work that
        way; empty otherwise. If the call fails, each item asks again on its own in `_label_item`,
        so the error is recorded against the item that caused it and the others still get labelled."""
        if scorer is None or not scorer.batches_questions:
            return {}
        try:
            answers = ask([item.with_options() for item in items])
        except Exception as error:  # noqa: BLE001 - retried item by item in `_label_item`
            log.warning("%s: batched %s failed (%s), asking item by item", prepared.info.path, what, error)
            return {}
        return {item.id: answer for item, answer in zip(items, answers)}

    def pending(self, items: Sequence[VideoQuestion | BadRow]) -> list[VideoQuestion]:
        """This shard's labellable items that have no row yet."""
        done = self.writer.done(retry_failed=self.settings.retry_failed)
        return [
            item for item in items
            if isinstance(item, VideoQuestion) and shard_of(item.video, self.num_shards) == self.shard and item.id not in done
        ]

    def captioned(self, items: Sequence[VideoQuestion], progress: bool = True):
        """(item, captions, seconds) for each item whose video can be read and captioned, for
        work done outside the job (the Batch API); the others are left to `run` to record."""
        groups: dict[str, list[VideoQuestion]] = {}
        for item in items:
            groups.setdefault(item.video, []).append(item)
        for video, group in tqdm(groups.items(), desc="captions", disable=not progress, unit="video"):
            try:
                prepared = self._prepare_video(video)
            except Exception as error:  # noqa: BLE001 - `run` records it as the item's failure
                log.warning("%s: %s", video, error)
                continue
            for item in group:
                yield item, prepared.captions, [f.seconds for f in prepared.frames]

    def _label_item(self, item: VideoQuestion, prepared: LabelVideo, spatial: np.ndarray | None = None,
                    temporal: TemporalResult | None = None) -> dict:
        """One item's row; `spatial` and `temporal` are its answers when a batched call already got them."""
        question = item.with_options()
        frames, info = prepared.frames, prepared.info
        n = len(frames)
        signals: dict[str, np.ndarray | None] = {"spatial": None, "temporal": None, "spans": None}
        temporal_indices, notes = None, None
        if self.spatial is not None:
            spatial = np.asarray(self.spatial.score(prepared.pixels, question) if spatial is None else spatial, dtype=np.float32)
            if spatial.shape != (n,) or not np.all(np.isfinite(spatial)):
                raise ReplyError(f"spatial scorer returned shape {spatial.shape} or non-finite scores for {n} frames")
            signals["spatial"] = spatial
        if self.temporal is not None:
            result = temporal or self.temporal.select(prepared.captions, [f.seconds for f in frames], question)
            temporal_indices, notes = result.indices, result.notes
            signals["temporal"] = temporal_label(result.indices, n)
        if item.spans:
            signals["spans"] = span_label([f.seconds for f in frames], info.duration, item.spans, self.settings.span_mode)
        label, used = combine(signals, self.settings.weights)
        as_list = lambda v: None if v is None else [float(x) for x in v]  # noqa: E731
        return {
            "id": item.id,
            "video": item.video,
            "question": item.question,
            "options": list(item.options) if item.options else None,
            "answer": item.answer,
            "spans": [list(s) for s in item.spans] if item.spans else None,
            "status": "ok",
            "error": None,
            "reason": None,
            "frames": [f.to_dict() for f in frames],
            "spatial": as_list(signals["spatial"]),
            "temporal": as_list(signals["temporal"]),
            "spans_label": as_list(signals["spans"]),
            "temporal_indices": temporal_indices,
            "temporal_notes": notes,
            "label": as_list(label),
            "signals": used,
            "provenance": self._provenance_json,
        }


__all__ = ["LabelJob", "LabelSettings", "JobSummary", "CaptionCache", "shard_of", "scoring_size"]
