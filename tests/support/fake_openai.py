"""A loopback OpenAI-compatible server for tests, which misbehaves when told to.

    with FakeOpenAI() as fake:
        client = OpenAI(base_url=fake.base_url, api_key="k")
        fake.script(status(429, retry_after_ms=10))   # the next chat request gets a 429
        ...
        fake.chat_requests()                           # what the server saw, headers included

Runs `http.server.ThreadingHTTPServer` on 127.0.0.1, port 0, in a daemon thread. The serving loop
is bounded: it stops on `close()` / leaving the `with` block, or by itself after `lifetime`
seconds. Slow replies wait on the stop event, so closing never hangs on them.

Endpoints:
- `POST /v1/chat/completions`: a deterministic reply chosen by the request:
  * `logprobs` requested (spatial): the first token's top logprobs put mass on "True"/" True" and
    "False"/" False" such that p(True)/(p(True)+p(False)) = `p_true(image_url)` (a hash of the image
    data URL); `expected_spatial_score` gives the exact value a client should compute.
  * a numbered-caption prompt (temporal): `{"frames": expected_frames(captions, question)}`: the
    frames whose caption shares a word of 4+ letters with the question.
  * frames forwarded by a selection proxy (`frame-selector serve`: "Frame at t s:" before each
    image, or one `video/jpeg` data URL with `media_io_kwargs`): `selection_reply(body)`, the
    question and the times it was told, so a client can match every answer to its question.
    With `videos=[...]`, each forwarded frame is first checked against the container's true
    times (`TrueFrames`): a frame whose told time is not the time of the frame it shows gets a 400.
  * otherwise (caption): `expected_caption(image_url)`.
  `"stream": true` gets the same reply as server-sent `chat.completion.chunk` events.
- `POST /v1/files` (multipart), `GET /v1/files/{id}`, `GET /v1/files/{id}/content`.
- `POST /v1/batches`, `GET /v1/batches/{id}` (validating -> in_progress (x N polls) -> finalizing
  -> completed, one step per poll), `GET /v1/batches`. On completion each input line is answered
  like a chat request and written to an output file in OpenAI's line shape (or vLLM's, where
  `response` holds the completion directly), in reverse order so clients must join on custom_id.

Misbehaviour, scripted per test with `script(*faults)` (one fault per chat request, in arrival
order) or `always(fault)` (every chat request): `status(429, retry_after_ms=10)`, `status(500)`,
`status(401, echo_key=True)`, `html_error(500)` (a gateway's HTML page), `dropped()` (the
connection closed without a reply), `truncated_body()` (a 200 whose JSON is cut in half),
`empty_choices()` (a 200 with `"choices": []`), `slow(seconds)`, `reply(content)` (broken JSON,
out-of-range indices, ...), `no_logprobs(sampled)`, `no_true_false(sampled)`,
`true_false_variants()` (the answer spelled "true", " TRUE", " false", "FALSE": the same score
for a client that reads every form), `long_caption(words)` (a runaway caption of 40,000 words),
`nul_caption()` (a caption with NUL bytes). Batch lines misbehave through `batch_failures` /
`batch_replies`.

`hostile(rate)` misbehaves every way at once, like a real gateway on a bad day: about `rate` of
the chat requests get one transient fault (`HOSTILE_FAULTS`, each applicable to the request),
on their first attempt only, so a retry of the same body succeeds; spatial replies spell True
and False in other forms and captions run away or carry NUL bytes (`HOSTILE_QUIRKS`) on about
half of them, every time. `hostile(1.0, persistent=True)` is a server that never answers well.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import urlsplit

import numpy as np

# --------------------------------------------------------------------------------------------
# What the fake answers, so tests know the expected values


def _fraction(text: str, salt: str = "") -> float:
    digest = hashlib.sha256((salt + text).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def p_true(image_url: str) -> float:
    """The fake's p(True) for a frame: a hash of its data URL, in [0.05, 0.95]."""
    return 0.05 + 0.9 * _fraction(image_url)


