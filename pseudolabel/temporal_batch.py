"""The temporal signal through the OpenAI Batch API, for large offline jobs.

Flow: caption every pending item's video (the job's own cached path), send all temporal requests
as one batch, wait, and keep the answers on disk; then label as usual, the temporal selector
serving those answers. Collected answers are never lost or paid for twice: a restarted job reads
them back and only sends a batch for items that have none.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import xxhash

from selector.atomic import write_atomic

from selector.records import VideoQuestion

from .base import TemporalResult, TemporalSelector
from .batch_files import TemporalRequest, is_failed
from .batch_job import TemporalBatchJob
from .job import LabelJob
from .remote import OpenAITemporalSelector


def _key(captions: Sequence[str], question: str) -> str:
    return xxhash.xxh3_128_hexdigest(json.dumps([list(captions), question]).encode())


class PrecomputedTemporal(TemporalSelector):
    """Serves temporal answers obtained ahead of time, looked up by (captions, question)."""

    def __init__(self, answers: dict[str, TemporalResult], provenance: dict):
        self.answers = answers
        self._provenance = provenance

    def select(self, captions: Sequence[str], seconds: Sequence[float], question: str) -> TemporalResult:
        result = self.answers.get(_key(captions, question))
        if result is None:
            raise LookupError("no batch answer for this item (its request was not part of a batch)")
        if is_failed(result):
            raise RuntimeError(result.notes[0])
        return result

    def provenance(self) -> dict:
        return self._provenance


def _load(path: Path) -> dict[str, dict]:
    return json.loads(path.read_text()) if path.is_file() else {}


def run_temporal_batch(
    job: LabelJob,
    items: Sequence[VideoQuestion],
    selector: OpenAITemporalSelector,
    poll_interval: float = 30.0,
    progress: bool = True,
) -> PrecomputedTemporal:
    """Get a temporal answer for every pending item of the job's shard through the Batch API."""
    folder = job.out / "temporal-batch" / f"shard-{job.shard:05d}-of-{job.num_shards:05d}"
    answers_path = folder / "answers.json"
    answers = _load(answers_path)  # key -> TemporalResult fields; failed answers are asked again
    requests = []
    for item, captions, seconds in job.captioned(job.pending(items), progress=progress):
        key = _key(captions, item.with_options())
        known = answers.get(key)
        if known is None or is_failed(TemporalResult(**known)):
            requests.append(TemporalRequest(key, captions, seconds, item.with_options()))
    if requests:
        unique = list({r.custom_id: r for r in requests}.values())
        name = xxhash.xxh3_64_hexdigest("".join(sorted(r.custom_id for r in unique)).encode())
        batch = TemporalBatchJob(selector, folder / f"batch-{name}.json", poll_interval=poll_interval, progress=progress)
        for key, result in batch.run(unique).items():
            answers[key] = {"indices": result.indices, "raw": result.raw, "notes": result.notes}
        write_atomic(answers_path, json.dumps(answers), durable=True)
    provenance = {**selector.provenance(), "mode": "batch"}
    return PrecomputedTemporal({k: TemporalResult(**v) for k, v in answers.items()}, provenance)


__all__ = ["PrecomputedTemporal", "run_temporal_batch"]
