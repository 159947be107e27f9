"""Reading a labelling manifest (JSONL or Parquet) into items, without letting one bad row stop a
job: rows that cannot become an item come back as `BadRow`s, which the job records as failures."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from selector.records import VideoQuestion


@dataclass(frozen=True)
class BadRow:
    """A manifest row that cannot be labelled, and why."""

    id: str
    video: str
    question: str
    reason: str


def _spans(value, row_id: str) -> list[tuple[float, float]]:
    if value is None:
        return []
    spans = []
    for span in value:
        if span is None or len(span) != 2:
            raise ValueError(f"span {span!r} is not [start, end]")
        start, end = float(span[0]), float(span[1])
        if not (0 <= start <= end):
            raise ValueError(f"span [{start}, {end}] must satisfy 0 <= start <= end")
        spans.append((start, end))
    return spans


def _item(row: dict, number: int, root: Path) -> VideoQuestion | BadRow:
    row_id = str(row.get("id") if row.get("id") is not None else f"manifest-row-{number}")
    video = row.get("video")
    question = row.get("question")
    try:
        if not isinstance(video, str) or not video.strip():
            raise ValueError("no video path")
        if not isinstance(question, str) or not question.strip():
            raise ValueError("empty question")
        options = row.get("options")
        if options is not None:
            if isinstance(options, str) or not all(isinstance(o, str) for o in options):
                raise ValueError("options must be a list of strings")
            options = list(options)
        answer = row.get("answer")
        path = Path(video).expanduser()
        if not path.is_absolute():
            path = root / path
        return VideoQuestion(
            id=row_id,
            video=os.fspath(path),
            question=question.strip(),
            options=options or [],
            answer=None if answer is None else str(answer),
            spans=_spans(row.get("spans"), row_id),
        )
    except (ValueError, TypeError) as error:
        return BadRow(row_id, str(video or ""), str(question or ""), f"bad manifest row {number}: {error}")


def read_manifest(path: str | os.PathLike, video_root: str | os.PathLike | None = None) -> list[VideoQuestion | BadRow]:
    """Items in manifest order. Relative video paths are resolved against `video_root`, else
    against the manifest's own folder. A row that repeats an earlier id becomes a `BadRow`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} does not exist")
    root = Path(video_root) if video_root is not None else path.parent
    if path.suffix == ".parquet":
        rows: list[dict | None] = pq.read_table(path).to_pylist()
    else:
        rows = []
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                    rows.append(value if isinstance(value, dict) else None)
                except json.JSONDecodeError:
                    rows.append(None)
    items: list[VideoQuestion | BadRow] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        if row is None:
            items.append(BadRow(f"manifest-row-{number}", "", "", f"bad manifest row {number}: not a JSON object"))
            continue
        item = _item(row, number, root)
        if item.id in seen:
            item = BadRow(item.id, item.video, item.question, f"bad manifest row {number}: duplicate id {item.id!r}")
            items.append(item)
            continue
        seen.add(item.id)
        items.append(item)
    return items


__all__ = ["BadRow", "read_manifest"]