def top_logprobs_for(image_url: str, k: int = 20, *, variants: bool = False) -> list[dict[str, Any]]:
    """The first token's top-k logprobs the fake returns for a frame (sorted, most likely first).
    `variants`: the answers spelled in other forms of the same words, with the same masses."""
    p = p_true(image_url)
    forms = ("true", " TRUE", " false", "FALSE") if variants else ("True", " True", "False", " False")
    mass = dict(zip(forms, (0.6 * p, 0.3 * p, 0.6 * (1 - p), 0.3 * (1 - p)))) | {"Maybe": 0.06, "The": 0.04}
    entries = [{"token": t, "logprob": math.log(m), "bytes": list(t.encode())} for t, m in mass.items()]
    entries.sort(key=lambda e: -e["logprob"])
    return entries[: max(0, int(k))]


def expected_spatial_score(image_url: str, k: int = 20) -> float:
    """p(True) / (p(True) + p(False)) over the top-k logprobs the fake returns (with or without
    `true_false_variants`: the same value)."""
    top = top_logprobs_for(image_url, k)
    t = sum(math.exp(e["logprob"]) for e in top if e["token"].strip().lower() == "true")
    f = sum(math.exp(e["logprob"]) for e in top if e["token"].strip().lower() == "false")
    return t / (t + f)


def expected_caption(image_url: str) -> str:
    """The fake's caption of a frame; also what a client should keep of a `nul_caption` reply
    (NUL bytes dropped, whitespace collapsed) and what a `long_caption` reply starts with."""
    return f"A frame with pattern {hashlib.sha256(image_url.encode()).hexdigest()[:8]}."


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 4}


def expected_frames(captions: list[str], question: str) -> list[int]:
    """The fake's temporal answer: frames whose caption shares a 4+ letter word with the question."""
    q = _words(question)
    return [i for i, c in enumerate(captions) if _words(c) & q]


_CAPTION_LINE = re.compile(r"^\[(\d+)\] \(([-\d.]+) s\) (.*)$", re.MULTILINE)
_QUESTION_LINE = re.compile(r"^Question: (.*)$", re.MULTILINE)
_FRAME_AT = re.compile(r"Frame at (\d+(?:\.\d+)?) s:")


def forwarded_frames(body: dict[str, Any]) -> list[tuple[float, str, float]]:
    """(time told, JPEG data URL, how exactly the time was told) of each frame a selection proxy
    forwarded: the `openai` route's "Frame at t s:" before each image (exact to half its last
    printed digit), or the `vllm_video` route's `video/jpeg` data URL with the clock in
    `media_io_kwargs` (times `frames_indices / fps`, exact to 10 ms: the hand-off's tolerance)."""
    out: list[tuple[float, str, float]] = []
    told: str | None = None
    for message in body.get("messages") or []:
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            if part.get("type") == "text":
                m = _FRAME_AT.fullmatch(part.get("text", "").strip())
                told = m.group(1) if m else None
            elif part.get("type") == "image_url" and told is not None:
                decimals = len(told.partition(".")[2])
                out.append((float(told), part["image_url"]["url"], 0.5 * 10.0**-decimals + 1e-6))
                told = None
            elif part.get("type") == "video_url" and part["video_url"]["url"].startswith("data:video/jpeg;base64,"):
                clock = ((body.get("media_io_kwargs") or {}).get("video")) or {}
                images = part["video_url"]["url"].removeprefix("data:video/jpeg;base64,").split(",")
                times = [i / clock["fps"] for i in clock.get("frames_indices", [])]
                out += [(t, "data:image/jpeg;base64," + b64, 0.01 + 1e-6) for t, b64 in zip(times, images)]
    return out


