"""A bounded load test: many concurrent requests over a few videos, through the real proxy, with
the official async client. Zero errors, every answer matched to its question, frames checked by
the fake upstream against the container's true times, cache hits for repeated videos; p50 / p95
latency printed (`pytest -s` shows them)."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest
from openai import AsyncOpenAI

from tests.selector.serve.conftest import VIDEO_NAMES, scrape
from tests.selector.serve.test_proxy import video_message


async def _load(url: str, requests: int, concurrency: int, first: int = 0) -> tuple[list[float], list[str]]:
    """Requests `first` .. `first + requests - 1`, each with its own question; their latencies and
    what went wrong."""
    client = AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=120)
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    problems: list[str] = []

    async def one(i: int) -> None:
        video, question = VIDEO_NAMES[i % len(VIDEO_NAMES)], f"Request {i}: what happens in {VIDEO_NAMES[i % 4]}?"
        async with gate:
            start = time.perf_counter()
            try:
                reply = await client.chat.completions.create(model="m", messages=video_message(video, question))
            except Exception as error:
                problems.append(f"{i}: {type(error).__name__}: {error}")
                return
            latencies.append(time.perf_counter() - start)
        answer = json.loads(reply.choices[0].message.content)
        record = reply.model_extra["frame_selection"]
        if answer["question"] != question or record["question"] != question:
            problems.append(f"{i}: answer for {answer['question']!r}")
        if answer["seconds"] != pytest.approx(record["seconds"], abs=0.05 + 1e-6):
            problems.append(f"{i}: told {answer['seconds']}, chose {record['seconds']}")

    try:
        await asyncio.gather(*(one(i) for i in range(first, first + requests)))
    finally:
        await client.close()
    return latencies, problems


def run_load(proxy, requests: int, concurrency: int) -> None:
    with proxy() as url:
        start = time.perf_counter()
        latencies, problems = asyncio.run(_load(url, requests, concurrency))
        wall = time.perf_counter() - start
        metrics = scrape(url)
    counts = {result: int(metrics[f'frame_selector_video_cache_total{{result="{result}"}}']) for result in ("hit", "miss")}
    batches = [int(metrics[name]) for name in ("frame_selector_batches_total", "frame_selector_batched_requests_total")]
    p50, p95 = np.percentile(latencies, [50, 95]) if latencies else (float("nan"),) * 2
    print(f"\nload: {requests} requests, concurrency {concurrency}, {len(VIDEO_NAMES)} videos: {len(problems)} errors, "
          f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, {requests / wall:.1f} req/s, cache hits {counts['hit']} "
          f"misses {counts['miss']}, {batches[0]} micro-batches (mean {batches[1] / max(batches[0], 1):.1f} requests)")
    assert problems == []
    assert len(latencies) == requests
    assert counts["miss"] == len(VIDEO_NAMES) and counts["hit"] == requests - len(VIDEO_NAMES)
    assert metrics['frame_selector_requests_total{kind="selected",status="200"}'] == requests


def test_load_200_requests_at_concurrency_16_over_4_videos(proxy):
    """About 20 s on 2 busy cores (tiny selector, 16 candidates, k=4, 64x64 videos)."""
    run_load(proxy, requests=200, concurrency=16)
