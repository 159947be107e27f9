"""`GET /metrics`: the proxy's counters, gauges and latency histograms, kept in a
`prometheus_client` registry of its own and written in Prometheus' text format (0.0.4).

Each `Metrics` has its own `CollectorRegistry`, never the library's global one, so several proxies
(or tests) in one process count apart and never clash over a metric name.

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
* `process_resident_memory_bytes` and the rest of the standard `process_*` series (CPU seconds,
  open file descriptors, ...), from prometheus_client's process collector, read when scraped;
* `frame_selector_video_cache_bytes`: what the video cache holds (its key/value prefixes,
  frame states and frame clocks). With the resident memory it tells an operator whether growth
  is the cache doing its job (bounded by `--cache-videos`) or something else, before the
  kernel's out-of-memory killer does.

prometheus_client also writes a `*_created` series (when counting began) beside each counter and
histogram, as it does by default.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import (CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, Counter, Gauge, Histogram,
                               ProcessCollector, generate_latest)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from ..hardware import rss_bytes

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
STAGES = ("decode", "select", "handoff", "upstream", "total")
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""What `Metrics.render` writes: the text format Prometheus scrapes by default."""


class _BatchCounts(Collector):
    """The micro-batcher's two counts, read from it at each scrape: the batcher keeps them for
    its own use, and copying them into counters after every batch would only duplicate them."""

    def __init__(self, batches: Callable[[], tuple[int, int]]) -> None:
        self.batches = batches

    def collect(self) -> Iterator[Metric]:
        runs, batched = self.batches()
        yield CounterMetricFamily("frame_selector_batches", "Micro-batches run on the selector.", value=runs)
        yield CounterMetricFamily("frame_selector_batched_requests", "Requests scored in micro-batches.", value=batched)


def _resident_memory(registry: CollectorRegistry) -> None:
    """`process_resident_memory_bytes` (with the other `process_*` series): the standard process
    collector where there is a `/proc`; elsewhere (macOS) the same gauge read by
    `selector.hardware.rss_bytes` (psutil), so the series dashboards and alerts use is always there."""
    if os.path.isdir("/proc/self"):
        ProcessCollector(registry=registry)
        return
    Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", registry=registry).set_function(rss_bytes)


class Metrics:
    """The proxy's metrics in a registry of their own. `batches()` gives (batches run, requests
    in them) and `cache_bytes()` the video cache's size; both are read when scraped.

    `in_flight` is a plain count the proxy raises and lowers on its event loop (it also turns
    requests away over `--max-in-flight`); the gauge reads it."""

    def __init__(self, batches: Callable[[], tuple[int, int]], cache_bytes: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.in_flight = 0
        self._requests = Counter("frame_selector_requests", "Chat completion requests by kind and HTTP status.",
                                 ["kind", "status"], registry=self.registry)
        self._stages = Histogram("frame_selector_stage_seconds", "Time per request in each stage.", ["stage"],
                                 buckets=BUCKETS, registry=self.registry)
        self._cache = Counter("frame_selector_video_cache",
                              "Requests whose video was cached or being decoded (hit) or not.", ["result"],
                              registry=self.registry)
        for stage in STAGES:  # every stage and result is written from the start, at zero
            self._stages.labels(stage)
        for result in ("hit", "miss"):
            self._cache.labels(result)
        self.registry.register(_BatchCounts(batches))
        Gauge("frame_selector_in_flight", "Chat requests being served.",
              registry=self.registry).set_function(lambda: self.in_flight)
        _resident_memory(self.registry)
        Gauge("frame_selector_video_cache_bytes", "Bytes held by the video cache (prefixes, frame states, clocks).",
              registry=self.registry).set_function(cache_bytes)

    def request(self, kind: str, status: int, stages: dict[str, float]) -> None:
        """Count one answered chat request and the seconds it spent in each known stage."""
        self._requests.labels(kind, str(int(status))).inc()
        for stage, seconds in stages.items():
            if stage in STAGES:
                self._stages.labels(stage).observe(seconds)

    def cache_result(self, hit: bool) -> None:
        self._cache.labels("hit" if hit else "miss").inc()

    def render(self) -> bytes:
        """The exposition text (UTF-8), of type `CONTENT_TYPE`."""
        return generate_latest(self.registry)


__all__ = ["BUCKETS", "STAGES", "CONTENT_TYPE", "Metrics"]
