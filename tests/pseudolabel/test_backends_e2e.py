"""`frame-selector label` with real backends end to end: the tiny Qwen2-VL loaded from disk
through transformers, and OpenAI-compatible servers (the loopback fake), online and through the
Batch API. The API key must not reach any output."""

import json

import pyarrow.parquet as pq
import pytest

from pseudolabel.store import part_files, read_rows
from selector.cli import main
from selector.tiny.vlm import save_tiny_qwen2_vl
from tests.support.fake_openai import FakeOpenAI, status

SECRET = "sk-test-DO-NOT-LEAK-1234567890abcdef"


def label(capsys, *argv):
    code = main(["label", *map(str, argv), "--candidates", "6", "--frame-pixels", str(64 * 64), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out + err


def everything_written(out) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in out.rglob("*") if p.is_file())


def check_store(out, temporal=True):
    rows = {r["id"]: r for r in read_rows(out).to_pylist()}
    assert [rows[i]["status"] for i in "abcd"] == ["ok", "ok", "ok", "failed"]
    for i in "abc":
        assert len(rows[i]["spatial"]) == 6 and all(0 <= s <= 1 for s in rows[i]["spatial"])
        assert (rows[i]["temporal"] is not None) == temporal
    assert rows["c"]["spans_label"] is not None
    return rows


def test_hf_backends_from_a_saved_checkpoint(backends_manifest, tmp_path, capsys):
    model_dir = save_tiny_qwen2_vl(tmp_path / "qwen2vl")
    out = tmp_path / "store"
    label(capsys, "--manifest", backends_manifest, "--out", out, "--spatial", "hf", "--spatial-model", model_dir,
          "--spatial-mode", "direct", "--temporal", "none", "--device", "cpu", "--batch-size", "4")
    rows = check_store(out, temporal=False)
    provenance = json.loads(rows["a"]["provenance"])
    assert provenance["spatial"]["model"] == str(model_dir) and provenance["spatial"]["mode"] == "direct"


def test_openai_backends_online(backends_manifest, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    out = tmp_path / "store"
    with FakeOpenAI() as fake:
        fake.script(status(429), status(500))  # transient faults are retried
        printed = label(capsys, "--manifest", backends_manifest, "--out", out, "--spatial", "openai", "--captioner", "openai",
                        "--spatial-model", "qwen2-vl", "--captioner-model", "qwen2-vl", "--vlm-base-url", fake.base_url,
                        "--temporal", "openai", "--temporal-base-url", fake.base_url)
        assert all(r.headers.get("authorization") == f"Bearer {SECRET}" for r in fake.requests)
    rows = check_store(out)
    assert json.loads(rows["a"]["provenance"])["temporal"]["backend"] == "openai"
    assert SECRET not in printed and SECRET not in everything_written(out)


def test_openai_batch_mode_then_resume_without_resubmitting(backends_manifest, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    out = tmp_path / "store"
    args = ["--manifest", backends_manifest, "--out", out, "--spatial", "openai", "--captioner", "openai", "--spatial-model", "m",
            "--captioner-model", "m", "--temporal", "batch", "--batch-poll", "0.01"]
    with FakeOpenAI(batch_polls_in_progress=1) as fake:
        printed = label(capsys, *args, "--vlm-base-url", fake.base_url, "--temporal-base-url", fake.base_url)
        batches = len(fake.batches)
        assert batches == 1
        # Everything labelled: a second run sends nothing new.
        label(capsys, *args, "--vlm-base-url", fake.base_url, "--temporal-base-url", fake.base_url)
        assert len(fake.batches) == batches
    rows = check_store(out)
    assert json.loads(rows["a"]["provenance"])["temporal"]["mode"] == "batch"
    ids = [i for p in part_files(out) for i in pq.read_table(p, columns=["id"])["id"].to_pylist()]
    assert sorted(ids) == ["a", "b", "c", "d"]
    assert SECRET not in printed and SECRET not in everything_written(out)
