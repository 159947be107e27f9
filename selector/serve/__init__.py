"""`frame-selector serve`: an OpenAI-compatible proxy that selects a request's video frames with
the selector and forwards the rewritten request to any OpenAI-compatible video LLM server.

Modules: `settings` (options), `command` (the command), `app` (routes), `request` (reading and rewriting
chat bodies), `media` (where videos may come from), `cache` (per-video work kept by content
hash), `batching` (micro-batches on the selector's device), `upstream` (forwarding with the
`openai` client), `metrics` (Prometheus text, by prometheus_client), `errors`, `hosting` (running
it). `app`, `hosting` and `metrics` import the `serve` extra (aiohttp, prometheus_client); the rest
do not. See docs/serve.md.
"""

from .settings import ServeSettings

__all__ = ["ServeSettings"]
