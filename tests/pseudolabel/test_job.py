import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
from datasets import load_dataset

from pseudolabel.job import LabelJob, LabelSettings, shard_of
from pseudolabel.manifest import read_manifest
from pseudolabel.stats import label_stats, plot_stats
from pseudolabel.store import merge, part_files, read_rows
from selector import CandidatePlan
from tests.support.paths import ROOT
from tests.support.scorer_doubles import BrightnessScorer, EveryFourth, IndexCaptioner

VIDEOS = ["torchcodec__var_fps_video.mp4", "torchcodec__h265_video.mp4", "moviepy__big_buck_bunny_432_433.webm", "torchcodec__av1_video.mkv"]


@pytest.fixture
def manifest(tmp_path, videos):
    """Eight good items over four videos, a missing video, a corrupt one, an empty question."""
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    rows = []
    for v, name in enumerate(VIDEOS):
        shutil.copy(videos / name, tmp_path / name)
        rows.append({"id": f"{v}-a", "video": name, "question": f"What happens in {name}?", "spans": [[0.2, 0.6]]})
        rows.append({"id": f"{v}-b", "video": name, "question": "Which frame is brightest?", "options": ["first", "last"], "answer": "A"})
    rows += [
        {"id": "missing", "video": "missing.mp4", "question": "q?"},
        {"id": "corrupt", "video": "corrupt.mp4", "question": "q?"},
        {"id": "empty-q", "video": VIDEOS[0], "question": ""},
    ]
    path = tmp_path / "manifest.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def settings(**kw):
    return LabelSettings(plan=CandidatePlan(n=8), frame_pixels=32 * 32, **kw)


def all_ids(out):
    """Ids across every part, without de-duplication: exactly-once is checked on raw rows."""
    return [i for p in part_files(out) for i in pq.read_table(p, columns=["id"])["id"].to_pylist()]


def test_labels_every_item_once_and_records_failures(manifest, tmp_path):
    out = tmp_path / "store"
    captioner = IndexCaptioner()
    summary = LabelJob(out, BrightnessScorer(), captioner, EveryFourth(), settings(flush_every=3)).run(read_manifest(manifest), progress=False)
    assert (summary.items, summary.labelled, summary.failed) == (11, 8, 3)
    assert captioner.calls == 4  # once per video, shared by its questions
    assert sorted(all_ids(out)) == sorted(["0-a", "0-b", "1-a", "1-b", "2-a", "2-b", "3-a", "3-b", "missing", "corrupt", "empty-q"])

    rows = {r["id"]: r for r in read_rows(out).to_pylist()}
    ok = rows["0-a"]
    assert ok["status"] == "ok" and len(ok["frames"]) == 8 and set(ok["frames"][0]) == {"candidate", "index", "seconds", "fps"}
    spatial, temporal, spans = (np.array(ok[k]) for k in ("spatial", "temporal", "spans_label"))
    np.testing.assert_allclose(ok["label"], (spatial + temporal + spans) / 3, rtol=1e-6)
    assert ok["signals"] == ["spatial", "temporal", "spans"] and ok["temporal_indices"] == [0, 4]
    assert ok["temporal_notes"] == ["dropped index 999"]
    assert rows["0-b"]["signals"] == ["spatial", "temporal"] and rows["0-b"]["options"] == ["first", "last"]
    assert len(ok["video_hash"]) == 32 and ok["video_size"] == os.path.getsize(manifest.parent / VIDEOS[0])
    provenance = json.loads(ok["provenance"])
    assert provenance["spatial"]["model"] == "brightness" and provenance["settings"]["plan"]["n"] == 8
    assert "torch" in provenance["packages"]
    assert rows["missing"]["status"] == "failed" and "file not found" in rows["missing"]["error"]
    assert "corrupt.mp4" in rows["corrupt"]["error"]
    assert "empty question" in rows["empty-q"]["error"]
    assert [rows[i]["reason"] for i in ("missing", "corrupt", "empty-q", "0-a")] == ["video", "video", "input", None]
    assert summary.failures == {"video": 2, "input": 1} and "file not found" in summary.examples["video"]
    assert ok["retries"] == {"spatial": 0, "caption": 0, "temporal": 0}  # in-process scorers never retry

    # Readable as a dataset, with the list columns intact.
    dataset = load_dataset("parquet", data_files=[str(p) for p in part_files(out)], split="train")
    assert len(dataset) == 11 and len(dataset[0]["frames"]) in (0, 8)


def test_decoding_ahead_writes_the_rows_of_the_serial_loop(manifest, tmp_path, monkeypatch):
    # FRAME_SELECTOR_PREFETCH=0 is the serial loop; rows, their order and failures must not change.
    from selector.prefetch import PREFETCH_ENV

    rows = {}
    for depth in ("0", "3"):
        monkeypatch.setenv(PREFETCH_ENV, depth)
        out = tmp_path / f"store-{depth}"
        LabelJob(out, BrightnessScorer(), IndexCaptioner(), EveryFourth(), settings()).run(read_manifest(manifest), progress=False)
        rows[depth] = [{k: r[k] for k in ("id", "status", "error", "label", "frames")} for r in read_rows(out).to_pylist()]
    assert rows["0"] == rows["3"] and len(rows["0"]) == 11


