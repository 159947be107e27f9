"""One way to talk to an OpenAI-compatible server (OpenAI itself, vLLM, SGLang, ...).

Labelling, judging and downstream answering all open such a connection, and all owe the same
promise: the API key goes into the client and nowhere else. It is never logged, never put in a
record, never in an error message, and text coming back from a server is scrubbed of it before
anyone prints it (some servers echo the key they were sent). Keeping the key handling, the
loggable form of the URL and the scrubbing in one place keeps that promise in one place.

Key rules: the key is `api_key` when given, else the environment variable `api_key_env`. A
server at an explicit `base_url` (a local vLLM, usually without authentication) may go without
one: the client then sends the placeholder `EMPTY`, which such servers accept. OpenAI itself
(no `base_url`) without a key is a `MissingAPIKeyError`, raised before any request.

Retries are the official client's (connection errors, timeouts, 408, 409, 429, 5xx; exponential
backoff or the server's `retry-after`); `max_retries` and `timeout` (seconds per attempt) set them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import openai

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
PLACEHOLDER_KEY = "EMPTY"

# OpenAI-style keys, whichever key was configured: a server may echo another key it knows of.
_SK_PATTERN = re.compile(r"sk-[A-Za-z0-9_\-*]{6,}")


class MissingAPIKeyError(ValueError):
    """No API key for a server that needs one (OpenAI itself): a setup error, raised at once."""


def scrub(text: str, secrets: Sequence[str] = ()) -> str:
    """`text` with every secret and anything shaped like an OpenAI key replaced by `***`, so that
    a server's message can be logged or stored."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _SK_PATTERN.sub("sk-***", text)


def public_url(url: str) -> str:
    """`scheme://host[:port]/path` of a base URL, fit for logs and records: user:password, query
    (some gateways take `?api-key=`) and fragment are dropped."""
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


def _api_key(api_key: str | None, api_key_env: str, base_url: str | None, who: str) -> str:
    """The key to send: `api_key`, else `$api_key_env`, else the placeholder for a server at an
    explicit `base_url`. The error names the variable, never a value."""
    key = api_key if api_key is not None else os.environ.get(api_key_env)
    if key:
        return key
    if base_url:
        return PLACEHOLDER_KEY
    raise MissingAPIKeyError(
        f"{who}: no API key: pass api_key or set {api_key_env} (a local server without authentication needs only a base URL)"
    )


@dataclass(frozen=True)
class OpenAIConnection:
    """A ready client, the URL it talks to in loggable form, and the scrubber for its key.

    The key lives only inside `client` and the private secrets tuple, which `repr` leaves out.
    `client` is an `openai.OpenAI`, or an `openai.AsyncOpenAI` from `connect(asynchronous=True)`.
    """

    client: openai.OpenAI | openai.AsyncOpenAI = field(repr=False)
    base_url: str
    max_retries: int
    timeout: float
    _secrets: tuple[str, ...] = field(default=(), repr=False)

    def scrub(self, text: str) -> str:
        """`text` without this connection's key (or any OpenAI-style key)."""
        return scrub(text, self._secrets)


def connect(
    base_url: str | None = None,
    *,
    api_key: str | None = None,
    api_key_env: str = DEFAULT_API_KEY_ENV,
    max_retries: int = 5,
    timeout: float = 60.0,
    who: str = "OpenAI client",
    asynchronous: bool = False,
) -> OpenAIConnection:
    """An `openai.OpenAI` client for `base_url` (None: OpenAI, or `$OPENAI_BASE_URL`); with
    `asynchronous=True` an `openai.AsyncOpenAI`, for callers on an event loop (the serving proxy).

    `who` names the caller in the missing-key error. Raises `MissingAPIKeyError` (see the module
    notes) and ValueError for a negative `max_retries` or a non-positive `timeout`.
    """
    if max_retries < 0:
        raise ValueError(f"max_retries must be >= 0, not {max_retries}")
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0, not {timeout}")
    base_url = base_url or None
    key = _api_key(api_key, api_key_env, base_url, who)
    client_type = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    client = client_type(base_url=base_url, api_key=key, max_retries=int(max_retries), timeout=float(timeout))
    secrets = (key,) if key != PLACEHOLDER_KEY else ()
    return OpenAIConnection(client, public_url(str(client.base_url)), int(max_retries), float(timeout), secrets)


__all__ = [
    "DEFAULT_API_KEY_ENV",
    "MissingAPIKeyError",
    "OpenAIConnection",
    "PLACEHOLDER_KEY",
    "connect",
    "public_url",
    "scrub",
]
