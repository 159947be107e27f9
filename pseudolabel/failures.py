"""Why a label item failed, as one word a summary can count and an operator can act on.

A failed row keeps the raw exception text (`error`, scrubbed of secrets) for the detail, and one
of `REASONS` (`reason`) for the kind, so that "2 x reply, 3 x rate_limit" tells at a glance
whether to fix the manifest, the videos, the key, the quota or the server. Every mapping from an
exception (or an HTTP status) to a reason is here, in one place:

- `input`: the manifest row cannot be an item (no video path, empty question, ...).
- `video`: the video cannot be read or decoded.
- `auth`: the server refused the key (401, 403).
- `request`: the server refused the request itself (another 4xx: too long, bad image, ...).
- `rate_limit`: still 429 after every retry.
- `server`: still 5xx (or 409) after every retry.
- `connection`: the connection kept failing (refused, dropped).
- `timeout`: every attempt timed out (or a 408).
- `reply`: the server kept answering 200 with something unusable (a body that is not JSON, no
  choices, no logprobs when asked for them), or a scorer returned scores of the wrong shape.
- `scorer`: anything else raised while scoring (an in-process model failing, a bug).
"""

from __future__ import annotations

from typing import Literal, get_args

from selector.video import VideoError

Reason = Literal["input", "video", "auth", "request", "rate_limit", "server", "connection", "timeout", "reply", "scorer"]
REASONS: tuple[str, ...] = get_args(Reason)


class ClassifiedError(RuntimeError):
    """An error that knows its reason (the remote backends' `BackendError` is one)."""

    def __init__(self, message: str, *, reason: Reason) -> None:
        super().__init__(message)
        if reason not in REASONS:
            raise ValueError(f"reason must be one of {REASONS}, not {reason!r}")
        self.reason: Reason = reason


class ReplyError(ClassifiedError):
    """A scorer answered, but with something that cannot be a label (wrong shape, non-finite)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="reply")


def http_reason(status: int) -> Reason:
    """The reason for a request that ended on HTTP `status` (after whatever retries it got)."""
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limit"
    if status == 408:
        return "timeout"
    if status == 409 or status >= 500:
        return "server"
    return "request"


def classify(error: BaseException) -> Reason:
    """The reason an item failed with `error`; `scorer` for anything unforeseen."""
    if isinstance(error, ClassifiedError):
        return error.reason
    if isinstance(error, (VideoError, FileNotFoundError, IsADirectoryError)):
        return "video"
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, ConnectionError):
        return "connection"
    return "scorer"


__all__ = ["REASONS", "ClassifiedError", "Reason", "ReplyError", "classify", "http_reason"]
