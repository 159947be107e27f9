"""The label store's format and its one reader: the contract between `pseudolabel` (the writer)
and `train` / `eval` (the readers), kept here so that readers never import the writer.

Layout of a store folder (readable with `datasets.load_dataset("parquet", data_files=...)` too):

    labels/shard-00000-of-00002/part-000000.parquet   rows, schema `SCHEMA`
    labels/shard-00000-of-00002/part-000001.parquet
    captions/<key>.json                                cached captions of one video + plan
    runs/shard-00000-of-00002.jsonl                    one provenance record per run start
    labels.parquet, failures.parquet                   written by `merge`

An id may have several rows: a resumed or `--retry-failed` run writes a new row that supersedes
the old one (a success replacing a failure), in a later part of the same shard. The newest row
of an id is the last one in part order (shards sorted, parts sorted within a shard), and that is
the only one a reader may use. `labels.parquet` holds only the successful rows, as of the last
merge, so a store folder is read from its parts when it has any.

Row columns: `id, video, question, options, answer, spans` from the manifest; `status` ("ok" or
"failed"), `error` (the raw exception text of a failure, scrubbed of secrets) and `reason` (its
kind, one word: `pseudolabel.failures.REASONS`); `retries` (per scorer kind, how many retries
the item's requests to a server needed); `frames` (the candidate records: candidate, index, seconds, fps);
`spatial`, `temporal`, `spans_label` (each signal, null when not computed); `temporal_indices`
and `temporal_notes` (the text LLM's choice and what had to be repaired); `label` (the combined
label) and `signals` (which signals it combines); `video_size`, `video_hash`; `provenance`
(JSON: scorer models, prompt versions, settings, package versions).

Columns are only ever added, at the end, nullable: a store written before one existed still
reads, the column null in its rows (`reason` and `retries` came last).

`label` is the weighted mean of the signals present in the row with a weight above 0 (the
labelling job's `--weights`); `combine_signals` is that rule, so a reader can recombine the stored
signals with other weights (training's `label_weights`) exactly as the job would have.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PARTS_GLOB = "labels/shard-*/part-*.parquet"
MERGED_FILE = "labels.parquet"

FRAME = pa.struct([("candidate", pa.int32()), ("index", pa.int32()), ("seconds", pa.float64()), ("fps", pa.float64())])
RETRIES = pa.struct([("spatial", pa.int32()), ("caption", pa.int32()), ("temporal", pa.int32())])
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("video", pa.string()),
        ("question", pa.string()),
        ("options", pa.list_(pa.string())),
        ("answer", pa.string()),
        ("spans", pa.list_(pa.list_(pa.float64()))),
        ("status", pa.string()),
        ("error", pa.string()),
        ("frames", pa.list_(FRAME)),
        ("spatial", pa.list_(pa.float32())),
        ("temporal", pa.list_(pa.float32())),
        ("spans_label", pa.list_(pa.float32())),
        ("temporal_indices", pa.list_(pa.int32())),
        ("temporal_notes", pa.list_(pa.string())),
        ("label", pa.list_(pa.float32())),
        ("signals", pa.list_(pa.string())),
        ("video_size", pa.int64()),
        ("video_hash", pa.string()),
        ("provenance", pa.string()),
        ("reason", pa.string()),
        ("retries", RETRIES),
    ]
)


SIGNAL_COLUMNS = {"spatial": "spatial", "temporal": "temporal", "spans": "spans_label"}
"""Each signal by the name weights and the `signals` column use, and the column that holds it."""


def combine_signals(row: Mapping[str, Any], weights: Mapping[str, float]) -> tuple[np.ndarray, list[str]] | None:
    """A row's label from its stored signals: the weighted mean of those present with a weight
    above 0, and their names; None when the row has none of them. The rule that made the
    `label` column, so other weights give the label a relabelling with them would have."""
    used = [name for name, column in SIGNAL_COLUMNS.items() if row.get(column) is not None and weights.get(name, 0) > 0]
    if not used:
        return None
    total = sum(weights[name] for name in used)
    label = sum(weights[name] * np.asarray(row[SIGNAL_COLUMNS[name]], dtype=np.float64) for name in used) / total
    return label.astype(np.float32), used


def part_files(root: str | os.PathLike) -> list[Path]:
    """Every published part of every shard, in the order that makes the last row of an id its
    newest (shards sorted, oldest part first within a shard)."""
    return sorted(Path(root).glob(PARTS_GLOB))


def label_files(path: str | os.PathLike) -> list[Path]:
    """What to read for `path`: the file itself (a merged `labels.parquet`), else a store folder's
    parts, else its `labels.parquet`. FileNotFoundError, naming the path, when there is none."""
    path = Path(path)
    if path.is_file():
        return [path]
    parts = part_files(path)
    if parts:
        return parts
    if (path / MERGED_FILE).is_file():
        return [path / MERGED_FILE]
    raise FileNotFoundError(f"no label store at {path}: expected {MERGED_FILE} or {PARTS_GLOB}")


def newest_rows(files: Iterable[Path], columns: Sequence[str] | None = None) -> dict[str, dict]:
    """id -> the newest row of that id across `files` (read in the given order; later wins), with
    only `id` and `columns` when given. The dict is ordered by when each id was last written.
    A column of `SCHEMA` that an older file lacks reads as None."""
    wanted = None if columns is None else ["id", *(c for c in columns if c != "id")]
    rows: dict[str, dict] = {}
    for file in files:
        present = set(pq.read_schema(file).names)
        missing = [c for c in (wanted or SCHEMA.names) if c not in present and c in SCHEMA.names]
        read = None if wanted is None else [c for c in wanted if c not in missing]
        for row in pq.read_table(file, columns=read).to_pylist():
            row.update(dict.fromkeys(missing))
            rows.pop(row["id"], None)  # re-insert, so the order follows the newest row
            rows[row["id"]] = row
    return rows


def read_newest_rows(path: str | os.PathLike, columns: Sequence[str] | None = None) -> dict[str, dict]:
    """id -> newest row of a label store folder or a merged labels file (see `label_files`).
    Failed rows are included: what to do with them is the reader's call."""
    return newest_rows(label_files(path), columns)


__all__ = [
    "FRAME", "MERGED_FILE", "RETRIES", "PARTS_GLOB", "SCHEMA", "SIGNAL_COLUMNS", "combine_signals", "label_files", "newest_rows",
    "part_files", "read_newest_rows",
]
