"""Pseudo-label scorers behind any OpenAI-compatible server (OpenAI itself, vLLM, ...).

Three backends, one per scorer interface of `pseudolabel.base`:

- `OpenAISpatialScorer`: one chat request per frame (the frame as a JPEG data URL and the question),
  one generated token, and p(True) / (p(True) + p(False)) read from that token's top logprobs.
  Needs a server that returns logprobs, e.g. vLLM serving Qwen2-VL.
- `OpenAICaptioner`: one short caption per frame.
- `OpenAITemporalSelector`: a text LLM (`gpt-4o-mini` by default) reads the numbered captions and
  the question and names the helpful frames as JSON; the reply is repaired defensively
  (`parse_temporal_reply`), never trusted.

Retries: every request goes through the official client, which retries connection errors,
timeouts, 408, 409, 429 and 5xx with exponential backoff (0.5 s doubling, at most 8 s, minus up
to 25% jitter) or the server's `retry-after(-ms)` when it gives one (up to 60 s). `max_retries`
and `timeout` (seconds, per attempt) are settings of each backend. What still fails after the
retries is raised as `BackendError`: one line, naming the endpoint and model, never the API key.
No retry loop of our own is added; the gaps left, on purpose: the client's backoff tops out at
8 s, so the default `max_retries=5` waits about 15 s in all, enough for bursts but not for a
sustained rate limit (use more retries, lower `concurrency`, or the Batch API); a `retry-after`
over 60 s is not retried at all; `insufficient_quota` 429s are retried though they cannot
succeed; `timeout` is per attempt, with no overall deadline; and a 200 reply without choices is
a `BackendError` without retry.

The API key comes from the `api_key` argument or `OPENAI_API_KEY`; it stays inside the client.
Provenance, log records and `BackendError` messages never contain it (messages from the server
are scrubbed of it too, since some servers echo the key they were sent).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import numpy as np
import openai
from PIL import Image

from .base import Captioner, SpatialScorer, TemporalResult, TemporalSelector

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# --------------------------------------------------------------------------------------------
# Prompts. Change the text -> bump the version: it is stored with every label.

SPATIAL_PROMPT_VERSION = "openai-spatial-v1"
SPATIAL_PROMPT = (
    "Question: {question}\n"
    "Does this video frame show information that helps answer the question? "
    "Answer with one word: True or False."
)

CAPTION_PROMPT_VERSION = "openai-caption-v1"
CAPTION_PROMPT = "Describe this frame in one short sentence."

TEMPORAL_PROMPT_VERSION = "openai-temporal-v1"
TEMPORAL_SYSTEM_PROMPT = (
    "You select video frames. You are given captions of frames sampled from one video, in time "
    "order, and a question about the video. Name the frames whose content helps answer the "
    'question. Reply with JSON only, in the form {"frames": [<frame numbers>]}.'
)
TEMPORAL_PROMPT = (
    "Captions of {n} frames, numbered from 0 to {last}, with their time in the video:\n"
    "{captions}\n\n"
    "Question: {question}\n\n"
    "Which frames help answer the question? {limit}Use the 0-based frame numbers in brackets. "
    'Reply as {{"frames": [...]}}.'
)
TEMPORAL_LIMIT = "Choose at most {max_frames} frames. "

TEMPORAL_JSON_SCHEMA: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "frame_selection",
        "schema": {
            "type": "object",
            "properties": {"frames": {"type": "array", "items": {"type": "integer"}}},
            "required": ["frames"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}

# --------------------------------------------------------------------------------------------
# Errors and secrets


class BackendError(RuntimeError):
    """A request that failed for good (after the client's retries): the job records the item as
    failed and goes on. The message is one line, names the endpoint and model, never the key."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(" ".join(str(message).split()))
        self.status_code = status_code


_SK_PATTERN = re.compile(r"sk-[A-Za-z0-9_\-*]{6,}")


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _SK_PATTERN.sub("sk-***", text)


def public_url(url: str) -> str:
    """`scheme://host[:port]/path` of a base URL: no user:password, no query, no fragment."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host + (f":{port}" if port is not None else "")
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")


# --------------------------------------------------------------------------------------------
# Frames


def encode_jpeg_data_url(frame: np.ndarray, quality: int = 90) -> str:
    """An RGB uint8 (H, W, 3) frame as a `data:image/jpeg;base64,...` URL."""
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 (H, W, 3) frame, got {frame.dtype} {frame.shape}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame), "RGB").save(buffer, format="JPEG", quality=int(quality))
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _image_message(image_url: str, text: str) -> list[dict[str, Any]]:
    """One user turn: the image first, then the text (the order Qwen2-VL was trained with)."""
    return [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": image_url}},
                {"type": "text", "text": text},
            ],
        }
    ]


# --------------------------------------------------------------------------------------------
# Shared client plumbing


class _OpenAIBackend:
    """Holds the client, turns client errors into `BackendError`, writes provenance."""

    kind: str = ""
    prompt_version: str = ""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None,
        api_key: str | None,
        max_retries: int,
        timeout: float,
        extra_body: Mapping[str, Any] | None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if not key:
            if base_url is None:
                raise BackendError(
                    f"{type(self).__name__}: no API key: pass api_key or set OPENAI_API_KEY "
                    "(a local server without auth needs base_url)"
                )
            key = "EMPTY"  # vLLM and most local servers accept any key
        self._secrets: tuple[str, ...] = (key,) if key != "EMPTY" else ()
        self.model = model
        self.max_retries = int(max_retries)
        self.timeout = float(timeout)
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        self._client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=self.max_retries, timeout=self.timeout)
        self.base_url = public_url(str(self._client.base_url))

    @property
    def client(self) -> openai.OpenAI:
        """The underlying client (the Batch API mode reuses it)."""
        return self._client

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r})"

    def _settings(self) -> dict[str, Any]:
        return {"max_retries": self.max_retries, "timeout": self.timeout, "extra_body": dict(self.extra_body)}

    def provenance(self) -> dict:
        return {
            "backend": "openai",
            "kind": self.kind,
            "base_url": self.base_url,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "settings": self._settings(),
        }

    def _call(self, what: str, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run one client call; the client retries, and what survives becomes a `BackendError`.

        Package-internal (`pseudolabel.batch` uses it too). Raised `from None`: the client's own
        exception can carry the server's message verbatim, and that may echo the key.
        """
        where = f"{what} at {self.base_url} (model {self.model!r})"
        try:
            return fn(*args, **kwargs)
        except openai.APITimeoutError:
            raise BackendError(
                f"{where}: timed out (timeout {self.timeout:g} s per attempt, max_retries={self.max_retries})"
            ) from None
        except openai.APIConnectionError as err:
            cause = err.__cause__ if err.__cause__ is not None else err
            detail = _scrub(f"{type(cause).__name__}: {cause}", self._secrets)[:200]
            raise BackendError(f"{where}: connection failed (max_retries={self.max_retries}): {detail}") from None
        except openai.APIStatusError as err:
            body = err.body
            detail = body.get("message") if isinstance(body, dict) and body.get("message") else err.message
            detail = _scrub(str(detail), self._secrets)[:300]
            status = err.status_code
            retried = status in (408, 409, 429) or status >= 500
            tail = f" (max_retries={self.max_retries})" if retried else " (not retried)"
            raise BackendError(
                f"{where}: HTTP {status} {type(err).__name__}: {detail}{tail}", status_code=status
            ) from None
        except openai.OpenAIError as err:
            detail = _scrub(f"{type(err).__name__}: {err}", self._secrets)[:300]
            raise BackendError(f"{where}: {detail}") from None

    def _chat(self, body: Mapping[str, Any], what: str = "chat.completions") -> Any:
        """Send a chat-completions body as built by a `request_body` method: its standard keys go
        as arguments, the `extra_body` setting's keys through `extra_body`, so the JSON on the wire
        is the body itself."""
        extra = {k: body[k] for k in self.extra_body if k in body}
        standard = {k: v for k, v in body.items() if k not in extra}
        completion = self._call(what, self._client.chat.completions.create, **standard, extra_body=extra or None)
        if not getattr(completion, "choices", None):
            raise BackendError(f"{what} at {self.base_url} (model {self.model!r}): reply has no choices")
        return completion

    def _with_extra(self, body: dict[str, Any]) -> dict[str, Any]:
        body.update(self.extra_body)
        return body


def _map_ordered(fn: Callable[[int, T], R], items: Sequence[T], concurrency: int, name: str) -> list[R]:
    """`[fn(i, x) for i, x in enumerate(items)]` on at most `concurrency` threads, results in
    order. The first failure (in item order, among those done) is raised once the requests already
    in flight have finished; requests not started yet are cancelled."""
    n = len(items)
    if n == 0:
        return []
    workers = max(1, min(int(concurrency), n))
    if workers == 1:
        return [fn(i, x) for i, x in enumerate(items)]
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    try:
        futures = [pool.submit(fn, i, x) for i, x in enumerate(items)]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future.done() and not future.cancelled() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------------------------
# Spatial


def score_from_top_logprobs(
    top_logprobs: Sequence[tuple[str, float]], sampled: str | None
) -> tuple[float, str | None]:
    """p(True) / (p(True) + p(False)) from the first generated token's top logprobs.

    Tokens are matched after stripping whitespace, case-sensitive, and variants add up
    (" True" + "True"). When neither appears: 1.0 / 0.0 if the sampled token is True / False,
    else 0.5. Returns (score, note), the note saying which fallback was used (None when none).
    """
    p_true = p_false = 0.0
    for token, logprob in top_logprobs:
        word = (token or "").strip()
        if word == "True":
            p_true += float(np.exp(logprob))
        elif word == "False":
            p_false += float(np.exp(logprob))
    if p_true + p_false > 0.0:
        return p_true / (p_true + p_false), None
    word = (sampled or "").strip()
    if word == "True":
        return 1.0, "no True/False in top logprobs; sampled token True -> 1.0"
    if word == "False":
        return 0.0, "no True/False in top logprobs; sampled token False -> 0.0"
    return 0.5, f"no True/False in top logprobs; sampled token {word[:20]!r} -> 0.5"


class _FrameBackend(_OpenAIBackend):
    """A backend that sends one frame per request, several requests at a time."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_retries: int = 5,
        timeout: float = 60.0,
        concurrency: int = 8,
        jpeg_quality: int = 90,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(model, base_url=base_url, api_key=api_key, max_retries=max_retries, timeout=timeout, extra_body=extra_body)
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.concurrency = int(concurrency)
        self.jpeg_quality = int(jpeg_quality)

    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "concurrency": self.concurrency, "jpeg_quality": self.jpeg_quality, "temperature": 0.0}


class OpenAISpatialScorer(_FrameBackend, SpatialScorer):
    """Spatial pseudo-labels from any OpenAI-compatible server that returns logprobs.

    One request per frame (image + question, "True or False"), `max_tokens=1`, temperature 0,
    `logprobs=True`, `top_logprobs` of them. Frames of one call go concurrently (at most
    `concurrency` requests in flight); scores come back in frame order.

    Frames whose reply had no True/False among the top logprobs get a fallback score (see
    `score_from_top_logprobs`): each is logged as a warning, returned by `score_with_notes`, and
    counted in `stats` ("frames", "fallback_sampled", "fallback_neutral", "missing_logprobs").
    """

    kind = "spatial"
    prompt_version = SPATIAL_PROMPT_VERSION

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_retries: int = 5,
        timeout: float = 60.0,
        concurrency: int = 8,
        jpeg_quality: int = 90,
        top_logprobs: int = 20,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            model, base_url=base_url, api_key=api_key, max_retries=max_retries, timeout=timeout,
            concurrency=concurrency, jpeg_quality=jpeg_quality, extra_body=extra_body,
        )
        self.top_logprobs = int(top_logprobs)
        self.stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()

    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "top_logprobs": self.top_logprobs, "max_tokens": 1}

    def request_body(self, image_url: str, question: str) -> dict[str, Any]:
        """The chat-completions JSON body for one frame (already a data URL)."""
        return self._with_extra(
            {
                "model": self.model,
                "messages": _image_message(image_url, SPATIAL_PROMPT.format(question=question)),
                "max_tokens": 1,
                "temperature": 0.0,
                "logprobs": True,
                "top_logprobs": self.top_logprobs,
            }
        )

    def _score_one(self, i: int, frame: np.ndarray, question: str, n: int) -> tuple[float, str | None]:
        body = self.request_body(encode_jpeg_data_url(frame, self.jpeg_quality), question)
        choice = self._chat(body, f"spatial chat.completions (frame {i} of {n})").choices[0]
        content = choice.logprobs.content if choice.logprobs is not None else None
        if content:
            first = content[0]
            top = [(t.token, t.logprob) for t in (first.top_logprobs or [])]
            if not top:  # no alternatives: the sampled token is its own top-1
                top = [(first.token, first.logprob)]
            score, note = score_from_top_logprobs(top, first.token)
            missing = False
        else:
            score, note = score_from_top_logprobs([], choice.message.content)
            note = f"reply has no logprobs; {note.split('; ', 1)[1]}" if note else note
            missing = True
        with self._stats_lock:
            self.stats["frames"] += 1
            if missing:
                self.stats["missing_logprobs"] += 1
            if note is not None:
                self.stats["fallback_neutral" if score == 0.5 else "fallback_sampled"] += 1
        if note is not None:
            note = f"frame {i}: {note}"
            log.warning("spatial scorer (model %s): %s", self.model, note)
        return score, note

    def score_with_notes(self, frames: Sequence[np.ndarray], question: str) -> tuple[np.ndarray, list[str]]:
        """`score`, plus one note per frame that needed a fallback."""
        n = len(frames)
        results = _map_ordered(lambda i, f: self._score_one(i, f, question, n), list(frames), self.concurrency, "spatial")
        scores = np.asarray([s for s, _ in results], dtype=np.float32).reshape(n)
        return scores, [note for _, note in results if note is not None]

    def score(self, frames: Sequence[np.ndarray], question: str) -> np.ndarray:
        return self.score_with_notes(frames, question)[0]


# --------------------------------------------------------------------------------------------
# Captions


class OpenAICaptioner(_FrameBackend, Captioner):
    """One short caption per frame, requests concurrent (at most `concurrency` in flight), in
    frame order. Whitespace in a caption is collapsed to single spaces so it fits on one numbered
    line of the temporal prompt."""

    kind = "caption"
    prompt_version = CAPTION_PROMPT_VERSION

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_retries: int = 5,
        timeout: float = 60.0,
        concurrency: int = 8,
        jpeg_quality: int = 90,
        max_tokens: int = 64,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            model, base_url=base_url, api_key=api_key, max_retries=max_retries, timeout=timeout,
            concurrency=concurrency, jpeg_quality=jpeg_quality, extra_body=extra_body,
        )
        self.max_tokens = int(max_tokens)

    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "max_tokens": self.max_tokens}

    def request_body(self, image_url: str) -> dict[str, Any]:
        return self._with_extra(
            {
                "model": self.model,
                "messages": _image_message(image_url, CAPTION_PROMPT),
                "max_tokens": self.max_tokens,
                "temperature": 0.0,
            }
        )

    def _caption_one(self, i: int, frame: np.ndarray, n: int) -> str:
        body = self.request_body(encode_jpeg_data_url(frame, self.jpeg_quality))
        completion = self._chat(body, f"caption chat.completions (frame {i} of {n})")
        text = " ".join((completion.choices[0].message.content or "").split())
        if not text:
            log.warning("captioner (model %s): empty caption for frame %d", self.model, i)
        return text

    def caption(self, frames: Sequence[np.ndarray]) -> list[str]:
        n = len(frames)
        return _map_ordered(lambda i, f: self._caption_one(i, f, n), list(frames), self.concurrency, "caption")


# --------------------------------------------------------------------------------------------
# Temporal: the reply parser shared by the online selector and the Batch API mode

_INDEX_KEYS = ("frames", "indices", "frame_indices")
_FENCE = re.compile(r"^```[A-Za-z]*\s*(.*?)\s*```$", re.DOTALL)
_KEYED_LIST = re.compile(r"""["']?(?:frames|indices|frame_indices)["']?\s*[:=]\s*\[([^\]]*)""")
_BARE_LIST = re.compile(r"\[([\s\d,\-]*\d[\s\d,\-]*)(?:\]|$)")
_INT = re.compile(r"-?\d+")


def _excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return repr(flat[:limit] + ("..." if len(flat) > limit else ""))


def _index_list(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for key in _INDEX_KEYS:
            if isinstance(value.get(key), list):
                return value[key]
    return None


def _load_lenient(raw: str) -> tuple[list[Any] | None, str | None]:
    """The reply's list of indices, and a note when getting it needed repair."""
    text = raw.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        items = _index_list(json.loads(text))
        if items is not None:
            return items, ("removed a markdown code fence" if fenced else None)
    except ValueError:
        pass
    # Preference: a JSON object with an index key, then a keyed list in malformed JSON, then a
    # bare JSON list, then any bracketed run of integers (a truncated list included).
    decoder = json.JSONDecoder()
    first_list: list[Any] | None = None
    for attempt, match in enumerate(re.finditer(r"[\[{]", text)):
        if attempt >= 200:
            break
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, dict) and _index_list(value) is not None:
            return _index_list(value), "repaired JSON: extracted the JSON object from surrounding text"
        if isinstance(value, list) and first_list is None:
            first_list = value
    keyed = _KEYED_LIST.search(text)
    if keyed:
        return [int(x) for x in _INT.findall(keyed.group(1))], "repaired JSON: read the integers of a malformed list"
    if first_list is not None:
        return first_list, "repaired JSON: extracted a JSON list from surrounding text"
    bare = _BARE_LIST.search(text)
    if bare:
        return [int(x) for x in _INT.findall(bare.group(1))], "repaired JSON: read the integers of a malformed list"
    return None, None


def parse_temporal_reply(raw: str | None, n: int, *, max_frames: int | None = None) -> TemporalResult:
    """Turn the text LLM's reply into sorted, unique, in-range 0-based indices.

    Accepts `{"frames": [...]}`, `{"indices": [...]}` or a bare list, inside a code fence or
    surrounding prose, or a truncated / malformed list of integers. Out-of-range, duplicate and
    non-integer entries are dropped, and every repair is recorded in `notes`. A reply with no
    list of indices at all gives `indices=[]` and the note "unparseable reply: ...". Never raises.
    """
    raw = raw or ""
    items, how = _load_lenient(raw)
    if items is None:
        return TemporalResult(indices=[], raw=raw, notes=[f"unparseable reply: {_excerpt(raw) if raw.strip() else 'empty'}"])
    notes = [how] if how else []
    values: list[int] = []
    coerced: list[Any] = []
    rejected: list[Any] = []
    for item in items:
        if isinstance(item, bool):
            rejected.append(item)
        elif isinstance(item, int):
            values.append(item)
        elif isinstance(item, float) and item.is_integer():
            values.append(int(item))
            coerced.append(item)
        elif isinstance(item, str) and re.fullmatch(r"\s*-?\d+\s*", item):
            values.append(int(item))
            coerced.append(item)
        else:
            rejected.append(item)
    if coerced:
        notes.append(f"coerced non-integer entries to integers: {coerced[:20]}")
    if rejected:
        notes.append(f"dropped non-integer entries: {rejected[:20]}")
    out_of_range = [v for v in values if not 0 <= v < n]
    if out_of_range:
        notes.append(f"dropped out-of-range indices {out_of_range[:20]} (valid 0..{n - 1})")
    kept: list[int] = []
    duplicates: list[int] = []
    seen: set[int] = set()
    for v in values:
        if 0 <= v < n:
            if v in seen:
                duplicates.append(v)
            else:
                seen.add(v)
                kept.append(v)
    if duplicates:
        notes.append(f"dropped duplicate indices {duplicates[:20]}")
    if max_frames is not None and len(kept) > max_frames:
        notes.append(f"reply names {len(kept)} frames, more than the max_frames hint of {max_frames}")
    return TemporalResult(indices=sorted(kept), raw=raw, notes=notes)


def temporal_result_from_message(
    content: str | None, n: int, *, finish_reason: str | None = None, refusal: str | None = None,
    max_frames: int | None = None,
) -> TemporalResult:
    """`parse_temporal_reply` on one assistant message, with notes for refusals and truncation."""
    if refusal and not content:
        return TemporalResult(indices=[], raw="", notes=[f"unparseable reply: refusal {_excerpt(refusal)}"])
    result = parse_temporal_reply(content, n, max_frames=max_frames)
    if finish_reason == "length":
        result.notes.insert(0, "reply truncated (finish_reason=length)")
    return result


def temporal_result_from_completion(completion: Mapping[str, Any], n: int, *, max_frames: int | None = None) -> TemporalResult:
    """`temporal_result_from_message` on a chat completion given as JSON (the Batch API's)."""
    choices = completion.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], Mapping) else {}
    message = choice.get("message") or {}
    return temporal_result_from_message(
        message.get("content"), n, finish_reason=choice.get("finish_reason"), refusal=message.get("refusal"),
        max_frames=max_frames,
    )


