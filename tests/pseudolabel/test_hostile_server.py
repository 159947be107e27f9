"""`frame-selector label` against a server that misbehaves the way real gateways do (issue 14):
every transient fault costs a retry, never an item, and a server that never answers well fails
items with a classified reason while the job goes on. The API key reaches no output."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from pseudolabel.job import LabelJob, LabelSettings
from pseudolabel.manifest import read_manifest
from pseudolabel.remote import OpenAISpatialScorer
from pseudolabel.stats import label_stats
from pseudolabel.store import read_rows
from selector import CandidatePlan
from selector.cli import main
from tests.support.fake_openai import HOSTILE_FAULTS, HOSTILE_QUIRKS, FakeOpenAI

SECRET = "sk-test-HOSTILE-DO-NOT-LEAK-0123456789"
VIDEOS = ["torchcodec__var_fps_video.mp4", "torchcodec__h265_video.mp4", "moviepy__big_buck_bunny_432_433.webm", "torchcodec__av1_video.mkv"]
QUESTIONS = ["Which frame shows the pattern?", "What happens again and then?", "Is there a frame with a pattern?"]


@pytest.fixture
def manifest(tmp_path, videos):
    """Twelve items: three questions on each of four videos."""
    rows = []
    for v, name in enumerate(VIDEOS):
        shutil.copy(videos / name, tmp_path / name)
        rows += [{"id": f"{v}-{q}", "video": name, "question": question} for q, question in enumerate(QUESTIONS)]
    path = tmp_path / "manifest.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def everything_written(out) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in out.rglob("*") if p.is_file())


def test_all_hostile_server_labels_every_item(manifest, tmp_path, capsys, caplog, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "store"
    with FakeOpenAI() as fake:
        fake.hostile(0.5)
        code = main(["label", "--manifest", str(manifest), "--out", str(out), "--candidates", "4", "--frame-pixels", str(32 * 32),
                     "--spatial", "openai", "--captioner", "openai", "--temporal", "openai", "--spatial-model", "qwen2-vl",
                     "--captioner-model", "qwen2-vl", "--vlm-base-url", fake.base_url, "--temporal-base-url", fake.base_url,
                     "--no-progress"])
        printed = "".join(capsys.readouterr())
        served = dict(fake.hostile_counts)
    assert code == 0, printed
    assert set(served) == set(HOSTILE_FAULTS) | set(HOSTILE_QUIRKS), served  # every misbehaviour happened

    rows = read_rows(out).to_pylist()
    assert len(rows) == 12 and all(r["status"] == "ok" and r["reason"] is None for r in rows)
    assert "12 labelled, 0 failed" in printed
    # One retry per transient fault served, each recorded on the row whose requests needed it.
    retries = {kind: sum(r["retries"][kind] for r in rows) for kind in ("spatial", "caption", "temporal")}
    assert sum(retries.values()) == sum(served[name] for name in HOSTILE_FAULTS) and all(retries.values())
    assert f"{sum(retries.values())} requests retried" in printed
    # Lower-case and space-prefixed True/False are read, not scored 0.5; runaway captions are cut.
    assert all(0.0 < s < 1.0 and s != 0.5 for r in rows for s in r["spatial"])
    assert any("cut from" in note for r in rows for note in r["temporal_notes"] or [])
    assert label_stats(out)["retries"] == sum(retries.values())
    assert SECRET not in printed and SECRET not in caplog.text and SECRET not in everything_written(out)


def test_never_good_server_fails_items_with_reasons_and_goes_on(manifest, tmp_path, caplog):
    out = tmp_path / "store"
    with FakeOpenAI() as fake:
        fake.hostile(1.0, persistent=True)
        spatial = OpenAISpatialScorer("qwen2-vl", base_url=fake.base_url, api_key=SECRET, max_retries=1, retry_delay=0.01)
        settings = LabelSettings(plan=CandidatePlan(n=4), frame_pixels=32 * 32)
        summary = LabelJob(out, spatial, settings=settings).run(read_manifest(manifest), progress=False)
    assert (summary.items, summary.labelled, summary.failed) == (12, 0, 12)
    assert set(summary.failures) <= {"rate_limit", "server", "connection", "reply"} and len(summary.failures) > 1
    rows = read_rows(out).to_pylist()
    assert {r["reason"] for r in rows} == set(summary.failures)
    assert all(r["error"].startswith("BackendError: spatial chat.completions") and r["retries"]["spatial"] > 0 for r in rows)
    assert label_stats(out)["failure_reasons"] == summary.failures
    assert SECRET not in caplog.text and SECRET not in everything_written(out)
    print("never-good server, failures by reason:", summary.failures)
