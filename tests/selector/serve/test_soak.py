"""A soak test: thousands of requests, each with its own question, through the real proxy in
front of the fake upstream (which keeps no record of them here), and the server's resident
memory read from its own `/metrics` after every round.

Memory may grow while the server warms up (first batches of each size, the allocator's arenas
reaching their working size); after that it must stay flat. Each reading is taken at rest, a
little more than the proxy's `--trim-interval` after a round: mid-round, resident memory also
holds the working set of the requests in flight and what they freed since the last trim. Issue
25's growth, 70 to 180 KB a request, adds up to several times the margin over the second half.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request

import pytest

from tests.selector.serve.conftest import VIDEO_NAMES
from tests.selector.serve.test_load import _load
from tests.support.fake_openai import FakeOpenAI

ROUNDS = 8  # after warm-up
ROUND = 200  # requests a round
WARM_UP = 400
CONCURRENCY = 24
FLAT = 0.03  # the end may be at most 3 % above the middle
TRIM_INTERVAL = 1.0  # the proxy's default


def _at_rest(url: str, name: str) -> int:
    """A gauge of the proxy's `/metrics`, read once the last round's memory can have been trimmed."""
    time.sleep(1.5 * TRIM_INTERVAL)
    return _metric(url, name)


def _metric(url: str, name: str) -> int:
    text = urllib.request.urlopen(url + "/metrics").read().decode()
    return int(float(re.search(rf"^{name} (\S+)$", text, re.M).group(1)))


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_resident_memory_stays_flat_over_thousands_of_distinct_questions(proxy, media_root):
    """2,000 requests at concurrency 24 over four videos (tiny selector, 16 candidates, k=4)."""
    start = time.perf_counter()
    with FakeOpenAI(videos=[str(media_root / name) for name in VIDEO_NAMES], lifetime=3600, record=False) as upstream, \
            proxy(upstream=upstream.base_url, trim_interval=TRIM_INTERVAL) as url:
        _, problems = asyncio.run(_load(url, WARM_UP, CONCURRENCY))
        resident = [_at_rest(url, "process_resident_memory_bytes")]
        for r in range(ROUNDS):
            _, failed = asyncio.run(_load(url, ROUND, CONCURRENCY, first=WARM_UP + r * ROUND))
            problems += failed
            resident.append(_at_rest(url, "process_resident_memory_bytes"))
        cached = _metric(url, "frame_selector_video_cache_bytes")
    served = WARM_UP + ROUNDS * ROUND
    middle, end = resident[ROUNDS // 2], resident[-1]
    per_request = (end - resident[0]) / (ROUNDS * ROUND)
    print(f"\nsoak: {served} requests in {time.perf_counter() - start:.0f} s; resident MiB after warm-up and each round "
          f"{[round(r / 2**20) for r in resident]}; end / middle {end / middle:.3f}; {per_request / 1024:+.1f} KiB a "
          f"request after warm-up; video cache {cached / 2**10:.0f} KiB")
    assert problems == []
    assert 0 < cached < 16 << 20
    assert end <= middle * (1 + FLAT), f"resident memory grew from {middle / 2**20:.0f} to {end / 2**20:.0f} MiB"
