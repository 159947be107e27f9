"""The Batch API's files for the temporal selector: the input JSONL (one line per question,
each body exactly what `OpenAITemporalSelector.select` would send: both call `request_body`),
split under the 50,000 requests / 200 MB per-file limits, and the output and error JSONL parsed
back with the online selector's repair logic. `pseudolabel.batch_job` sends these files through
OpenAI's Files and Batches endpoints.

vLLM's OpenAI server has no Files or Batches endpoints: write the input with
`write_batch_inputs`, run `vllm run-batch -i temporal-00000.jsonl -o out.jsonl --model ...`, and
read the output with `parse_batch_output`, which accepts both OpenAI's line shape
(`response: {status_code, body}`) and the one where `response` is the completion itself.

Requests that got no reply (the batch's error file, non-200 lines, a failed or expired batch, ids
with no line at all) come back as failed results: `indices=[]` and a note starting with
`FAILED_PREFIX`; `is_failed` tells them apart from replies that were merely unusable.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import TemporalResult
from .remote import OpenAITemporalSelector, temporal_result_from_completion

log = logging.getLogger(__name__)

BATCH_ENDPOINT = "/v1/chat/completions"
MAX_REQUESTS_PER_FILE = 50_000
MAX_BYTES_PER_FILE = 200 * 1000 * 1000  # OpenAI's 200 MB, read as decimal: the smaller of the two readings
FAILED_PREFIX = "request failed: "
TERMINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass(frozen=True)
class TemporalRequest:
    """One temporal question: `custom_id` (the item id) names its result."""

    custom_id: str
    captions: Sequence[str]
    seconds: Sequence[float]
    question: str


def failed_result(message: str) -> TemporalResult:
    """A request that got no reply, as a result: no frames, and `message` (one line, at most 500
    characters) after `FAILED_PREFIX`, so the label job writes it as a failed row."""
    return TemporalResult(indices=[], raw="", notes=[FAILED_PREFIX + " ".join(str(message).split())[:500]])


def is_failed(result: TemporalResult) -> bool:
    """True for a request that got no reply (as opposed to a reply that could not be used)."""
    return bool(result.notes) and result.notes[0].startswith(FAILED_PREFIX)


def batch_line(selector: OpenAITemporalSelector, request: TemporalRequest) -> dict[str, Any]:
    """One JSONL line of the batch input; the body is the online request's body."""
    return {
        "custom_id": request.custom_id,
        "method": "POST",
        "url": BATCH_ENDPOINT,
        "body": selector.request_body(request.captions, request.seconds, request.question),
    }