def last_text(body: dict[str, Any]) -> str:
    """The last text part of the last user message: where a hand-off writes the question."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            texts = [p.get("text", "") for p in content or [] if p.get("type") == "text"]
            return texts[-1] if texts else ""
    return ""


def selection_reply(body: dict[str, Any]) -> str:
    """The fake's answer to forwarded frames: JSON with the question and the times told."""
    return json.dumps({"question": last_text(body), "seconds": [t for t, _, _ in forwarded_frames(body)]})


class TrueFrames:
    """Painted videos (`eval.bench.painted.painted_video`: every frame shows its own index)
    with every frame's container time, to check that a forwarded frame is labelled with the time
    at which the frame it shows was shown.

    The video is recognised by its texture (each seed has its own; 32x32 thumbnails), the frame by
    the index painted into it, so even neighbouring frames of a still scene are told apart."""

    SIDE = 32

    def __init__(self, videos: list[str]) -> None:
        from selector.video import probe, read_frames

        self.videos = []
        for video in videos:
            info = probe(video)
            thumbs = read_frames(info, range(info.num_frames), size=(self.SIDE, self.SIDE)).astype(np.float32)
            self.videos.append((info, thumbs))

    def problem(self, told: float, image_url: str, tolerance: float) -> str | None:
        """None when the frame is labelled with its true time; else what is wrong, in one line."""
        from PIL import Image

        from eval.bench.painted import painted_index

        image = Image.open(io.BytesIO(base64.b64decode(image_url.split(",", 1)[1]))).convert("RGB")
        thumb = np.asarray(image.resize((self.SIDE, self.SIDE), Image.BILINEAR), dtype=np.float32)
        distance, info = min((float(np.abs(thumbs - thumb).mean(axis=(1, 2, 3)).min()), info) for info, thumbs in self.videos)
        if distance > 20:
            return f"the frame told {told} s is no frame of the registered videos (difference {distance:.1f})"
        index = painted_index(np.asarray(image), info.width, info.height)
        if index >= info.num_frames:
            return f"the frame told {told} s carries no valid painted index ({index})"
        true = float(info.timestamps[index])
        if abs(true - told) <= tolerance:
            return None
        return f"the frame told {told} s is frame {index}, shown at {true:.3f} s (container time)"


# --------------------------------------------------------------------------------------------
# Faults


@dataclass
class Fault:
    """One scripted misbehaviour for one chat request."""

    status: int | None = None  # answer with this HTTP error status
    retry_after_ms: int | None = None  # with a retry-after-ms header
    retry_after: float | None = None  # with a Retry-After header (seconds)
    delay: float = 0.0  # wait this long before answering (longer than the client timeout: a timeout)
    content: str | None = None  # reply with this content instead of the normal one
    logprobs: Literal["normal", "missing", "no_true_false", "variants"] = "normal"
    sampled: str | None = None  # the sampled token when logprobs are missing / lack True and False
    echo_key: bool = False  # a 401 whose message echoes the key it was sent (worse than OpenAI)
    html: bool = False  # the error status comes as an HTML page, as from a gateway
    drop: bool = False  # close the connection without answering
    body: Literal["normal", "truncated", "empty_choices"] = "normal"  # what a 200 carries
    caption: Literal["normal", "long", "nul"] = "normal"  # how a caption reply is spoiled
    caption_words: int = 40_000  # the length of a long caption


def status(code: int, *, retry_after_ms: int | None = 10, retry_after: float | None = None, echo_key: bool = False) -> Fault:
    """An HTTP error; a retryable one comes with `retry-after-ms` (or `Retry-After` in seconds)."""
    retryable = code in (408, 409, 429) or code >= 500
    return Fault(
        status=code, retry_after_ms=retry_after_ms if retryable and retry_after is None else None,
        retry_after=retry_after if retryable else None, echo_key=echo_key,
    )


def slow(seconds: float) -> Fault:
    return Fault(delay=seconds)


