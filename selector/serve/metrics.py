"""`GET /metrics`: counters and latency histograms in Prometheus' text format (0.0.4), written
by hand: a dozen series do not need a client library, and the proxy adds no dependency for them.

Series:

* `frame_selector_requests_total{kind, status}`: chat requests by kind (`selected`: with a
  video; `passthrough`: without) and HTTP status;
* `frame_selector_stage_seconds{stage}`: histogram per stage: `decode` (hash, probe, decode of
  the candidates), `select` (waiting for and running the batch), `handoff` (decoding and encoding
  the chosen frames), `upstream` (until upstream's answer is complete), `total`;
* `frame_selector_video_cache_total{result}`: `hit` (no decode of its own) or `miss`;
* `frame_selector_batches_total`, `frame_selector_batched_requests_total`: their quotient is the
  mean micro-batch size;
* `frame_selector_in_flight`: chat requests being served now;
* `process_resident_memory_bytes`: the server process's resident memory (the name Prometheus'
  own process collector uses, so existing dashboards and alerts find it), read when scraped;
* `frame_selector_video_cache_bytes`: what the video cache holds (its key/value prefixes,
  frame states and frame clocks). With the first it tells an operator whether growth is the
  cache doing its job (bounded by `--cache-videos`) or something else, before the kernel's
  out-of-memory killer does.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Callable

from ..hardware import rss_bytes

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
STAGES = ("decode", "select", "handoff", "upstream", "total")


class Histogram:
    """Cumulative-bucket histogram of seconds."""

    def __init__(self, buckets: tuple[float, ...] = BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.sum += seconds
        self.count += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out, running = [], 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts):
            running += count
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            out.append(f'{name}_bucket{{{labels},le="{le}"}} {running}')
        out.append(f"{name}_sum{{{labels}}} {self.sum:.6f}")
        out.append(f"{name}_count{{{labels}}} {self.count}")
        return out


class Metrics:
    """The proxy's counters (thread-safe; `render` reads gauges through callables)."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.cache: Counter[str] = Counter({"hit": 0, "miss": 0})
        self.stages = {stage: Histogram() for stage in STAGES}
        self.in_flight = 0
        self._lock = threading.Lock()

    def request(self, kind: str, status: int, stages: dict[str, float]) -> None:
        with self._lock:
            self.requests[(kind, int(status))] += 1
            for stage, seconds in stages.items():
                if stage in self.stages:
                    self.stages[stage].observe(seconds)

    def cache_result(self, hit: bool) -> None:
        with self._lock:
            self.cache["hit" if hit else "miss"] += 1

    def render(self, batches: Callable[[], tuple[int, int]], cache_bytes: Callable[[], int]) -> str:
        """The exposition text; `batches()` gives (batches run, requests in them), `cache_bytes()`
        the video cache's size."""
        runs, batched = batches()
        cached, resident = cache_bytes(), rss_bytes()
        with self._lock:
            lines = ["# HELP frame_selector_requests_total Chat completion requests by kind and HTTP status.",
                     "# TYPE frame_selector_requests_total counter"]
            lines += [f'frame_selector_requests_total{{kind="{k}",status="{s}"}} {n}' for (k, s), n in sorted(self.requests.items())]
            lines += ["# HELP frame_selector_stage_seconds Time per request in each stage.",
                      "# TYPE frame_selector_stage_seconds histogram"]
            for stage, histogram in self.stages.items():
                lines += histogram.lines("frame_selector_stage_seconds", f'stage="{stage}"')
            lines += ["# HELP frame_selector_video_cache_total Requests whose video was cached or being decoded (hit) or not.",
                      "# TYPE frame_selector_video_cache_total counter"]
            lines += [f'frame_selector_video_cache_total{{result="{r}"}} {n}' for r, n in sorted(self.cache.items())]
            lines += ["# HELP frame_selector_batches_total Micro-batches run on the selector.",
                      "# TYPE frame_selector_batches_total counter", f"frame_selector_batches_total {runs}",
                      "# HELP frame_selector_batched_requests_total Requests scored in micro-batches.",
                      "# TYPE frame_selector_batched_requests_total counter", f"frame_selector_batched_requests_total {batched}",
                      "# HELP frame_selector_in_flight Chat requests being served.",
                      "# TYPE frame_selector_in_flight gauge", f"frame_selector_in_flight {self.in_flight}",
                      "# HELP process_resident_memory_bytes Resident memory size in bytes.",
                      "# TYPE process_resident_memory_bytes gauge", f"process_resident_memory_bytes {resident}",
                      "# HELP frame_selector_video_cache_bytes Bytes held by the video cache (prefixes, frame states, clocks).",
                      "# TYPE frame_selector_video_cache_bytes gauge", f"frame_selector_video_cache_bytes {cached}"]
        return "\n".join(lines) + "\n"


__all__ = ["BUCKETS", "STAGES", "Histogram", "Metrics"]
