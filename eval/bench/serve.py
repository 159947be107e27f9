"""The serving proxy under concurrent load: micro-batching against one request at a time, and the
video cache against none, side by side.

`frame-selector serve` runs on loopback in front of a stub upstream that answers at once (so the
proxy's own work is measured: decode, selection, hand-off, HTTP), with a random selector of the
chosen size. The official `openai` async client sends `requests` chat requests, `concurrency` at a
time, round-robin over `videos` generated clips, each with its own question. Four runs:

* batched + cache: the default server;
* one at a time + cache: `--max-batch 1` (each request's questions scored alone);
* batched, no cache: `--cache-videos 0` (each request decodes and encodes its video);
* one at a time, no cache.

Before each run a request on a clip that is not measured warms the server up.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from selector.cli_support import UsageError, at_least, check_device
from selector.hardware import rss_bytes

from .painted import painted_video
from .report import Report, ratio

RUNS = {  # name: (max_batch, cache_videos)
    "batched + cache": (32, 32),
    "one at a time + cache": (1, 32),
    "batched, no cache": (32, 0),
    "one at a time, no cache": (1, 0),
}


@dataclass
class Settings:
    """Options of `bench serve`."""

    preset: Literal["tiny", "small", "real"] = field(default="tiny", metadata={"help": "selector size (default tiny)"})
    requests: int = field(default=96, metadata={"help": "requests per run (default 96)"})
    concurrency: int = field(default=16, metadata={"help": "requests in flight at once (default 16)"})
    videos: int = field(default=4, metadata={"help": "distinct clips, requests go round-robin over them (default 4)"})
    seconds: float = field(default=4.0, metadata={"help": "length of each generated clip (default 4)"})
    candidates: int = 16
    k: int = 4
    device: str | None = field(default=None, metadata={"help": "cpu or cuda (default: cuda if available)"})


def _stub_upstream():
    """An aiohttp app answering every chat request at once with a fixed completion."""
    from aiohttp import web

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": body.get("model", ""),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    app = web.Application(client_max_size=256 << 20)
    app.router.add_post("/v1/chat/completions", chat)
    return app


async def _drive(url: str, clips: list[str], requests: int, concurrency: int, first: int = 0) -> list[float]:
    """Latencies of chat requests `first` .. `first + requests - 1`, each with its own question."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(i: int) -> None:
        content = [{"type": "video_url", "video_url": {"url": clips[i % len(clips)]}},
                   {"type": "text", "text": f"Question {i}: what happens after the cut?"}]
        async with gate:
            start = time.perf_counter()
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": content}])
            latencies.append(time.perf_counter() - start)

    try:
        await asyncio.gather(*(one(i) for i in range(first, first + requests)))
    finally:
        await client.close()
    return latencies


def _resident_at_rest(trim_interval: float) -> int:
    """This process's resident memory once the proxy's memory trim (`--trim-interval`) has run
    after the last request: read mid-run, it swings with the requests in flight by more than a
    leak of tens of KiB a request adds over a run this short."""
    time.sleep(1.5 * trim_interval)
    return rss_bytes()


def _measure(url: str, clips: list[str], requests: int, concurrency: int, trim_interval: float) -> tuple[list[float], float, int]:
    """Run `requests` requests in two halves; their latencies, the seconds spent serving them
    (the pause between the halves left out) and the growth of resident memory over the second
    half, both ends read at rest."""
    half = requests // 2
    start = time.perf_counter()
    latencies = asyncio.run(_drive(url, clips, half, concurrency))
    wall = time.perf_counter() - start
    middle = _resident_at_rest(trim_interval)
    start = time.perf_counter()
    latencies += asyncio.run(_drive(url, clips, requests - half, concurrency, first=half))
    wall += time.perf_counter() - start
    return latencies, wall, _resident_at_rest(trim_interval) - middle