def _encode_line(line: Mapping[str, Any]) -> bytes:
    return (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


@dataclass
class BatchPart:
    """One input file and what the server made of it."""

    path: str
    n_captions: dict[str, int]  # custom_id -> number of captions (to range-check the reply)
    n_bytes: int = 0
    input_file_id: str | None = None
    batch_id: str | None = None
    status: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[str] = field(default_factory=list)
    request_counts: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES


def write_batch_inputs(
    selector: OpenAITemporalSelector,
    requests: Iterable[TemporalRequest],
    out_dir: str | os.PathLike,
    *,
    max_requests: int = MAX_REQUESTS_PER_FILE,
    max_bytes: int = MAX_BYTES_PER_FILE,
    prefix: str = "temporal",
) -> list[BatchPart]:
    """Write the batch input JSONL files (`{prefix}-00000.jsonl`, ...), each within the limits.

    Raises ValueError on a duplicate custom_id or a single request larger than `max_bytes`.
    """
    if max_requests < 1 or max_bytes < 1:
        raise ValueError("max_requests and max_bytes must be >= 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parts: list[BatchPart] = []
    seen: set[str] = set()
    handle = None
    current: BatchPart | None = None
    try:
        for request in requests:
            if request.custom_id in seen:
                raise ValueError(f"duplicate custom_id {request.custom_id!r}")
            seen.add(request.custom_id)
            data = _encode_line(batch_line(selector, request))
            if len(data) > max_bytes:
                raise ValueError(f"request {request.custom_id!r} is {len(data)} bytes, over max_bytes={max_bytes}")
            if current is None or len(current.n_captions) >= max_requests or current.n_bytes + len(data) > max_bytes:
                if handle is not None:
                    handle.close()
                path = out / f"{prefix}-{len(parts):05d}.jsonl"
                current = BatchPart(path=str(path), n_captions={})
                parts.append(current)
                handle = open(path, "wb")
            handle.write(data)
            current.n_bytes += len(data)
            current.n_captions[request.custom_id] = len(request.captions)
    finally:
        if handle is not None:
            handle.close()
    return parts


def requests_fingerprint(selector: OpenAITemporalSelector, requests: Iterable[TemporalRequest]) -> str:
    """A digest of the input lines `requests` make with `selector`'s settings: a state file
    written for other requests or settings is refused by it."""
    digest = hashlib.sha256()
    for request in requests:
        digest.update(_encode_line(batch_line(selector, request)))
    return digest.hexdigest()


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        inner = error.get("error", error)
        if isinstance(inner, Mapping):
            code, message = inner.get("code"), inner.get("message")
            return f"{code}: {message}" if code and message else str(message or code or dict(inner))
        return str(inner)
    return str(error)


def parse_batch_line(line: Mapping[str, Any], n: int, *, max_frames: int | None = None) -> TemporalResult:
    """The result of one output (or error) line, in OpenAI's shape
    `{custom_id, response: {status_code, body}, error}` or vLLM's where `response` is the
    completion itself."""
    response, error = line.get("response"), line.get("error")
    if isinstance(response, Mapping):
        if "status_code" in response or "body" in response:
            status, body = response.get("status_code", 200), response.get("body")
        else:
            status, body = 200, response
        if status == 200 and isinstance(body, Mapping) and body.get("choices"):
            return temporal_result_from_completion(body, n, max_frames=max_frames)
        detail = _error_text(body) if isinstance(body, Mapping) and body.get("error") else _error_text(error or "no completion in body")
        return failed_result(f"HTTP {status}: {detail}")
    if error:
        return failed_result(_error_text(error))
    return failed_result("line has neither response nor error")


def parse_batch_output(
    text: str, n_captions: Mapping[str, int], *, max_frames: int | None = None
) -> dict[str, TemporalResult]:
    """Parse a batch output or error file (JSONL) into `custom_id -> TemporalResult`.

    `n_captions` gives each request's caption count (`BatchPart.n_captions`); lines with an
    unknown custom_id or broken JSON are logged and skipped. When a custom_id has several lines,
    a successful one wins over a failure.
    """
    results: dict[str, TemporalResult] = {}
    skipped = 0
    for number, raw_line in enumerate(text.splitlines(), 1):
        if not raw_line.strip():
            continue
        try:
            line = json.loads(raw_line)
            custom_id = line["custom_id"]
        except (ValueError, TypeError, KeyError):
            skipped += 1
            log.warning("batch output line %d is not a JSON object with a custom_id; skipped", number)
            continue
        if custom_id not in n_captions:
            skipped += 1
            log.warning("batch output line %d has unknown custom_id %r; skipped", number, custom_id)
            continue
        result = parse_batch_line(line, n_captions[custom_id], max_frames=max_frames)
        if custom_id not in results or (is_failed(results[custom_id]) and not is_failed(result)):
            results[custom_id] = result
    if skipped:
        log.warning("skipped %d batch output lines", skipped)
    return results


__all__ = [
    "BATCH_ENDPOINT",
    "MAX_REQUESTS_PER_FILE",
    "MAX_BYTES_PER_FILE",
    "FAILED_PREFIX",
    "TERMINAL_STATUSES",
    "TemporalRequest",
    "BatchPart",
    "batch_line",
    "write_batch_inputs",
    "requests_fingerprint",
    "parse_batch_line",
    "parse_batch_output",
    "failed_result",
    "is_failed",
]