def test_a_second_run_does_nothing_and_reuses_captions(manifest, tmp_path):
    out = tmp_path / "store"
    LabelJob(out, BrightnessScorer(), IndexCaptioner(), EveryFourth(), settings()).run(read_manifest(manifest), progress=False)
    scorer, captioner = BrightnessScorer(), IndexCaptioner()
    summary = LabelJob(out, scorer, captioner, EveryFourth(), settings()).run(read_manifest(manifest), progress=False)
    assert summary.skipped == 11 and summary.labelled == 0 and scorer.calls == 0
    # New questions on known videos: captions come from the cache.
    extra = manifest.parent / "more.jsonl"
    extra.write_text(json.dumps({"id": "new", "video": VIDEOS[1], "question": "And now?"}) + "\n")
    LabelJob(out, scorer, captioner, EveryFourth(), settings()).run(read_manifest(extra), progress=False)
    assert captioner.calls == 0 and scorer.calls == 1


def test_retry_failed_supersedes_the_failure(manifest, tmp_path):
    out = tmp_path / "store"
    flaky = BrightnessScorer(fail_on={"Which frame is brightest?\nOptions:\nA. first\nB. last"})
    first = LabelJob(out, flaky, settings=settings()).run(read_manifest(manifest), progress=False)
    assert read_rows(out).to_pylist()[1]["status"] == "failed"
    assert first.failures == {"scorer": 4, "video": 2, "input": 1}
    summary = LabelJob(out, BrightnessScorer(), settings=settings(retry_failed=True)).run(read_manifest(manifest), progress=False)
    assert summary.labelled == 4 and summary.failed == 3  # the four retried items, and the three bad ones again
    labels, failures = merge(out)
    assert sorted(pq.read_table(labels)["id"].to_pylist()) == ["0-a", "0-b", "1-a", "1-b", "2-a", "2-b", "3-a", "3-b"]
    assert sorted(pq.read_table(failures)["id"].to_pylist()) == ["corrupt", "empty-q", "missing"]


def test_two_shards_cover_everything_once(manifest, tmp_path):
    out = tmp_path / "store"
    items = read_manifest(manifest)
    for shard in (0, 1):
        LabelJob(out, BrightnessScorer(), settings=settings(), shard=shard, num_shards=2).run(items, progress=False)
    ids = all_ids(out)
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 11
    by_video = {}
    for path in part_files(out):
        for video in pq.read_table(path)["video"].to_pylist():
            by_video.setdefault(video, set()).add(path.parent.name)
    assert all(len(shards) == 1 for shards in by_video.values())
    assert {shard_of(i.video, 2) for i in items} == {0, 1}


def test_stats_and_plot(manifest, tmp_path):
    out = tmp_path / "store"
    LabelJob(out, BrightnessScorer(), IndexCaptioner(), EveryFourth(), settings()).run(read_manifest(manifest), progress=False)
    stats = label_stats(out)
    assert stats["labelled"] == 8 and stats["failed"] == 3
    assert sum(stats["label_histogram"]["counts"]) == 8 * 8
    assert stats["spatial_temporal"]["items"] == 8 and stats["spatial_temporal"]["auroc_spatial_for_temporal"] is not None
    assert stats["failure_reasons"] == {"video": 2, "input": 1} and stats["retries"] == 0
    plot_stats(out, tmp_path / "stats.png")
    assert (tmp_path / "stats.png").read_bytes()[:4] == b"\x89PNG"


KILLABLE = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from tests.support.scorer_doubles import BrightnessScorer
    from pseudolabel.job import LabelJob, LabelSettings
    from pseudolabel.manifest import read_manifest
    from selector import CandidatePlan
    settings = LabelSettings(plan=CandidatePlan(n=8), frame_pixels=32 * 32, flush_every=1)
    LabelJob({out!r}, BrightnessScorer(delay=float(sys.argv[1])), settings=settings).run(read_manifest({manifest!r}), progress=False)
    """
)


@pytest.mark.slow
def test_sigkill_then_resume_labels_every_item_exactly_once(manifest, tmp_path):
    out = tmp_path / "store"
    script = tmp_path / "job.py"
    script.write_text(KILLABLE.format(root=str(ROOT), out=str(out), manifest=str(manifest)))
    process = subprocess.Popen([sys.executable, str(script), "0.4"])
    deadline = time.time() + 60
    while len(part_files(out)) < 3 and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = len(all_ids(out))
    assert 3 <= written < 11, "the kill should land mid-job"
    subprocess.run([sys.executable, str(script), "0"], check=True, timeout=120)
    ids = all_ids(out)
    assert len(ids) == 11 and len(set(ids)) == 11
    assert not list(out.glob("labels/*/.part-*"))