def run(args: Settings, report: Report) -> None:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        from selector.serve.settings import INSTALL_HINT

        raise UsageError(INSTALL_HINT) from None
    import shutil
    import tempfile
    from pathlib import Path

    from selector.cli_support import torch_dtype
    from selector.serve import ServeSettings
    from selector.serve.app import PROXY, build_app
    from selector.serve.hosting import ServerThread

    from .models import build_selector, describe

    at_least(args.requests, 2, "--requests")  # the memory figure compares the two halves of a run
    for name, value in (("--concurrency", args.concurrency), ("--videos", args.videos),
                        ("--candidates", args.candidates), ("--k", args.k)):
        at_least(value, 1, name)
    device = check_device(args.device)
    selector, _ = build_selector(args.preset, device, torch_dtype("bfloat16" if device.startswith("cuda") else "float32"),
                                 max_candidates=max(args.candidates, 8))
    paths = [painted_video(args.seconds, 160, 96, 24, progress=False, seed=seed) for seed in range(args.videos + 1)]
    report.note(f"model: {args.preset}, {describe(selector)}; device {device}")
    report.note(f"{args.requests} requests, {args.concurrency} at a time, over {args.videos} clips of {args.seconds:g} s "
                f"(160x96, 24 fps); {args.candidates} candidates, k={args.k}; stub upstream answering at once")
    results = {}
    with tempfile.TemporaryDirectory() as root, ServerThread(_stub_upstream()) as upstream:
        for path in paths:  # copies: a symlink out of the media root is refused
            shutil.copy(path, Path(root) / path.name)
        clips = [path.name for path in paths]
        for name, (max_batch, cache_videos) in RUNS.items():
            settings = ServeSettings(selector=selector.name, upstream=upstream.url + "/v1", media_root=root, k=args.k,
                                     candidates=str(args.candidates), max_batch=max_batch, cache_videos=cache_videos,
                                     max_in_flight=max(64, args.concurrency), max_side=160)
            app = build_app(selector, settings)
            with ServerThread(app) as server:
                asyncio.run(_drive(server.url, clips[-1:], 1, 1))  # warm-up on the clip not measured
                latencies, wall, grown = _measure(server.url, clips[:-1], args.requests, args.concurrency,
                                                  settings.trim_interval)
                state = app[PROXY]
                batches, batched = state.batcher.batches - 1, state.batcher.batched - 1
                hits = int(state.metrics.registry.get_sample_value("frame_selector_video_cache_total", {"result": "hit"}))
            results[name] = {"rps": args.requests / wall, "p50": float(np.percentile(latencies, 50)),
                             "p95": float(np.percentile(latencies, 95)), "batch": batched / max(batches, 1), "hits": hits,
                             "kib_per_request": grown / 1024 / (args.requests - args.requests // 2)}
    base = results["one at a time, no cache"]["rps"]
    rows = [[name, r["rps"], r["p50"] * 1000, r["p95"] * 1000, r["batch"], r["hits"], r["kib_per_request"],
             ratio(r["rps"], base)] for name, r in results.items()]
    report.table(f"Requests per second through the proxy ({args.preset} selector, {device})",
                 ["run", "requests / s", "p50 ms", "p95 ms", "mean batch", "cache hits", "KiB / request",
                  "vs one at a time, no cache"], rows)
    report.note("KiB / request: growth of this process's resident memory (proxy, client and stub upstream) over the "
                "second half of a run, read at rest after each half, per request; about 0 when nothing is kept per "
                "request (tests/selector/serve/test_soak.py is the longer check)")
    batching = ratio(results["batched + cache"]["rps"], results["one at a time + cache"]["rps"])
    caching = ratio(results["batched + cache"]["rps"], results["batched, no cache"]["rps"])
    report.note(f"\nmicro-batching vs one at a time (with the cache): {batching}; "
                f"video cache vs none (micro-batched): {caching}")
    report.data["results"] = results


__all__ = ["RUNS", "Settings", "run"]
