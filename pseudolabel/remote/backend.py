"""What every remote backend shares: its connection, one error type, request sending, provenance.

The connection (client, key handling, loggable URL, scrubbing) is `selector.openai_client`'s;
this module adds the labelling policy on top:

- One retry budget per chat request, `max_retries`, whatever the fault. The client retries what
  it knows to be transient (connection errors, timeouts, 408, 409, 429 honouring `Retry-After`,
  5xx); a 200 whose reply is unusable (a body that is not JSON, no choices, no logprobs when they
  were asked for) it hands back as if it were fine, so `_chat` retries those itself, with the
  client's backoff (0.5 s doubling, at most 8 s, minus up to 25% jitter), from what is left of the
  same budget. Real gateways do all of these now and then, and a retry fixes them.
- Retries are counted (`retries_taken`), so the job can record per item how many it needed.
- What still fails becomes one `BackendError` line naming the endpoint and model (never the key)
  with its `pseudolabel.failures` reason, so the job can record the item as failed and go on.

Missing logprobs count as transient: a vLLM server drops them now and then under load, and a
spatial score read from the sampled token alone (0 or 1) would be a worse label than none. A
server that never returns them fails each item with reason `reply` once the budget is spent.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import openai

from selector.openai_client import DEFAULT_API_KEY_ENV, connect

from ..failures import ClassifiedError, Reason, http_reason

log = logging.getLogger(__name__)

R = TypeVar("R")

# What reading a 200 whose body is not JSON raises (a truncated body, a gateway's HTML page
# served as application/json, bytes that are not text).
_NOT_JSON = (json.JSONDecodeError, UnicodeDecodeError)

# The openai client's own backoff (its INITIAL_RETRY_DELAY and MAX_RETRY_DELAY), so that a reply
# fault waits as long as a 5xx would.
RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0


def backoff_seconds(retry: int, initial: float = RETRY_DELAY, cap: float = MAX_RETRY_DELAY) -> float:
    """The wait before retry number `retry` (0-based): `initial` doubling, at most `cap`, minus up
    to 25% jitter so that concurrent requests do not come back in step."""
    return min(initial * 2.0 ** min(retry, 60), cap) * (1 - 0.25 * random.random())


class BackendError(ClassifiedError):
    """A request that failed for good (after its retries): the job records the item as failed,
    with `reason`, and goes on. The message is one line, names the endpoint and model, never the key."""

    def __init__(self, message: str, *, status_code: int | None = None, reason: Reason = "server") -> None:
        super().__init__(" ".join(str(message).split()), reason=reason)
        self.status_code = status_code


def _reply_problem(completion: Any, wants_logprobs: bool) -> str | None:
    """What makes a chat reply unusable, or None. A body that is not a JSON object comes back from
    the client as a string (or a model without choices), so it lands here too."""
    choices = getattr(completion, "choices", None)
    if not choices:
        return "reply has no choices" if not isinstance(completion, str) else "reply body is not a JSON object"
    if wants_logprobs:
        logprobs = getattr(choices[0], "logprobs", None)
        if not getattr(logprobs, "content", None):
            return "reply has no logprobs"
    return None


class OpenAIBackend:
    """Holds the connection, retries, turns client errors into `BackendError`, writes provenance.

    Settings shared by every backend (each backend's constructor takes them as keywords):
    `base_url` (None: OpenAI), `api_key` (else `$api_key_env`; see `selector.openai_client`),
    `max_retries` (the retry budget of one request, see the module notes), `timeout` (seconds per
    attempt), `retry_delay` (the first wait before retrying an unusable reply, doubling after),
    and `extra_body`: keys added to every request body (server-specific options, e.g. vLLM's
    sampling extras).
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
        retry_delay: float = RETRY_DELAY,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        if retry_delay < 0:
            raise ValueError(f"retry_delay must be >= 0, not {retry_delay}")
        self._connection = connect(
            base_url, api_key=api_key, api_key_env=api_key_env, max_retries=max_retries, timeout=timeout,
            who=type(self).__name__,
        )
        self.model = model
        self.max_retries = self._connection.max_retries
        self.timeout = self._connection.timeout
        self.retry_delay = float(retry_delay)
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        self.base_url = self._connection.base_url
        self._retries_taken = 0
        self._retries_lock = threading.Lock()

    @property
    def client(self) -> openai.OpenAI:
        """The underlying client (the Batch API mode reuses it)."""
        return self._connection.client

    @property
    def retries_taken(self) -> int:
        """Retries of chat requests so far, of every kind (the client's and `_chat`'s own); a
        request that failed for good after transient faults counts its whole budget."""
        return self._retries_taken

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r})"

    def _settings(self) -> dict[str, Any]:
        return {
            "max_retries": self.max_retries, "timeout": self.timeout, "retry_delay": self.retry_delay,
            "extra_body": dict(self.extra_body),
        }

    def provenance(self) -> dict:
        return {
            "backend": "openai",
            "kind": self.kind,
            "base_url": self.base_url,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "settings": self._settings(),
        }

    def _where(self, what: str) -> str:
        return f"{what} at {self.base_url} (model {self.model!r})"

    def _call(self, what: str, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run one client call; the client retries, and what survives becomes a `BackendError`.

        Package-internal (`pseudolabel.batch_job` uses it too, for calls that are not safe to repeat
        on an unusable reply: a garbled answer to `batches.create` may still have created one, so
        a body that is not JSON fails here with reason `reply`, not retried). Raised `from None`:
        the client's own exception can carry the server's message verbatim, and that may echo the key.
        """
        where = self._where(what)
        scrub = self._connection.scrub
        try:
            return fn(*args, **kwargs)
        except openai.APITimeoutError:
            raise BackendError(
                f"{where}: timed out (timeout {self.timeout:g} s per attempt, max_retries={self.max_retries})",
                reason="timeout",
            ) from None
        except openai.APIConnectionError as err:
            cause = err.__cause__ if err.__cause__ is not None else err
            detail = scrub(f"{type(cause).__name__}: {cause}")[:200]
            raise BackendError(
                f"{where}: connection failed (max_retries={self.max_retries}): {detail}", reason="connection"
            ) from None
        except openai.APIStatusError as err:
            body = err.body
            detail = body.get("message") if isinstance(body, dict) and body.get("message") else err.message
            detail = scrub(str(detail))[:300]
            status = err.status_code
            retried = status in (408, 409, 429) or status >= 500
            tail = f" (max_retries={self.max_retries})" if retried else " (not retried)"
            raise BackendError(
                f"{where}: HTTP {status} {type(err).__name__}: {detail}{tail}", status_code=status,
                reason=http_reason(status),
            ) from None
        except openai.OpenAIError as err:
            detail = scrub(f"{type(err).__name__}: {err}")[:300]
            raise BackendError(f"{where}: {detail}", reason="reply") from None
        except _NOT_JSON as err:
            detail = scrub(f"{type(err).__name__}: {err}")[:200]
            raise BackendError(f"{where}: reply body is not valid JSON: {detail}", reason="reply") from None

    def _count_retries(self, n: int) -> None:
        if n:
            with self._retries_lock:
                self._retries_taken += n

    def _chat(self, body: Mapping[str, Any], what: str = "chat.completions") -> Any:
        """Send a chat-completions body as built by a `request_body` method and return a usable
        completion, retrying unusable replies (see the module notes); `max_retries` bounds all
        retries of the request together.

        Its standard keys go as arguments, the `extra_body` setting's keys through `extra_body`,
        so the JSON on the wire is the body itself.
        """
        extra = {k: body[k] for k in self.extra_body if k in body}
        standard = {k: v for k, v in body.items() if k not in extra}
        wants_logprobs = bool(body.get("logprobs"))
        retries = 0
        while True:
            client = self.client if retries == 0 else self.client.with_options(max_retries=self.max_retries - retries)
            try:
                raw = self._call(what, client.chat.completions.with_raw_response.create, **standard, extra_body=extra or None)
            except BackendError as error:
                if error.reason in ("timeout", "connection", "server", "rate_limit"):
                    retries = self.max_retries  # the client spent what was left of the budget
                self._count_retries(retries)
                raise
            retries += raw.retries_taken
            try:
                completion = raw.parse()
                problem = _reply_problem(completion, wants_logprobs)
            except _NOT_JSON as err:
                problem = f"reply body is not valid JSON ({type(err).__name__})"
            if problem is None:
                self._count_retries(retries)
                return completion
            if retries >= self.max_retries:
                self._count_retries(retries)
                raise BackendError(f"{self._where(what)}: {problem} (max_retries={self.max_retries})", reason="reply")
            delay = backoff_seconds(retries, self.retry_delay)
            log.info("%s: %s; retrying in %.2f s", self._where(what), problem, delay)
            time.sleep(delay)
            retries += 1

    def _with_extra(self, body: dict[str, Any]) -> dict[str, Any]:
        body.update(self.extra_body)
        return body


__all__ = ["BackendError", "OpenAIBackend", "backoff_seconds"]
