"""selector.label_store: the one reader of the label store, newest row per id."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from selector.label_store import SCHEMA, label_files, newest_rows, part_files, read_newest_rows


def _part(root: Path, shard: int, part: int, rows: list[tuple[str, str, float]]) -> Path:
    path = root / "labels" / f"shard-{shard:05d}-of-00002" / f"part-{part:06d}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    ids, status, label = zip(*rows)
    pq.write_table(pa.table({"id": list(ids), "status": list(status), "label": [[x] for x in label]}), path)
    return path


@pytest.fixture
def store(tmp_path) -> Path:
    _part(tmp_path, 0, 0, [("a", "failed", 0.0), ("b", "ok", 0.1)])
    _part(tmp_path, 0, 1, [("a", "ok", 0.2)])  # --retry-failed: supersedes the failure
    _part(tmp_path, 1, 0, [("b", "ok", 0.3), ("c", "ok", 0.4)])  # same id in a later shard
    _part(tmp_path, 1, 10, [("c", "failed", 0.5)])  # part 10 sorts after part 0, never before
    return tmp_path


def test_newest_row_per_id_across_parts_and_shards(store):
    rows = read_newest_rows(store)
    assert {k: (r["status"], r["label"][0]) for k, r in rows.items()} == {
        "a": ("ok", pytest.approx(0.2)), "b": ("ok", pytest.approx(0.3)), "c": ("failed", pytest.approx(0.5)),
    }
    assert list(rows) == ["a", "b", "c"]  # ordered by each id's newest row


def test_columns_always_include_the_id(store):
    rows = newest_rows(part_files(store), ["status"])
    assert rows["a"] == {"id": "a", "status": "ok"}


def test_files_parts_first_then_merged_file(store, tmp_path):
    assert [p.parent.name + "/" + p.name for p in label_files(store)] == [
        "shard-00000-of-00002/part-000000.parquet", "shard-00000-of-00002/part-000001.parquet",
        "shard-00001-of-00002/part-000000.parquet", "shard-00001-of-00002/part-000010.parquet",
    ]
    merged = tmp_path / "merged"
    merged.mkdir()
    pq.write_table(pa.table({"id": ["z"], "status": ["ok"]}), merged / "labels.parquet")
    assert label_files(merged) == [merged / "labels.parquet"]
    assert list(read_newest_rows(merged / "labels.parquet")) == ["z"]


def test_a_store_from_before_a_column_existed_still_reads(tmp_path):
    """Rows written before `reason` and `retries` existed read with them null, beside new rows."""
    from pseudolabel.stats import label_stats
    from pseudolabel.store import ShardWriter, read_rows

    old_schema = pa.schema([f for f in SCHEMA if f.name not in ("reason", "retries")])
    old = [{"id": "old-ok", "status": "ok", "label": [0.5], "signals": ["spans"], "frames": []},
           {"id": "old-bad", "status": "failed", "error": "BackendError: reply has no choices"}]
    path = tmp_path / "labels" / "shard-00000-of-00001" / "part-000000.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(old, schema=old_schema), path)
    ShardWriter(tmp_path, 0, 1).write([{"id": "new-bad", "status": "failed", "error": "VideoError: x", "reason": "video",
                                        "retries": {"spatial": 2, "caption": 0, "temporal": 1}}])
    rows = {r["id"]: r for r in read_rows(tmp_path).to_pylist()}
    assert rows["old-bad"]["reason"] is None and rows["old-ok"]["retries"] is None and rows["new-bad"]["reason"] == "video"
    assert newest_rows(part_files(tmp_path), ["reason"])["old-bad"] == {"id": "old-bad", "reason": None}
    stats = label_stats(tmp_path)
    assert stats["failure_reasons"] == {"BackendError": 1, "video": 1} and stats["retries"] == 3


def test_missing_store_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere")):
        read_newest_rows(tmp_path / "nowhere")
