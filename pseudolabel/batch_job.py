"""OpenAI Batch API mode for the temporal selector: large offline jobs at batch prices.

    job = TemporalBatchJob(OpenAITemporalSelector(), "labels/temporal-batch.json")
    results = job.run(requests)   # dict custom_id -> TemporalResult

`run` writes the requests' input files (`pseudolabel.batch_files`), uploads each part
(`files.create(purpose="batch")`), submits it (`batches.create`, `/v1/chat/completions`, 24 h
window), polls with a progress bar, downloads the output and error files, joins them on
`custom_id` and parses every reply with the online selector's repair logic.

Every id the job gets from the server (uploaded file, batch, output and error files) is saved at
once to a small JSON state file. A process that crashed, or a `wait` that ran out of
`max_wait`, resumes from it: `TemporalBatchJob(selector, same_state_path).run(requests)` polls
and collects what was already submitted, and submits nothing twice (a batch created just before
a crash, whose id never reached the state file, is found again through `batches.list` by its
input file).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from selector.atomic import write_atomic

from .base import TemporalResult
from .batch_files import (
    BATCH_ENDPOINT,
    MAX_BYTES_PER_FILE,
    MAX_REQUESTS_PER_FILE,
    BatchPart,
    TemporalRequest,
    failed_result,
    is_failed,
    parse_batch_output,
    requests_fingerprint,
    write_batch_inputs,
)
from .remote import OpenAITemporalSelector

log = logging.getLogger(__name__)

COMPLETION_WINDOW = "24h"
STATE_VERSION = 1


class BatchTimeout(TimeoutError):
    """`wait` gave up after `max_wait`; the state file is saved, so calling again resumes."""


@dataclass
class BatchState:
    """What the state file holds. No credentials: ids, paths and counts only."""

    fingerprint: str
    model: str
    base_url: str
    prompt_version: str
    parts: list[BatchPart]
    version: int = STATE_VERSION

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> BatchState:
        data = json.loads(path.read_text())
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"{path}: state version {data.get('version')}, expected {STATE_VERSION}")
        data["parts"] = [BatchPart(**p) for p in data["parts"]]
        return cls(**data)


class TemporalBatchJob:
    """Submit, poll and collect one temporal pseudo-label job through the Batch API.

    Args:
        selector: the online selector whose model, prompt, client and settings the batch uses.
        state_path: the JSON state file; created by `submit`, read back when it exists.
        work_dir: where the input files go (default: next to the state file, `<stem>-inputs/`).
        poll_interval: seconds between polls.
        max_wait: seconds `wait` polls before raising `BatchTimeout` (None: no limit; the server
            ends every batch within its 24 h window, as completed, failed or expired).
        progress: show a tqdm bar over the requests done (request_counts).
        max_requests, max_bytes: the per-file limits.
        metadata: extra batch metadata (string values).
    """

    def __init__(
        self,
        selector: OpenAITemporalSelector,
        state_path: str | os.PathLike,
        *,
        work_dir: str | os.PathLike | None = None,
        poll_interval: float = 30.0,
        max_wait: float | None = None,
        progress: bool = True,
        max_requests: int = MAX_REQUESTS_PER_FILE,
        max_bytes: int = MAX_BYTES_PER_FILE,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.selector = selector
        self.state_path = Path(state_path)
        self.work_dir = Path(work_dir) if work_dir is not None else self.state_path.with_name(self.state_path.stem + "-inputs")
        self.poll_interval = float(poll_interval)
        self.max_wait = max_wait
        self.progress = progress
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.metadata = dict(metadata or {})
        self.state: BatchState | None = BatchState.load(self.state_path) if self.state_path.exists() else None

    def provenance(self) -> dict:
        return {**self.selector.provenance(), "mode": "batch", "completion_window": COMPLETION_WINDOW}

    def _save(self) -> None:
        assert self.state is not None
        self.state.save(self.state_path)

    # ---- submit

    def submit(self, requests: Iterable[TemporalRequest] | None = None) -> BatchState:
        """Write, upload and submit whatever has not been yet. With a state file, `requests` is
        optional and, when given, must be the same requests (checked by fingerprint)."""
        if self.state is None:
            if requests is None:
                raise ValueError(f"no state file at {self.state_path}: submit needs the requests")
            requests = list(requests)
            parts = write_batch_inputs(self.selector, requests, self.work_dir, max_requests=self.max_requests, max_bytes=self.max_bytes)
            if not parts:
                raise ValueError("no requests to submit")
            self.state = BatchState(
                fingerprint=requests_fingerprint(self.selector, requests), model=self.selector.model,
                base_url=self.selector.base_url, prompt_version=self.selector.prompt_version, parts=parts,
            )
            self._save()
        elif requests is not None and requests_fingerprint(self.selector, requests) != self.state.fingerprint:
            raise ValueError(
                f"the state file {self.state_path} belongs to different requests or settings; "
                "remove it or use another state path"
            )
        client = self.selector.client
        call = self.selector._call
        for number, part in enumerate(self.state.parts):
            resumed = part.input_file_id is not None  # uploaded by an earlier process
            if part.input_file_id is None:
                with open(part.path, "rb") as handle:
                    uploaded = call("files.create", client.files.create, file=(Path(part.path).name, handle, "application/jsonl"), purpose="batch")
                part.input_file_id = uploaded.id
                self._save()
                log.info("uploaded batch input %s as %s", part.path, part.input_file_id)
            if part.batch_id is None:
                existing = self._find_batch(part.input_file_id) if resumed else None
                if existing is not None:
                    log.info("found batch %s for %s submitted before a crash", existing.id, part.input_file_id)
                    batch = existing
                else:
                    metadata = {"frame_selector": "temporal", "part": str(number), "fingerprint": self.state.fingerprint[:16], **self.metadata}
                    batch = call(
                        "batches.create", client.batches.create, input_file_id=part.input_file_id,
                        endpoint=BATCH_ENDPOINT, completion_window=COMPLETION_WINDOW, metadata=metadata,
                    )
                part.batch_id = batch.id
                self._update(part, batch)
                self._save()
                log.info("submitted batch %s (%d requests)", part.batch_id, len(part.n_captions))
        return self.state

    def _find_batch(self, input_file_id: str, limit: int = 1000) -> Any:
        """A batch already created for this input file (newest first, at most `limit` looked at)."""
        page = self.selector._call("batches.list", self.selector.client.batches.list, limit=100)
        for seen, batch in enumerate(page):
            if seen >= limit:
                break
            if getattr(batch, "input_file_id", None) == input_file_id and getattr(batch, "status", None) not in ("failed", "cancelled", "cancelling", "expired"):
                return batch
        return None

    @staticmethod
    def _update(part: BatchPart, batch: Any) -> None:
        part.status = batch.status
        part.output_file_id = getattr(batch, "output_file_id", None) or part.output_file_id
        part.error_file_id = getattr(batch, "error_file_id", None) or part.error_file_id
        counts = getattr(batch, "request_counts", None)
        if counts is not None:
            part.request_counts = {k: int(getattr(counts, k, 0) or 0) for k in ("total", "completed", "failed")}
        errors = getattr(batch, "errors", None)
        data = getattr(errors, "data", None) if errors is not None else None
        if data:
            part.errors = [f"{getattr(e, 'code', None)}: {getattr(e, 'message', None)}" for e in data][:20]

    # ---- wait

    def wait(self, *, max_wait: float | None = None) -> BatchState:
        """Poll until every part is completed, failed, expired or cancelled. Raises
        `BatchTimeout` after `max_wait` seconds (default: the job's setting)."""
        if self.state is None or any(p.batch_id is None for p in self.state.parts):
            raise ValueError("nothing submitted yet: call submit first")
        limit = self.max_wait if max_wait is None else max_wait
        start = time.monotonic()
        total = sum(len(p.n_captions) for p in self.state.parts)
        call = self.selector._call
        with tqdm(total=total, desc=f"batch {self.selector.model}", unit="req", disable=not self.progress) as bar:
            while True:
                changed = False
                for part in self.state.parts:
                    if part.done:
                        continue
                    batch = call("batches.retrieve", self.selector.client.batches.retrieve, part.batch_id)
                    before = (part.status, part.output_file_id, part.error_file_id, dict(part.request_counts))
                    self._update(part, batch)
                    changed |= before != (part.status, part.output_file_id, part.error_file_id, part.request_counts)
                if changed:
                    self._save()
                done = sum(
                    len(p.n_captions) if p.done else p.request_counts.get("completed", 0) + p.request_counts.get("failed", 0)
                    for p in self.state.parts
                )
                bar.update(max(0, min(done, total) - bar.n))
                statuses = sorted({str(p.status) for p in self.state.parts})
                bar.set_postfix_str(",".join(statuses), refresh=False)
                if all(p.done for p in self.state.parts):
                    return self.state
                elapsed = time.monotonic() - start
                if limit is not None and elapsed + self.poll_interval > limit:
                    raise BatchTimeout(
                        f"batches still {', '.join(statuses)} after {elapsed:.0f} s; "
                        f"state saved in {self.state_path}: run again to resume"
                    )
                time.sleep(self.poll_interval)

    # ---- collect

    def _download(self, file_id: str) -> str:
        local = self.work_dir / f"{file_id}.jsonl"
        if local.exists():
            return local.read_text(encoding="utf-8")
        content = self.selector._call("files.content", self.selector.client.files.content, file_id)
        text = content.text
        write_atomic(local, text)
        return text

    def collect(self) -> dict[str, TemporalResult]:
        """Download and parse every finished part: `custom_id -> TemporalResult` for every
        request, failed ones included (see `is_failed`). Outputs are cached in `work_dir`."""
        if self.state is None:
            raise ValueError("nothing submitted yet")
        pending = [p.batch_id for p in self.state.parts if not p.done]
        if pending:
            raise ValueError(f"batches not finished: {pending}; call wait first")
        results: dict[str, TemporalResult] = {}
        max_frames = self.selector.max_frames
        for part in self.state.parts:
            found: dict[str, TemporalResult] = {}
            for file_id in (part.output_file_id, part.error_file_id):
                if file_id:
                    for custom_id, result in parse_batch_output(self._download(file_id), part.n_captions, max_frames=max_frames).items():
                        if custom_id not in found or (is_failed(found[custom_id]) and not is_failed(result)):
                            found[custom_id] = result
            why = f"batch {part.batch_id} {part.status}" + (f": {'; '.join(part.errors)}" if part.errors else "")
            for custom_id in part.n_captions:
                results[custom_id] = found.get(custom_id) or failed_result(f"no result line ({why})")
        n_failed = sum(is_failed(r) for r in results.values())
        if n_failed:
            log.warning("batch job: %d of %d requests failed", n_failed, len(results))
        return results

    def run(self, requests: Iterable[TemporalRequest] | None = None) -> dict[str, TemporalResult]:
        """submit (or resume), wait, collect."""
        self.submit(requests)
        self.wait()
        return self.collect()


__all__ = ["COMPLETION_WINDOW", "BatchTimeout", "BatchState", "TemporalBatchJob"]
