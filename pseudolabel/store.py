"""The label store's writer: Parquet parts, one folder per shard, published atomically.

The format (layout, row columns, which row of an id counts) is `selector.label_store`'s, the
contract `train` and `eval` read through; this module writes it and merges it.

A part file appears under its final name only when complete (written to a temporary name, then
renamed), so a job killed at any moment leaves either the whole part or nothing. A resumed job
skips every id already in a part; `merge` keeps the newest row of an id, so rows rewritten by
`--retry-failed` supersede the failures they replace.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from selector.atomic import write_atomic
from selector.label_store import SCHEMA, newest_rows, part_files

_PART = re.compile(r"part-(\d{6})\.parquet$")


def shard_dir(root: Path, shard: int, num_shards: int) -> Path:
    return Path(root) / "labels" / f"shard-{shard:05d}-of-{num_shards:05d}"


class ShardWriter:
    """Appends rows to one shard as atomically published parts."""

    def __init__(self, root: Path, shard: int, num_shards: int):
        self.dir = shard_dir(root, shard, num_shards)
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob(".part-*.tmp"):  # left by a killed run, never visible as a part
            stale.unlink(missing_ok=True)
        numbers = [int(m.group(1)) for p in self.dir.iterdir() if (m := _PART.search(p.name))]
        self.next_part = max(numbers, default=-1) + 1

    def done(self, retry_failed: bool = False) -> set[str]:
        """Ids this shard has already written (only the successful ones with `retry_failed`)."""
        latest = newest_rows(sorted(self.dir.glob("part-*.parquet")), ["status"])
        return {row_id for row_id, row in latest.items() if row["status"] == "ok" or not retry_failed}

    def write(self, rows: list[dict]) -> Path | None:
        if not rows:
            return None
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        path = self.dir / f"part-{self.next_part:06d}.parquet"
        write_atomic(path, sink.getvalue().to_pybytes(), durable=True)
        self.next_part += 1
        return path


def read_rows(root: Path) -> pa.Table:
    """All rows of all shards, newest row per id (a retried item supersedes its failure)."""
    parts = part_files(root)
    if not parts:
        raise FileNotFoundError(f"no label parts under {Path(root) / 'labels'}")
    return pa.Table.from_pylist(list(newest_rows(parts).values()), schema=SCHEMA)


def merge(root: Path, dest: Path | None = None) -> tuple[Path, Path]:
    """One `labels.parquet` (status ok) and one `failures.parquet` out of every shard."""
    dest = Path(dest or root)
    table = read_rows(root)
    ok = table.filter(pc.equal(table["status"], "ok"))
    failed = table.filter(pc.equal(table["status"], "failed"))
    paths = []
    for name, part in (("labels.parquet", ok), ("failures.parquet", failed)):
        sink = pa.BufferOutputStream()
        pq.write_table(part, sink, compression="zstd")
        write_atomic(dest / name, sink.getvalue().to_pybytes(), durable=True)
        paths.append(dest / name)
    return paths[0], paths[1]


def append_run_record(root: Path, shard: int, num_shards: int, record: dict) -> None:
    """One provenance line per run start (appends are small and line-atomic enough for a log)."""
    path = Path(root) / "runs" / f"shard-{shard:05d}-of-{num_shards:05d}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")


def iter_ok_rows(root: Path) -> Iterable[dict]:
    table = read_rows(root)
    for row in table.to_pylist():
        if row["status"] == "ok":
            yield row


__all__ = ["SCHEMA", "ShardWriter", "merge", "read_rows", "part_files", "shard_dir", "append_run_record", "iter_ok_rows"]
