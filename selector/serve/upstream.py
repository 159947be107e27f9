"""Forwarding a chat request to the upstream server with the official `openai` client, built by
`selector.openai_client.connect(asynchronous=True)` (its key rules: the key comes from an
environment variable, lives only in the client, and every upstream message is scrubbed of it).

The raw response is passed on: JSON as upstream wrote it (plus our extension field), and a
stream byte for byte. Upstream failures become the proxy's own errors, each with one clear line:

* unreachable (connection refused, DNS, reset): 502 `upstream_unreachable`;
* no answer within `--upstream-timeout`: 504 `upstream_timeout`;
* a 5xx, or a 401/403 (the proxy's key is wrong, nothing the client can fix): 502 `upstream_error`;
* any other 4xx (a bad model name, a rate limit): the same status, upstream's message scrubbed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import openai

from ..openai_client import OpenAIConnection
from .errors import ProxyError

_KNOWN = ("model", "messages", "stream")


def _message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(error.message)


def upstream_error(connection: OpenAIConnection, error: openai.OpenAIError) -> ProxyError:
    """The proxy's answer to an upstream failure (see the module notes)."""
    where = connection.base_url
    if isinstance(error, openai.APITimeoutError):
        return ProxyError(504, f"upstream {where} did not answer within {connection.timeout:g} s (--upstream-timeout)",
                          kind="server_error", code="upstream_timeout")
    if isinstance(error, openai.APIConnectionError):
        return ProxyError(502, f"upstream {where} is unreachable: {connection.scrub(str(error.__cause__ or error))}",
                          kind="server_error", code="upstream_unreachable")
    if isinstance(error, openai.APIStatusError):
        message = connection.scrub(_message(error))
        if error.status_code >= 500 or error.status_code in (401, 403):
            return ProxyError(502, f"upstream {where} answered {error.status_code}: {message}", kind="server_error",
                              code="upstream_error")
        return ProxyError(error.status_code, f"upstream: {message}", kind="upstream_error", code="upstream_rejected")
    return ProxyError(502, f"upstream {where}: {connection.scrub(str(error))}", kind="server_error", code="upstream_error")


@asynccontextmanager
async def forward(connection: OpenAIConnection, body: dict) -> AsyncIterator:
    """Send `body` to upstream's chat completions; yields the open raw response
    (`await response.read()`, or `response.iter_bytes()` for a stream). Raises `ProxyError`."""
    extra = {key: value for key, value in body.items() if key not in _KNOWN}
    try:
        async with connection.client.chat.completions.with_streaming_response.create(
            model=body["model"], messages=body["messages"], stream=bool(body.get("stream")), extra_body=extra or None
        ) as response:
            yield response
    except openai.OpenAIError as error:
        raise upstream_error(connection, error) from None


__all__ = ["forward", "upstream_error"]
