"""Annotation rows into `Record`s, one row at a time, so that one bad row is flagged, never fatal."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..records import Record

_ROW_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError)


def question_text(value: Any) -> str:
    """The question, stripped; an empty or missing one makes the row malformed."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("empty question")
    return value.strip()


def to_float(value: Any) -> float | None:
    """A stated number (a duration, an offset) or None when the row states none readable."""
    try:
        return float(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def normalise_rows(
    bench: str, rows: Iterable[tuple[str, dict]], make: Callable[[dict], Record], id_keys: Sequence[str]
) -> list[Record]:
    """Normalise rows one by one; a row that fails becomes a flagged record, never an exception.

    `id_keys` are the row fields that may hold the question's id, so a flagged record still
    carries it; a repeated id is flagged too, because results are keyed by it.
    """
    records = []
    for source, row in rows:
        try:
            record = make(row)
            record.source = source
            record.id = record.id or source  # a copy without question ids: the row is the key
        except _ROW_ERRORS as error:
            row_id = next((str(row[k]) for k in id_keys if isinstance(row, dict) and row.get(k) is not None), source)
            question = row.get("question") if isinstance(row, dict) and isinstance(row.get("question"), str) else ""
            record = Record(id=row_id, video="", question=question, bench=bench, source=source, problem=f"malformed row: {error}")
        records.append(record)
    first: dict[str, str] = {}
    for record in records:
        if record.id in first:
            # Results are keyed by id: the repeat gets a key of its own and is counted, not run.
            record.problem = f"duplicate qid {record.id!r} (first at {first[record.id]})"
            record.id = f"{record.id}@{record.source}"
        else:
            first[record.id] = record.source
    return records


__all__ = ["normalise_rows", "question_text", "to_float"]
