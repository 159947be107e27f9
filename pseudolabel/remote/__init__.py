"""Pseudo-label scorers behind any OpenAI-compatible server (OpenAI itself, vLLM, ...).

Three backends, one per scorer interface of `pseudolabel.base`, one module each:

- `spatial.OpenAISpatialScorer`: one chat request per frame (the frame as a JPEG data URL and the
  question), one generated token, and p(True) / (p(True) + p(False)) read from that token's top
  logprobs. Needs a server that returns logprobs, e.g. vLLM serving Qwen2-VL.
- `captioner.OpenAICaptioner`: one short caption per frame.
- `temporal.OpenAITemporalSelector`: a text LLM (`gpt-4o-mini` by default) reads the numbered
  captions and the question and names the helpful frames as JSON; the reply is repaired
  defensively (`reply_parsing.parse_temporal_reply`), never trusted.

What they share is in `backend` (the connection, `BackendError`, provenance) and `frame_backend`
(one frame per request, concurrently); the client itself, the API key and its scrubbing are
`selector.openai_client`'s.

Retries (`backend`): one budget per request, `max_retries`, for every transient fault. The
official client retries connection errors, timeouts, 408, 409, 429 and 5xx with exponential
backoff (0.5 s doubling, at most 8 s, minus up to 25% jitter) or the server's
`retry-after(-ms)` when it gives one (up to two minutes); a 200 whose body is not JSON, has no
choices, or lacks the logprobs that were asked for, the backend retries itself with the same
backoff (first wait `retry_delay`) from what is left of the budget. Each backend counts its
retries (`retries_taken`) and the job records them per item. `timeout` is seconds per attempt.
What still fails is raised as `BackendError`: one line, naming the endpoint and model, never the
API key, with its `pseudolabel.failures` reason. The gaps left, on purpose: the backoff tops out
at 8 s, so the default `max_retries=5` waits about 15 s in all, enough for bursts but not for a
sustained rate limit (use more retries, lower `concurrency`, or the Batch API); a `retry-after`
over two minutes is not retried at all; `insufficient_quota` 429s are retried though they cannot
succeed; there is no overall deadline; and the Batch API calls (`pseudolabel.batch_job`) do not retry
an unusable reply, since a garbled answer to `batches.create` may still have created a batch.

The API key comes from the `api_key` argument or the environment variable `api_key_env`
(`OPENAI_API_KEY` by default); it stays inside the client. Provenance, log records and
`BackendError` messages never contain it (messages from the server are scrubbed of it too, since
some servers echo the key they were sent).
"""

from .backend import BackendError
from .captioner import CAPTION_PROMPT, CAPTION_PROMPT_VERSION, OpenAICaptioner
from .frame_backend import encode_jpeg_data_url
from .reply_parsing import parse_temporal_reply, temporal_result_from_completion, temporal_result_from_message
from .spatial import SPATIAL_PROMPT, SPATIAL_PROMPT_VERSION, OpenAISpatialScorer, score_from_top_logprobs
from .temporal import (
    TEMPORAL_JSON_SCHEMA,
    TEMPORAL_PROMPT,
    TEMPORAL_PROMPT_VERSION,
    TEMPORAL_SYSTEM_PROMPT,
    OpenAITemporalSelector,
)

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
    "SPATIAL_PROMPT",
    "SPATIAL_PROMPT_VERSION",
    "CAPTION_PROMPT",
    "CAPTION_PROMPT_VERSION",
    "TEMPORAL_SYSTEM_PROMPT",
    "TEMPORAL_PROMPT",
    "TEMPORAL_PROMPT_VERSION",
    "TEMPORAL_JSON_SCHEMA",
]
