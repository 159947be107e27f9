"""What every remote backend shares: its connection, one error type, request sending, provenance.

The connection (client, key handling, loggable URL, scrubbing) is `selector.openai_client`'s;
this module adds the labelling policy on top: a request that still fails after the client's
retries becomes one `BackendError` line naming the endpoint and model (never the key), so the
job can record the item as failed and go on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import openai

from selector.openai_client import DEFAULT_API_KEY_ENV, connect

R = TypeVar("R")


class BackendError(RuntimeError):
    """A request that failed for good (after the client's retries): the job records the item as
    failed and goes on. The message is one line, names the endpoint and model, never the key."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(" ".join(str(message).split()))
        self.status_code = status_code


class OpenAIBackend:
    """Holds the connection, turns client errors into `BackendError`, writes provenance.

    Settings shared by every backend (each backend's constructor takes them as keywords):
    `base_url` (None: OpenAI), `api_key` (else `$api_key_env`; see `selector.openai_client`),
    `max_retries` and `timeout` (seconds per attempt) of the client, and `extra_body`: keys
    added to every request body (server-specific options, e.g. vLLM's sampling extras).
    """

    kind: str = ""
    prompt_version: str = ""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = DEFAULT_API_KEY_ENV,
        max_retries: int = 5,
        timeout: float = 60.0,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        self._connection = connect(
            base_url, api_key=api_key, api_key_env=api_key_env, max_retries=max_retries, timeout=timeout,
            who=type(self).__name__,
        )
        self.model = model
        self.max_retries = self._connection.max_retries
        self.timeout = self._connection.timeout
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        self.base_url = self._connection.base_url

    @property
    def client(self) -> openai.OpenAI:
        """The underlying client (the Batch API mode reuses it)."""
        return self._connection.client

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
        scrub = self._connection.scrub
        try:
            return fn(*args, **kwargs)
        except openai.APITimeoutError:
            raise BackendError(
                f"{where}: timed out (timeout {self.timeout:g} s per attempt, max_retries={self.max_retries})"
            ) from None
        except openai.APIConnectionError as err:
            cause = err.__cause__ if err.__cause__ is not None else err
            detail = scrub(f"{type(cause).__name__}: {cause}")[:200]
            raise BackendError(f"{where}: connection failed (max_retries={self.max_retries}): {detail}") from None
        except openai.APIStatusError as err:
            body = err.body
            detail = body.get("message") if isinstance(body, dict) and body.get("message") else err.message
            detail = scrub(str(detail))[:300]
            status = err.status_code
            retried = status in (408, 409, 429) or status >= 500
            tail = f" (max_retries={self.max_retries})" if retried else " (not retried)"
            raise BackendError(
                f"{where}: HTTP {status} {type(err).__name__}: {detail}{tail}", status_code=status
            ) from None
        except openai.OpenAIError as err:
            detail = scrub(f"{type(err).__name__}: {err}")[:300]
            raise BackendError(f"{where}: {detail}") from None

    def _chat(self, body: Mapping[str, Any], what: str = "chat.completions") -> Any:
        """Send a chat-completions body as built by a `request_body` method: its standard keys go
        as arguments, the `extra_body` setting's keys through `extra_body`, so the JSON on the wire
        is the body itself."""
        extra = {k: body[k] for k in self.extra_body if k in body}
        standard = {k: v for k, v in body.items() if k not in extra}
        completion = self._call(what, self.client.chat.completions.create, **standard, extra_body=extra or None)
        if not getattr(completion, "choices", None):
            raise BackendError(f"{what} at {self.base_url} (model {self.model!r}): reply has no choices")
        return completion

    def _with_extra(self, body: dict[str, Any]) -> dict[str, Any]:
        body.update(self.extra_body)
        return body


__all__ = ["BackendError", "OpenAIBackend"]
