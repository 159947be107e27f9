"""The proxy's HTTP routes on aiohttp.web.

Why aiohttp: it is already pinned in the project's lock (with every dependency), it is mature and
well kept, and it is an async HTTP server and client in one package: the server for the routes,
the client for `--allow-url-prefix` downloads, with no ASGI server to add beside it.

Routes:

* `POST /v1/chat/completions`: with a video, the frames are selected and the request rewritten by
  the library's hand-off (`openai_messages` or `vllm_video_messages`), then forwarded; without
  one, forwarded unchanged. Streaming passes through. The answer is upstream's plus
  `frame_selection` (a JSON field on non-streamed answers) and the `X-Frame-Selection` header
  (always): what was chosen, so a client can log it.
* `GET /health`: liveness and configuration (never needs the token).
* `GET /metrics`: Prometheus text (`selector.serve.metrics`).

Every failure is OpenAI's error JSON with a one-line message; a request never takes the server
down. One structured (JSON) log line per request, on the `selector.serve` logger.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout, web

from ..api import FrameSelector
from ..candidates import CandidatePlan
from ..handoff import hand_off
from ..openai_client import OpenAIConnection, connect
from ..video import VideoError
from .batching import Chosen, SelectionBatcher
from .cache import PreparedVideo, VideoCache
from .errors import ProxyError, bad_request, too_large
from .media import MediaPolicy
from .memory import trim
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import Metrics
from .request import ChatCall, SelectionSettings, parse_chat, rewritten
from .settings import ServeSettings
from .upstream import forward

log = logging.getLogger("selector.serve")

HEADER = "X-Frame-Selection"


def _error_response(error: ProxyError) -> web.Response:
    return web.json_response(error.body(), status=error.status, headers=error.headers)


def _describe(reference: str) -> str:
    """A video reference as an error message may show it (a data URL's bytes are not echoed)."""
    return "(data URL)" if reference.startswith("data:") else repr(reference[:200])


def _selection_record(call: ChatCall, video: PreparedVideo, chosen: Chosen, route: str) -> dict:
    """The `frame_selection` extension: what was chosen, by which settings, for which question."""
    sel = chosen.selection
    return {
        "question": sel.question,
        "options": sel.options,
        "video": video.digest,
        "k": sel.k,
        "rule": sel.settings.get("rule"),
        "delta": sel.settings.get("delta"),
        "candidates": len(sel.candidates),
        "plan": call.settings.candidates.to_dict(),
        "indices": sel.indices,
        "seconds": [round(s, 6) for s in sel.seconds],
        "scores": [round(float(f.score), 6) for f in sel.frames],
        "substituted": sel.notes.get("substituted", []),
        "route": route,
        "cache": "hit" if video.hit else "miss",
        "batch": chosen.batch,
    }


def _header(record: dict) -> str:
    keys = ("k", "rule", "indices", "seconds", "scores", "cache")
    return json.dumps({key: record[key] for key in keys}, separators=(",", ":"))


class Proxy:
    """The proxy's state: selector, cache, batcher, upstream connection, limits and counters."""

    def __init__(self, selector: FrameSelector, settings: ServeSettings, connection: OpenAIConnection | None = None) -> None:
        settings.check()
        self.settings = settings
        self.selector = selector
        self.defaults = SelectionSettings(settings.k, CandidatePlan.parse(settings.candidates), settings.rule)
        self.media = MediaPolicy.build(settings.media_root, settings.allow_url_prefix, settings.max_bytes)
        self.connection = connection or connect(
            settings.upstream, api_key_env=settings.upstream_key_env, max_retries=settings.upstream_retries,
            timeout=settings.upstream_timeout, who="frame-selector serve", asynchronous=True)
        self.token = None
        if settings.token_env:
            self.token = os.environ.get(settings.token_env) or None
            if self.token is None:
                raise ValueError(f"--token-env {settings.token_env}: the variable is not set or empty")
        self.cache = VideoCache(selector, settings.cache_videos, settings.max_duration)
        self.batcher = SelectionBatcher(selector, self.cache, settings.max_batch, settings.batch_window_ms / 1000)
        self.metrics = Metrics(lambda: (self.batcher.batches, self.batcher.batched), self.cache.nbytes)
        self.decoder = ThreadPoolExecutor(settings.decode_threads, thread_name_prefix="frame-selector-decode")
        self.session: ClientSession | None = None
        self._trimmer: asyncio.Task | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self, app: web.Application) -> None:
        await self.batcher.start()
        if self.settings.trim_interval > 0:
            self._trimmer = asyncio.create_task(self._trim(self.settings.trim_interval), name="frame-selector-trim")
        if self.media.url_prefixes:
            self.session = ClientSession(timeout=ClientTimeout(total=self.settings.upstream_timeout))

    async def stop(self, app: web.Application) -> None:
        if self._trimmer is not None:
            self._trimmer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._trimmer
        await self.batcher.close()
        if self.session is not None:
            await self.session.close()
        await self.connection.client.close()
        self.decoder.shutdown(wait=True)

    async def _trim(self, interval: float) -> None:
        """Every `interval` seconds, give the pages requests freed back to the kernel (see
        `selector.serve.memory`); off the event loop, which must not wait for it."""
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(trim)

    # --- routes ----------------------------------------------------------------------------

    @web.middleware
    async def authorize(self, request: web.Request, handler):
        if self.token is not None and request.path != "/health":
            sent = request.headers.get("Authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {self.token}".encode()):
                return _error_response(ProxyError(401, "missing or wrong bearer token for this proxy",
                                                  code="invalid_api_key"))
        return await handler(request)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({
            "status": "ok",
            "selector": Path(self.selector.name).name,
            "upstream": self.connection.base_url,
            "route": self.settings.route,
            "cached_videos": len(self.cache),
            "in_flight": self.metrics.in_flight,
        })

    async def metrics_text(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(),
                            headers={"Content-Type": METRICS_CONTENT_TYPE, "Cache-Control": "no-store"})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        line: dict = {"id": request.headers.get("X-Request-Id", uuid.uuid4().hex[:12]), "path": request.path,
                      "kind": "passthrough", "stages": {}}
        if self.metrics.in_flight >= self.settings.max_in_flight:
            response = _error_response(ProxyError(
                429, f"the proxy is serving {self.settings.max_in_flight} requests (--max-in-flight); retry shortly",
                kind="rate_limit_error", code="too_many_requests", headers={"Retry-After": "1"}))
            return self._finish(line, response, started)
        self.metrics.in_flight += 1
        try:
            response = await self._chat(request, line)
        except ProxyError as error:
            line["error"] = error.message
            response = _error_response(error)
        except Exception as error:  # a bug: the request fails, the server stays up
            log.exception("request %s failed", line["id"])
            line["error"] = f"{type(error).__name__}: {self.connection.scrub(str(error))}"
            response = _error_response(ProxyError(500, f"internal error in the proxy (request {line['id']})",
                                                  kind="server_error", code="internal_error"))
        finally:
            self.metrics.in_flight -= 1
        return self._finish(line, response, started)

    def _finish(self, line: dict, response: web.StreamResponse, started: float) -> web.StreamResponse:
        stages = line.pop("stages")
        stages["total"] = time.perf_counter() - started
        self.metrics.request(line["kind"], response.status, stages)
        line = {"event": "chat", **line, "status": response.status, "ms": {k: round(v * 1000, 1) for k, v in stages.items()}}
        log.info(json.dumps(line, separators=(",", ":")))
        return response

    async def _read(self, request: web.Request) -> ChatCall:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise too_large(f"request body over {self.settings.max_body_mb:g} MB (--max-body-mb)", code="body_too_large") from None
        try:
            body = json.loads(raw)
        except ValueError as error:
            raise bad_request(f"the request body is not JSON: {error}", code="malformed_json") from None
        return parse_chat(body, self.defaults)

    async def _chat(self, request: web.Request, line: dict) -> web.StreamResponse:
        call = await self._read(request)
        line.update(model=call.body.get("model"), stream=call.stream)
        if call.video is None:
            return await self._forward(request, call.body, None, line)
        line["kind"] = "selected"
        body, record = await self._select(call, line)
        return await self._forward(request, body, record, line)

    async def _select(self, call: ChatCall, line: dict) -> tuple[dict, dict]:
        """Open, decode, select and hand off the request's video; the body to forward and the
        record of the choice."""
        stages, loop = line["stages"], asyncio.get_running_loop()
        settings = call.settings
        mark = time.perf_counter()
        video = await self.media.open(call.video, self.session)
        try:
            try:
                prepared = await self.cache.prepare(video.path, settings.candidates, settings.k, self.decoder)
            except VideoError as error:
                raise bad_request(f"video {_describe(call.video)} cannot be read: {error.reason}", code="bad_video") from None
            except ValueError as error:
                raise bad_request(str(error)) from None
            self.metrics.cache_result(prepared.hit)
            line.update(video=prepared.digest[:16], cache="hit" if prepared.hit else "miss", k=settings.k)
            stages["decode"], mark = time.perf_counter() - mark, time.perf_counter()
            try:
                chosen = await self.batcher.select(prepared, call.question, settings)
            except ValueError as error:
                raise bad_request(str(error)) from None
            line["batch"] = chosen.batch
            stages["select"], mark = time.perf_counter() - mark, time.perf_counter()
            try:
                handoff = await loop.run_in_executor(
                    self.decoder,
                    lambda: hand_off(chosen.selection, self.settings.route, info=prepared.info, max_side=self.settings.max_side))
            except VideoError as error:
                raise bad_request(f"video {_describe(call.video)} cannot be read: {error.reason}", code="bad_video") from None
            stages["handoff"] = time.perf_counter() - mark
        finally:
            video.discard()
        record = _selection_record(call, prepared, chosen, self.settings.route)
        return rewritten(call, handoff.messages[-1]["content"], handoff.extra_body), record

    async def _forward(self, request: web.Request, body: dict, record: dict | None, line: dict) -> web.StreamResponse:
        mark = time.perf_counter()
        headers = {HEADER: _header(record)} if record else {}
        try:
            async with forward(self.connection, body) as upstream:
                if body.get("stream"):
                    return await self._stream(request, upstream, headers, line)
                raw = await upstream.read()
        finally:
            line["stages"]["upstream"] = time.perf_counter() - mark
        try:
            answer = json.loads(raw)
        except ValueError:
            raise ProxyError(502, f"upstream {self.connection.base_url} answered with something other than JSON",
                             kind="server_error", code="upstream_error") from None
        if record and isinstance(answer, dict):
            answer["frame_selection"] = record
        return web.json_response(answer, headers=headers)

    async def _stream(self, request: web.Request, upstream, headers: dict, line: dict) -> web.StreamResponse:
        """Upstream's server-sent events, byte for byte. Once the first byte is out the status is
        sent: a failure later ends the stream early (and is logged)."""
        response = web.StreamResponse(headers={"Content-Type": upstream.headers.get("content-type", "text/event-stream"),
                                               "Cache-Control": "no-cache", **headers})
        await response.prepare(request)
        try:
            async for chunk in upstream.iter_bytes():
                await response.write(chunk)
            await response.write_eof()
        except Exception as error:
            line["error"] = f"stream cut: {type(error).__name__}: {self.connection.scrub(str(error))}"
        return response


PROXY = web.AppKey("proxy", Proxy)


def build_app(selector: FrameSelector, settings: ServeSettings, connection: OpenAIConnection | None = None) -> web.Application:
    """The proxy as an aiohttp application (`selector.serve.hosting` runs it). `connection`:
    an upstream connection from `connect(asynchronous=True)`, else one made from the settings."""
    proxy = Proxy(selector, settings, connection)
    app = web.Application(client_max_size=settings.max_bytes, middlewares=[proxy.authorize])
    app[PROXY] = proxy
    app.router.add_post("/v1/chat/completions", proxy.chat)
    app.router.add_get("/health", proxy.health)
    app.router.add_get("/metrics", proxy.metrics_text)
    app.on_startup.append(proxy.start)
    app.on_cleanup.append(proxy.stop)
    return app


__all__ = ["HEADER", "PROXY", "Proxy", "build_app"]
