import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pseudolabel.manifest import BadRow, read_manifest
from pseudolabel.signals import combine, parse_weights, span_label, temporal_label


def write_jsonl(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_manifest_jsonl_and_parquet_give_the_same_items(tmp_path):
    rows = [
        {"id": 1, "video": "a.mp4", "question": "What? ", "options": ["x", "y"], "answer": "A", "spans": [[1.0, 2.5]]},
        {"id": "b", "video": "/abs/b.mp4", "question": "Why?"},
    ]
    jsonl = read_manifest(write_jsonl(tmp_path / "m.jsonl", rows))
    pq.write_table(pa.Table.from_pylist(rows[1:]), tmp_path / "m.parquet")
    parquet = read_manifest(tmp_path / "m.parquet")
    assert jsonl[0].id == "1" and jsonl[0].video == str(tmp_path / "a.mp4") and jsonl[0].question == "What?"
    assert jsonl[0].options == ["x", "y"] and jsonl[0].spans == [(1.0, 2.5)]
    assert jsonl[0].with_options() == "What?\nOptions:\nA. x\nB. y"
    assert parquet[0] == jsonl[1]


def test_video_root(tmp_path):
    items = read_manifest(write_jsonl(tmp_path / "m.jsonl", [{"id": 1, "video": "v.mp4", "question": "q"}]), video_root="/data")
    assert items[0].video == "/data/v.mp4"


def test_bad_rows_are_kept_with_a_reason(tmp_path):
    rows = [
        {"id": "ok", "video": "a.mp4", "question": "q"},
        {"id": "noq", "video": "a.mp4", "question": "  "},
        {"id": "novideo", "question": "q"},
        "{not json",
        {"id": "ok", "video": "b.mp4", "question": "again"},
        {"id": "span", "video": "a.mp4", "question": "q", "spans": [[3, 1]]},
        {"id": "opts", "video": "a.mp4", "question": "q", "options": "A or B"},
    ]
    items = read_manifest(write_jsonl(tmp_path / "m.jsonl", rows))
    reasons = {i.id: i.reason for i in items if isinstance(i, BadRow)}
    assert "empty question" in reasons["noq"]
    assert "no video" in reasons["novideo"]
    assert "not a JSON object" in reasons["manifest-row-4"]
    assert "duplicate id" in reasons["ok"]
    assert "start <= end" in reasons["span"]
    assert "options" in reasons["opts"]
    assert sum(not isinstance(i, BadRow) for i in items) == 1


def test_missing_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        read_manifest(tmp_path / "nope.jsonl")


def test_span_labels():
    seconds = [0.0, 1.0, 2.0, 3.0]
    assert span_label(seconds, 4.0, [(0.9, 2.1)]).tolist() == [0, 1, 1, 0]
    overlap = span_label(seconds, 4.0, [(0.5, 1.5), (1.2, 2.0)], mode="overlap")
    np.testing.assert_allclose(overlap, [0.5, 1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="span mode"):
        span_label(seconds, 4.0, [], mode="fuzzy")


def test_combination_is_the_weighted_mean_of_present_signals():
    spatial = np.array([0.2, 0.8], dtype=np.float32)
    temporal = temporal_label([1], 2)
    label, used = combine({"spatial": spatial, "temporal": temporal, "spans": None})
    np.testing.assert_allclose(label, [0.1, 0.9])
    assert used == ["spatial", "temporal"]
    label, used = combine({"spatial": spatial, "temporal": temporal}, {"spatial": 3, "temporal": 1})
    np.testing.assert_allclose(label, [0.15, 0.85])
    with pytest.raises(ValueError, match="no signal"):
        combine({"spatial": None})


def test_parse_weights():
    assert parse_weights("spatial=2,temporal=1") == {"spatial": 2.0, "temporal": 1.0, "spans": 0.0}
    for bad in ("colour=1", "spatial=x", "spatial=-1"):
        with pytest.raises(ValueError):
            parse_weights(bad)
