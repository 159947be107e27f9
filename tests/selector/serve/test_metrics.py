"""`/metrics` as Prometheus reads it: the proxy's series keep their names, types, labels and help
(dashboards and alerts are written against them), parsed back with prometheus_client's own parser,
and each proxy counts in its own registry."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from selector.serve.metrics import BUCKETS, STAGES, Metrics

# name as written (counters with `_total`), type, label names, help
SERIES = {
    "frame_selector_requests_total": ("counter", {"kind", "status"}, "Chat completion requests by kind and HTTP status."),
    "frame_selector_stage_seconds": ("histogram", {"stage"}, "Time per request in each stage."),
    "frame_selector_video_cache_total": ("counter", {"result"},
                                         "Requests whose video was cached or being decoded (hit) or not."),
    "frame_selector_batches_total": ("counter", set(), "Micro-batches run on the selector."),
    "frame_selector_batched_requests_total": ("counter", set(), "Requests scored in micro-batches."),
    "frame_selector_in_flight": ("gauge", set(), "Chat requests being served."),
    "process_resident_memory_bytes": ("gauge", set(), "Resident memory size in bytes."),
    "frame_selector_video_cache_bytes": ("gauge", set(), "Bytes held by the video cache (prefixes, frame states, clocks)."),
}


def families(metrics: Metrics) -> dict:
    return {family.name: family for family in text_string_to_metric_families(metrics.render().decode())}


def written_name(family) -> str:
    """The parser drops a counter's `_total`; the text format writes it."""
    return family.name + "_total" if family.type == "counter" else family.name


def test_series_keep_their_names_types_labels_and_help():
    metrics = Metrics(lambda: (3, 7), lambda: 12345)
    metrics.in_flight = 2
    metrics.request("selected", 200, {"decode": 0.004, "total": 0.3, "not-a-stage": 1.0})
    metrics.request("passthrough", 502, {"upstream": 0.2, "total": 0.2})
    metrics.cache_result(hit=True)
    found = {written_name(family): family for family in families(metrics).values()}
    for name, (kind, labels, help_text) in SERIES.items():
        family = found[name]
        assert (family.type, family.documentation) == (kind, help_text), name
        assert all(set(sample.labels) - {"le"} == labels for sample in family.samples), name
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in found.values() for sample in family.samples}
    assert samples[("frame_selector_requests_total", (("kind", "selected"), ("status", "200")))] == 1
    assert samples[("frame_selector_requests_total", (("kind", "passthrough"), ("status", "502")))] == 1
    assert samples[("frame_selector_video_cache_total", (("result", "hit"),))] == 1
    assert samples[("frame_selector_video_cache_total", (("result", "miss"),))] == 0  # written before the first
    assert samples[("frame_selector_batches_total", ())] == 3
    assert samples[("frame_selector_batched_requests_total", ())] == 7
    assert samples[("frame_selector_in_flight", ())] == 2
    assert samples[("frame_selector_video_cache_bytes", ())] == 12345
    assert samples[("process_resident_memory_bytes", ())] > 1 << 20
    stages = found["frame_selector_stage_seconds"]
    assert {sample.labels["stage"] for sample in stages.samples} == set(STAGES)  # every stage, from the start
    total = {sample.labels["le"]: sample.value for sample in stages.samples
             if sample.name.endswith("_bucket") and sample.labels["stage"] == "total"}
    assert len(total) == len(BUCKETS) + 1 and total["0.25"] == 1 and total["0.5"] == 2 and total["+Inf"] == 2
    assert samples[("frame_selector_stage_seconds_count", (("stage", "decode"),))] == 1
    assert samples[("frame_selector_stage_seconds_sum", (("stage", "decode"),))] == 0.004


def test_each_proxy_counts_in_its_own_registry():
    first, second = Metrics(lambda: (0, 0), lambda: 0), Metrics(lambda: (1, 1), lambda: 0)
    first.cache_result(hit=False)
    assert first.registry is not second.registry
    hits = [{sample.labels["result"]: sample.value for sample in families(m)["frame_selector_video_cache"].samples
             if sample.name.endswith("_total")} for m in (first, second)]
    assert hits == [{"hit": 0, "miss": 1}, {"hit": 0, "miss": 0}]