class OpenAITemporalSelector(_OpenAIBackend, TemporalSelector):
    """The text LLM of the temporal pseudo-labels, through chat completions.

    The prompt lists the captions as "[i] (12.3 s) caption" (0-based) and asks for the helpful
    frames, at most `max_frames` (a hint, not enforced; None leaves it out). The reply is asked
    for as strict JSON `{"frames": [int, ...]}` via `response_format` ("json_schema"; or
    "json_object", or "none" for servers without structured outputs), and parsed defensively by
    `parse_temporal_reply`: an unusable reply gives an empty result with a note, never an error.
    `request_body` is also what the Batch API mode (`pseudolabel.batch`) sends.
    """

    kind = "temporal"
    prompt_version = TEMPORAL_PROMPT_VERSION

    def __init__(
        self,
        model: str = "gpt-4o-mini",
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_retries: int = 5,
        timeout: float = 60.0,
        max_frames: int | None = 8,
        max_tokens: int = 512,
        response_format: Literal["json_schema", "json_object", "none"] = "json_schema",
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(model, base_url=base_url, api_key=api_key, max_retries=max_retries, timeout=timeout, extra_body=extra_body)
        if response_format not in ("json_schema", "json_object", "none"):
            raise ValueError(f"response_format must be json_schema, json_object or none, not {response_format!r}")
        if max_frames is not None and max_frames < 1:
            raise ValueError("max_frames must be >= 1 or None")
        self.max_frames = max_frames
        self.max_tokens = int(max_tokens)
        self.response_format = response_format

    def _settings(self) -> dict[str, Any]:
        return {
            **super()._settings(),
            "max_frames": self.max_frames,
            "max_tokens": self.max_tokens,
            "response_format": self.response_format,
            "temperature": 0.0,
        }

    def prompt(self, captions: Sequence[str], seconds: Sequence[float], question: str) -> str:
        lines = "\n".join(f"[{i}] ({float(t):.1f} s) {' '.join(str(c).split())}" for i, (c, t) in enumerate(zip(captions, seconds)))
        limit = TEMPORAL_LIMIT.format(max_frames=self.max_frames) if self.max_frames is not None else ""
        return TEMPORAL_PROMPT.format(n=len(captions), last=len(captions) - 1, captions=lines, question=question, limit=limit)

    def request_body(self, captions: Sequence[str], seconds: Sequence[float], question: str) -> dict[str, Any]:
        """The chat-completions JSON body, exactly as sent online and written to batch files."""
        if len(captions) != len(seconds):
            raise ValueError(f"{len(captions)} captions but {len(seconds)} timestamps")
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": TEMPORAL_SYSTEM_PROMPT},
                {"role": "user", "content": self.prompt(captions, seconds, question)},
            ],
            "temperature": 0.0,
            "max_tokens": self.max_tokens,
        }
        if self.response_format == "json_schema":
            body["response_format"] = json.loads(json.dumps(TEMPORAL_JSON_SCHEMA))
        elif self.response_format == "json_object":
            body["response_format"] = {"type": "json_object"}
        return self._with_extra(body)

    def parse_completion(self, completion: Mapping[str, Any], n: int) -> TemporalResult:
        """The result of a chat completion in JSON form (the Batch API's output lines)."""
        return temporal_result_from_completion(completion, n, max_frames=self.max_frames)

    def select(self, captions: Sequence[str], seconds: Sequence[float], question: str) -> TemporalResult:
        if len(captions) == 0:
            return TemporalResult(indices=[], raw="", notes=["no captions: nothing to select"])
        completion = self._chat(self.request_body(captions, seconds, question), "temporal chat.completions")
        choice = completion.choices[0]
        result = temporal_result_from_message(
            choice.message.content, len(captions), finish_reason=choice.finish_reason,
            refusal=getattr(choice.message, "refusal", None), max_frames=self.max_frames,
        )
        if result.notes:
            log.info("temporal selector (model %s): %s", self.model, "; ".join(result.notes))
        return result


__all__ = [
    "BackendError",
    "OpenAISpatialScorer",
    "OpenAICaptioner",
    "OpenAITemporalSelector",
    "encode_jpeg_data_url",
    "score_from_top_logprobs",
    "parse_temporal_reply",
    "temporal_result_from_message",
    "temporal_result_from_completion",
    "public_url",
    "SPATIAL_PROMPT",
    "SPATIAL_PROMPT_VERSION",
    "CAPTION_PROMPT",
    "CAPTION_PROMPT_VERSION",
    "TEMPORAL_SYSTEM_PROMPT",
    "TEMPORAL_PROMPT",
    "TEMPORAL_PROMPT_VERSION",
    "TEMPORAL_JSON_SCHEMA",
]
