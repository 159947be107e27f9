"""Reading a chat-completions body: the video, the question, the selection settings; and writing
the body that goes upstream, with the video replaced by the hand-off's frames.

A request holds at most one `video_url` part, in a user message; the text parts of that message
are the question. Anything else in it (images, audio) is refused rather than silently dropped:
the hand-off writes the whole user turn. Other messages (system, earlier turns) go upstream as
they came. `frame_selection` (what the `openai` client's `extra_body` puts in the body) overrides
the proxy's k / candidates / rule / delta for this request and is not forwarded; its `options`
are the question's answer options, which the selector reads after the question as in training
(the text parts stay what the upstream model is asked).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..candidates import CandidatePlan
from ..selection import check_rule
from .errors import bad_request

OVERRIDES = ("k", "candidates", "rule", "delta", "options")


@dataclass(frozen=True)
class SelectionSettings:
    """How one request's frames are chosen: the proxy's flags, then the request's overrides."""

    k: int = 8
    candidates: CandidatePlan = CandidatePlan(n=128)
    rule: str = "nms"
    delta: int | None = None
    options: tuple[str, ...] | None = None

    def record(self) -> dict:
        return {"k": self.k, "candidates": self.candidates.to_dict(), "rule": self.rule, "delta": self.delta,
                "options": list(self.options) if self.options else None}


@dataclass(frozen=True)
class ChatCall:
    """A parsed request: the body to forward (without `frame_selection`), and when it holds a
    video: where it is, the question, which message held it, and the settings for it."""

    body: dict
    video: str | None = None
    question: str = ""
    message: int = -1
    settings: SelectionSettings = SelectionSettings()

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


def _int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise bad_request(f"frame_selection.{name} must be an integer >= {minimum}, not {value!r}")
    return value


def overridden(defaults: SelectionSettings, overrides: object) -> SelectionSettings:
    """`defaults` with a request's `frame_selection` applied, each value checked."""
    if overrides is None:
        return defaults
    if not isinstance(overrides, dict):
        raise bad_request("frame_selection must be an object {k, candidates, rule, delta, options}")
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise bad_request(f"frame_selection: unknown setting {', '.join(unknown)} (known: {', '.join(OVERRIDES)})")
    settings = defaults
    if "k" in overrides:
        settings = replace(settings, k=_int(overrides["k"], "k", 1))
    if "candidates" in overrides:
        value = overrides["candidates"]
        try:
            plan = CandidatePlan(n=_int(value, "candidates", 1)) if not isinstance(value, str) else CandidatePlan.parse(value)
        except ValueError as error:
            raise bad_request(f"frame_selection.candidates: {error}") from None
        settings = replace(settings, candidates=plan)
    if "rule" in overrides:
        try:
            check_rule(str(overrides["rule"]))
        except ValueError as error:
            raise bad_request(f"frame_selection.rule: {error}") from None
        settings = replace(settings, rule=str(overrides["rule"]))
    if "delta" in overrides:
        settings = replace(settings, delta=None if overrides["delta"] is None else _int(overrides["delta"], "delta", 0))
    if overrides.get("options") is not None:
        options = overrides["options"]
        if isinstance(options, str) or not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise bad_request(f"frame_selection.options must be a list of strings (the answer options), not {options!r}")
        settings = replace(settings, options=tuple(options) or None)
    return settings


def _video_parts(messages: list) -> list[tuple[int, int]]:
    found = []
    for m, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            found += [(m, p) for p, part in enumerate(content) if isinstance(part, dict) and part.get("type") == "video_url"]
    return found


def parse_chat(body: object, defaults: SelectionSettings) -> ChatCall:
    """The request's video, question and settings; a `ProxyError` (400) names what is wrong."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty list")
    if not isinstance(body.get("model"), str):
        raise bad_request("model must be a string")
    forwarded = {key: value for key, value in body.items() if key != "frame_selection"}
    videos = _video_parts(messages)
    if not videos:
        return ChatCall(forwarded)
    if len(videos) > 1:
        raise bad_request(f"{len(videos)} video_url parts: the proxy selects frames of one video per request")
    m, p = videos[0]
    message = messages[m]
    if message.get("role") != "user":
        raise bad_request("the video_url part must be in a user message")
    part = message["content"][p]
    url = part.get("video_url")
    url = url.get("url") if isinstance(url, dict) else url
    if not isinstance(url, str) or not url:
        raise bad_request("video_url needs a url")
    others = sorted({c.get("type") for c in message["content"] if isinstance(c, dict)} - {"text", "video_url"})
    if others:
        raise bad_request(f"the message with the video also holds {', '.join(map(str, others))} parts; send text and one video")
    question = "\n".join(c.get("text", "") for c in message["content"] if c.get("type") == "text").strip()
    if not question:
        raise bad_request("the message with the video has no text: the text parts are the question")
    return ChatCall(forwarded, url, question, m, overridden(defaults, body.get("frame_selection")))


def rewritten(call: ChatCall, content: list[dict], extra: dict | None) -> dict:
    """The body to forward: the video's message replaced by the hand-off's user content, and the
    hand-off's extra body fields (vLLM's `media_io_kwargs`) merged in."""
    body = dict(call.body)
    messages = list(body["messages"])
    messages[call.message] = {**messages[call.message], "content": content}
    body["messages"] = messages
    for key, value in (extra or {}).items():
        body[key] = {**body[key], **value} if isinstance(body.get(key), dict) and isinstance(value, dict) else value
    return body


__all__ = ["OVERRIDES", "ChatCall", "SelectionSettings", "overridden", "parse_chat", "rewritten"]
