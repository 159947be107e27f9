"""The label oracle: the top-k of the stored pseudo-labels, the ceiling the selector is trained
towards."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from selector import Frame, greedy_nms, topk
from selector.label_store import read_newest_rows
from selector.selection import nms_delta

from .base import Chooser

LABEL_SIGNALS = ("label", "spatial", "temporal", "spans_label")


class OracleChooser(Chooser):
    """The top-k frames by the stored pseudo-labels of each question: what a selector trained
    on those labels could at best reproduce, so the gap to it measures the selector, and the gap
    from it to the answer ceiling measures the labels.

    Reads the label store's documented Parquet format: a `labels.parquet` file, or a store
    folder, whose parts (`labels/shard-*/part-*.parquet`, the newest row of an id winning, as the
    store's merge does) are preferred over its merged `labels.parquet`, which may be older.
    Questions are found by item id (the manifest id the labels were made under); a missing or
    failed item, or labels made over other candidates than the plan gives, is an error.
    """

    name = "oracle"

    def __init__(self, path: str | os.PathLike, *, signal: str = "label", rule: str = "topk", delta: int | None = None) -> None:
        if signal not in LABEL_SIGNALS:
            raise ValueError(f"unknown label signal {signal!r}; choose from {LABEL_SIGNALS}")
        if rule not in ("topk", "nms"):
            raise ValueError(f"unknown rule {rule!r}; choose topk or nms")
        self.path = os.fspath(path)
        self.signal = signal
        self.rule = rule
        self.delta = delta
        self._rows: dict[str, dict[str, Any]] | None = None

    def settings(self) -> dict[str, Any]:
        return {"labels": self.path, "signal": self.signal, "rule": self.rule, "delta": self.delta}

    def rows(self) -> dict[str, dict[str, Any]]:
        """id -> stored row (id, status, error, frames and the chosen signal), read once."""
        if self._rows is None:
            self._rows = read_newest_rows(self.path, ["status", "error", "frames", self.signal])
        return self._rows

    def _scores(self, item_id: str | None, candidates: list[Frame]) -> np.ndarray:
        if item_id is None:
            raise ValueError("the label oracle needs each question's item id")
        row = self.rows().get(item_id)
        if row is None:
            raise ValueError(f"no labels for item {item_id!r} in {self.path} (a merged labels.parquet holds only successful items)")
        if row["status"] != "ok":
            raise ValueError(f"labelling item {item_id!r} failed: {row['error']}")
        stored = row["frames"] or []
        same = len(stored) == len(candidates) and all(
            s["index"] == c.index and abs(s["seconds"] - c.seconds) < 1e-4 for s, c in zip(stored, candidates)
        )
        if not same:
            raise ValueError(
                f"labels of item {item_id!r} cover {len(stored)} other candidates than the plan's {len(candidates)}: "
                "label and evaluate with the same candidate plan"
            )
        scores = row[self.signal]
        if scores is None or len(scores) != len(candidates):
            raise ValueError(f"item {item_id!r} has no {self.signal!r} signal for its {len(candidates)} candidates")
        return np.asarray(scores, dtype=np.float64)

    def _choose(self, info, plan, candidates, questions, k, item_ids, options):
        results = []
        for item_id in item_ids:
            row = self._scores(item_id, candidates)
            if self.rule == "nms":
                delta = nms_delta(len(row), k) if self.delta is None else self.delta
                results.append((greedy_nms(row, k, delta), row, {"delta": delta, "item_id": item_id}, {}))
            else:
                results.append((topk(row, k), row, {"item_id": item_id}, {}))
        return results


__all__ = ["LABEL_SIGNALS", "OracleChooser"]