def reply(content: str) -> Fault:
    return Fault(content=content)


def no_logprobs(sampled: str = "True") -> Fault:
    return Fault(logprobs="missing", sampled=sampled)


def no_true_false(sampled: str = "Maybe") -> Fault:
    return Fault(logprobs="no_true_false", sampled=sampled)


def html_error(code: int = 500) -> Fault:
    return Fault(status=code, retry_after_ms=None, html=True)


def dropped() -> Fault:
    return Fault(drop=True)


def truncated_body() -> Fault:
    return Fault(body="truncated")


def empty_choices() -> Fault:
    return Fault(body="empty_choices")


def true_false_variants() -> Fault:
    return Fault(logprobs="variants")


def long_caption(words: int = 40_000) -> Fault:
    return Fault(caption="long", caption_words=words)


def nul_caption() -> Fault:
    return Fault(caption="nul")


def combine(*faults: Fault) -> Fault:
    """One fault doing what each of `faults` does (a later one wins where two set the same field)."""
    default = Fault()
    changed: dict[str, Any] = {}
    for fault in faults:
        changed |= {k: v for k, v in vars(fault).items() if v != getattr(default, k)}
    return replace(default, **changed)


# What `hostile` does: transient faults (a retry of the same body succeeds, unless persistent),
# each with the requests it applies to, and quirks a client must handle without retrying.
HOSTILE_FAULTS: dict[str, tuple[Fault, tuple[str, ...]]] = {
    "rate_limit": (status(429, retry_after=0.02), ("spatial", "caption", "temporal")),
    "html_500": (html_error(500), ("spatial", "caption", "temporal")),
    "dropped": (dropped(), ("spatial", "caption", "temporal")),
    "truncated_body": (truncated_body(), ("spatial", "caption", "temporal")),
    "empty_choices": (empty_choices(), ("spatial", "caption", "temporal")),
    "no_logprobs": (Fault(logprobs="missing"), ("spatial",)),
}
HOSTILE_QUIRKS: dict[str, tuple[Fault, tuple[str, ...]]] = {
    "true_false_variants": (true_false_variants(), ("spatial",)),
    "long_caption": (long_caption(), ("caption",)),
    "nul_caption": (nul_caption(), ("caption",)),
}


def request_kind(body: dict[str, Any]) -> Literal["spatial", "caption", "temporal"]:
    """What a chat body asks for, the way the fake decides its reply."""
    if body.get("logprobs"):
        return "spatial"
    return "temporal" if _CAPTION_LINE.search(_message_parts(body)[1]) else "caption"


def _message_parts(body: dict[str, Any]) -> tuple[str | None, str]:
    """(the last image URL, all the text) of a chat body's messages."""
    image_url, text = None, ""
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            text += content + "\n"
        elif isinstance(content, list):
            for part in content:
                if part.get("type") == "image_url":
                    image_url = part["image_url"]["url"]
                elif part.get("type") == "text":
                    text += part.get("text", "") + "\n"
    return image_url, text


# --------------------------------------------------------------------------------------------
# The server


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names; includes authorization
    body: Any  # parsed JSON, or raw bytes for other content types
    time: float = field(default_factory=time.monotonic)


class FakeOpenAI:
    def __init__(
        self,
        *,
        lifetime: float = 120.0,
        shuffle_delay: float = 0.0,
        batch_polls_in_progress: int = 2,
        batch_output_shape: Literal["openai", "vllm"] = "openai",
        batch_final_status: Literal["completed", "failed", "expired"] = "completed",
        batch_failures: dict[str, Literal["error_file", "500"]] | None = None,
        batch_replies: dict[str, str] | None = None,
        videos: list[str] | None = None,
        record: bool = True,
    ) -> None:
        """shuffle_delay: each chat request waits a deterministic pseudo-random 0..shuffle_delay s,
        so concurrent replies come back out of order. videos: check forwarded frames against
        these videos' true frame times (`TrueFrames`). record: keep every request for
        `chat_requests` (off for soak tests, whose thousands of bodies would fill memory)."""
        self.true_frames = TrueFrames([str(v) for v in videos]) if videos else None
        self.lifetime = lifetime
        self.shuffle_delay = shuffle_delay
        self.batch_polls_in_progress = batch_polls_in_progress
        self.batch_output_shape = batch_output_shape
        self.batch_final_status = batch_final_status
        self.batch_failures = dict(batch_failures or {})
        self.batch_replies = dict(batch_replies or {})
        self.record = record
        self.requests: list[Recorded] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.max_in_flight = 0
        self._in_flight = 0
        self._faults: deque[Fault] = deque()
        self._always: Fault | None = None
        self._hostile: tuple[float, bool] | None = None  # (rate, persistent)
        self._attempts: dict[str, int] = {}  # chat body -> requests seen with it
        self.hostile_counts: dict[str, int] = {}  # misbehaviour -> times done
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self) -> FakeOpenAI:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.timeout = 0.05
        httpd.fake = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(target=self._serve, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._httpd is not None
        deadline = time.monotonic() + self.lifetime
        while not self._stop.is_set() and time.monotonic() < deadline:
            self._httpd.handle_request()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._httpd is not None:
            self._httpd.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # ---- scripting and inspection

    def script(self, *faults: Fault | None) -> None:
        """The next chat requests, in arrival order, get these faults (None: behave)."""
        with self._lock:
            self._faults.extend(f if f is not None else Fault() for f in faults)

    def always(self, fault: Fault | None) -> None:
        """Every chat request (after the scripted ones) gets this fault; None to stop."""
        with self._lock:
            self._always = fault

    def hostile(self, rate: float | None = 0.5, *, persistent: bool = False) -> None:
        """Misbehave every way at once (see the module notes) on about `rate` of the chat
        requests, after the scripted ones and when no `always` fault is set; None to stop.
        `persistent`: the chosen requests misbehave on every attempt, not only the first."""
        with self._lock:
            self._hostile = None if rate is None else (float(rate), persistent)

    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    def count(self, method: str, path_prefix: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.path.startswith(path_prefix))

    def _next_fault(self, body: Any) -> Fault:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            if self._always is not None or self._hostile is None or not isinstance(body, dict):
                return self._always or Fault()
            key = json.dumps(body, sort_keys=True)
            attempt = self._attempts.get(key, 0)
            self._attempts[key] = attempt + 1
            rate, persistent = self._hostile
        kind = request_kind(body)
        spoilers = []
        if _fraction(key, "quirk") < 0.5:
            spoilers.append(self._take_turn(HOSTILE_QUIRKS, kind))
        if (persistent or attempt == 0) and _fraction(key, "fault") < rate:
            spoilers.append(self._take_turn(HOSTILE_FAULTS, kind))
        return combine(*(fault for fault in spoilers if fault is not None))

    def _take_turn(self, table: dict[str, tuple[Fault, tuple[str, ...]]], kind: str) -> Fault | None:
        """The misbehaviour of `table` applicable to `kind` that has been done least (so a short
        test sees each one), counted in `hostile_counts`."""
        names = [name for name, (_, kinds) in table.items() if kind in kinds]
        if not names:
            return None
        with self._lock:
            name = min(names, key=lambda n: self.hostile_counts.get(n, 0))
            self.hostile_counts[name] = self.hostile_counts.get(name, 0) + 1
        return table[name][0]

    # ---- behaviour

    def completion(self, body: dict[str, Any], fault: Fault | None = None) -> dict[str, Any]:
        """The reply to a chat-completions body (no HTTP-level faults)."""
        fault = fault or Fault()
        image_url, text = _message_parts(body)
        logprobs = None
        if body.get("logprobs"):
            top = top_logprobs_for(image_url or "", body.get("top_logprobs") or 0, variants=fault.logprobs == "variants")
            content_text = "True" if p_true(image_url or "") >= 0.5 else "False"
            if fault.logprobs == "missing":
                content_text = fault.sampled or ""
            elif fault.logprobs == "no_true_false":
                content_text = fault.sampled or "Maybe"
                # top logprobs without True/False whatever was sampled (unrealistic when the
                # sampled token is True/False, but that is the fallback path under test)
                top = [{"token": "Maybe", "logprob": -0.1, "bytes": []}, {"token": "The", "logprob": -2.5, "bytes": []}]
                logprobs = {"content": [{"token": content_text, "logprob": -0.1, "bytes": [], "top_logprobs": top}]}
            else:
                first = top[0] if top else {"token": content_text, "logprob": 0.0, "bytes": []}
                logprobs = {"content": [{"token": first["token"], "logprob": first["logprob"], "bytes": first["bytes"], "top_logprobs": top}]}
                content_text = first["token"]
        elif forwarded_frames(body):
            content_text = selection_reply(body)
        elif _CAPTION_LINE.search(text):
            captions = [m.group(3) for m in _CAPTION_LINE.finditer(text)]
            q = _QUESTION_LINE.search(text)
            content_text = json.dumps({"frames": expected_frames(captions, q.group(1) if q else "")})
        else:
            content_text = expected_caption(image_url or "")
            if fault.caption == "nul":
                content_text = content_text.replace(" ", "\x00 ").replace(".", "\x00.\x00")
            elif fault.caption == "long":
                content_text += " and then" + " again" * (fault.caption_words - 6)
        if fault.content is not None:
            content_text = fault.content
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [] if fault.body == "empty_choices" else [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content_text, "refusal": None},
                    "logprobs": logprobs,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
        }

    def _delay_for(self, body: dict[str, Any]) -> float:
        if self.shuffle_delay <= 0:
            return 0.0
        return self.shuffle_delay * _fraction(json.dumps(body, sort_keys=True), "delay")

    def _finish_batch(self, batch: dict[str, Any]) -> None:
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]]["data"].decode().splitlines() if x.strip()]
        if self.batch_final_status == "failed":
            batch["errors"] = {"object": "list", "data": [{"code": "invalid_request", "message": "scripted validation failure", "line": 1}]}
            batch["request_counts"] = {"total": len(lines), "completed": 0, "failed": len(lines)}
            return
        if self.batch_final_status == "expired":  # only the first half got done
            lines_done, lines_expired = lines[: len(lines) // 2], lines[len(lines) // 2 :]
        else:
            lines_done, lines_expired = lines, []
        out, errors = [], []
        for line in lines_done:
            cid = line["custom_id"]
            failure = self.batch_failures.get(cid)
            if failure == "error_file":
                errors.append({"id": f"batch_req_{uuid.uuid4().hex[:8]}", "custom_id": cid, "response": None,
                               "error": {"code": "server_error", "message": f"scripted failure for {cid}"}})
                continue
            if failure == "500":
                out.append({"id": f"batch_req_{uuid.uuid4().hex[:8]}", "custom_id": cid,
                            "response": {"status_code": 500, "request_id": "req_x", "body": {"error": {"message": "scripted 500", "type": "server_error"}}},
                            "error": None})
                continue
            fault = Fault(content=self.batch_replies[cid]) if cid in self.batch_replies else None
            completion = self.completion(line["body"], fault)
            if self.batch_output_shape == "vllm":
                response: dict[str, Any] = completion
            else:
                response = {"status_code": 200, "request_id": f"req_{uuid.uuid4().hex[:8]}", "body": completion}
            out.append({"id": f"batch_req_{uuid.uuid4().hex[:8]}", "custom_id": cid, "response": response, "error": None})
        for line in lines_expired:
            errors.append({"id": f"batch_req_{uuid.uuid4().hex[:8]}", "custom_id": line["custom_id"], "response": None,
                           "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}})
        out.reverse()
        batch["output_file_id"] = self._store_file("batch_output.jsonl", "batch_output", "".join(json.dumps(x) + "\n" for x in out).encode())
        if errors:
            batch["error_file_id"] = self._store_file("batch_errors.jsonl", "batch_output", "".join(json.dumps(x) + "\n" for x in errors).encode())
        batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(errors)}

    def _store_file(self, filename: str, purpose: str, data: bytes) -> str:
        file_id = f"file-{uuid.uuid4().hex[:16]}"
        self.files[file_id] = {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                               "filename": filename, "purpose": purpose, "status": "processed", "data": data}
        return file_id

    @staticmethod
    def _public_file(f: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in f.items() if k != "data"}

    def _advance_batch(self, batch: dict[str, Any]) -> None:
        stages = ["validating"] + ["in_progress"] * self.batch_polls_in_progress + ["finalizing", self.batch_final_status]
        step = min(batch.pop("_polls"), len(stages) - 1)
        batch["_polls"] = step + 1
        status = stages[step]
        total = len([x for x in self.files[batch["input_file_id"]]["data"].splitlines() if x.strip()])
        if status == "in_progress":
            done = total * step // (self.batch_polls_in_progress + 1)
            batch["request_counts"] = {"total": total, "completed": done, "failed": 0}
            batch.setdefault("in_progress_at", int(time.time()))
        if status in ("completed", "failed", "expired") and batch["status"] != status:
            self._finish_batch(batch)
            batch[f"{status}_at"] = int(time.time())
        batch["status"] = status


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeOpenAI/1"

    def log_message(self, format: str, *args: Any) -> None:  # silence
        pass

    @property
    def fake(self) -> FakeOpenAI:
        return self.server.fake  # type: ignore[attr-defined]

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _send(self, code: int, payload: Any, headers: dict[str, str] | None = None, content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(code)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client gave up (timeout)

    def _error(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        kind = {401: "invalid_request_error", 404: "invalid_request_error", 429: "rate_limit_error"}.get(code, "server_error")
        self._send(code, {"error": {"message": message, "type": kind, "param": None, "code": None}}, headers)

    def _record(self, raw: bytes) -> Any:
        ctype = self.headers.get("content-type", "")
        body: Any = raw
        if "json" in ctype and raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        path = urlsplit(self.path).path
        if self.fake.record:
            self.fake.requests.append(Recorded(self.command, path, {k.lower(): v for k, v in self.headers.items()}, body))
        return body

    def do_GET(self) -> None:
        self._record(b"")
        path = urlsplit(self.path).path
        fake = self.fake
        m = re.fullmatch(r"/v1/files/([^/]+)/content", path)
        if m:
            f = fake.files.get(m.group(1))
            return self._send(200, f["data"], content_type="application/octet-stream") if f else self._error(404, "no such file")
        m = re.fullmatch(r"/v1/files/([^/]+)", path)
        if m:
            f = fake.files.get(m.group(1))
            return self._send(200, fake._public_file(f)) if f else self._error(404, "no such file")
        m = re.fullmatch(r"/v1/batches/([^/]+)", path)
        if m:
            with fake._lock:
                batch = fake.batches.get(m.group(1))
                if batch is None:
                    return self._error(404, "no such batch")
                fake._advance_batch(batch)
                public = {k: v for k, v in batch.items() if not k.startswith("_")}
            return self._send(200, public)
        if path == "/v1/batches":
            with fake._lock:
                data = [{k: v for k, v in b.items() if not k.startswith("_")} for b in reversed(list(fake.batches.values()))]
            return self._send(200, {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                                    "last_id": data[-1]["id"] if data else None, "has_more": False})
        self._error(404, f"no route GET {path}")

    def do_POST(self) -> None:
        raw = self._read_body()
        body = self._record(raw)
        path = urlsplit(self.path).path
        fake = self.fake
        if path == "/v1/chat/completions":
            return self._chat(body)
        if path == "/v1/files":
            ctype = self.headers.get("content-type", "")
            message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
            data, filename, purpose = None, "upload", None
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name == "file":
                    data = part.get_payload(decode=True)
                    filename = part.get_filename() or filename
                elif name == "purpose":
                    purpose = part.get_payload(decode=True).decode()
            if data is None or purpose is None:
                return self._error(400, "multipart upload needs file and purpose")
            with fake._lock:
                file_id = fake._store_file(filename, purpose, data)
                return self._send(200, fake._public_file(fake.files[file_id]))
        if path == "/v1/batches":
            if not isinstance(body, dict) or body.get("input_file_id") not in fake.files:
                return self._error(400, "unknown input_file_id")
            batch_id = f"batch_{uuid.uuid4().hex[:16]}"
            batch = {
                "id": batch_id, "object": "batch", "endpoint": body.get("endpoint"), "errors": None,
                "input_file_id": body["input_file_id"], "completion_window": body.get("completion_window"),
                "status": "validating", "output_file_id": None, "error_file_id": None,
                "created_at": int(time.time()), "request_counts": {"total": 0, "completed": 0, "failed": 0},
                "metadata": body.get("metadata"), "_polls": 0,
            }
            with fake._lock:
                fake.batches[batch_id] = batch
                public = {k: v for k, v in batch.items() if not k.startswith("_")}
            return self._send(200, public)
        self._error(404, f"no route POST {path}")

    def _chat(self, body: Any) -> None:
        fake = self.fake
        fault = fake._next_fault(body)
        with fake._lock:
            fake._in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake._in_flight)
        try:
            delay = fault.delay + (fake._delay_for(body) if isinstance(body, dict) else 0.0)
            if delay and fake._stop.wait(delay):
                return
            if not isinstance(body, dict):
                return self._error(400, "body is not JSON")
            if fault.drop:
                self.close_connection = True  # nothing sent: the client sees the connection end
                return None
            if fault.status is not None and fault.html:
                page = f"<html><head><title>{fault.status}</title></head><body><h1>{fault.status} Server Error</h1><p>upstream misbehaved</p></body></html>"
                return self._send(fault.status, page.encode(), content_type="text/html")
            if fault.status is not None:
                headers = {"retry-after-ms": str(fault.retry_after_ms)} if fault.retry_after_ms is not None else {}
                if fault.retry_after is not None:
                    headers["retry-after"] = f"{fault.retry_after:g}"
                message = f"scripted {fault.status}"
                if fault.echo_key:
                    message = f"Incorrect API key provided: {self.headers.get('authorization', '').removeprefix('Bearer ')}."
                return self._error(fault.status, message, headers)
            if fake.true_frames is not None:
                for told, url, tolerance in forwarded_frames(body):
                    problem = fake.true_frames.problem(told, url, tolerance)
                    if problem:
                        return self._error(400, problem)
            completion = fake.completion(body, fault)
            if body.get("stream"):
                return self._stream(completion)
            reply = json.dumps(completion).encode()
            self._send(200, reply[: len(reply) // 2] if fault.body == "truncated" else reply)
        finally:
            with fake._lock:
                fake._in_flight -= 1

    def _stream(self, completion: dict[str, Any]) -> None:
        """The completion as OpenAI's server-sent chunks: the role, the content in three pieces,
        the finish reason, then `[DONE]` (the connection closes at the end: HTTP/1.0)."""
        text = completion["choices"][0]["message"]["content"]
        cut = [0, len(text) // 3, 2 * len(text) // 3, len(text)]
        deltas = [{"role": "assistant", "content": ""}] + [{"content": text[a:b]} for a, b in zip(cut, cut[1:])]
        base = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
        events = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
        events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        try:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for event in events:
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
