"""The labels a run trains on: read from the store, checked, and accounted for, before any model
loads.

A store whose labels are all equal, or that lacks the signals a run asks for, would train
without complaint and give a selector that learned nothing (BCE against all zeros is easy to
bring down). So training refuses such a store in one line, and every run says, on stdout, in
`label_report.json` and in the model card, how many rows each signal covered, how many of those
vary across their candidates (a constant row ranks nothing), how many failed rows it skipped,
and which labellers made the labels.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from selector.label_store import SIGNAL_COLUMNS, combine_signals, read_newest_rows

COLUMNS = ["id", "video", "question", "options", "status", "frames", "label", "signals", "video_hash", "provenance",
           *SIGNAL_COLUMNS.values()]
LABELLERS = ("spatial", "captioner", "temporal")
LABELLER_FIELDS = ("backend", "model", "revision", "prompt_version", "mode")


@dataclass(frozen=True)
class Coverage:
    """Rows where a signal is present, and of those, rows whose values are not all the same."""

    rows: int
    varying: int

    def text(self) -> str:
        return f"{self.rows} ({self.varying} varying)" if self.rows else "0"


@dataclass
class LabelReport:
    """What a run trains on and how much of the store it covers (written with the run and into
    its model card)."""

    store: str
    weights: dict[str, float]  # label_weights; empty when training on the store's own label
    signals: list[str]  # the signals the trained label combines
    store_weights: list[dict[str, float]]  # the labelling job's weights that made the store's label
    rows: int  # rows trained on (training and validation)
    failed: int  # failed rows skipped
    without_signals: int  # labelled rows skipped because none of the asked signals is in them
    coverage: dict[str, Coverage]  # per stored signal (spatial, temporal, spans)
    label: Coverage  # the label trained on
    labellers: dict[str, list[dict]] = field(default_factory=dict)  # spatial/captioner/temporal -> their provenance

    @property
    def trained_on(self) -> str:
        """The label in words: the store's own, or the signals recombined with their weights."""
        if not self.weights:
            return "the store's label"
        return "label_weights " + ", ".join(f"{name}={weight:g}" for name, weight in self.weights.items() if weight > 0)

    def line(self) -> str:
        """The one line a run prints when it starts."""
        signals = ", ".join(f"{name} {coverage.text()}" for name, coverage in self.coverage.items())
        return (f"labels {self.store}: {self.rows} rows, trained on {self.trained_on} ({', '.join(self.signals)}; "
                f"{self.label.varying} varying); {self.failed} failed rows skipped, {self.without_signals} without the "
                f"asked signals; rows with each signal: {signals}")

    def to_dict(self) -> dict:
        return {**asdict(self), "trained_on": self.trained_on}


def _coverage(rows: Sequence[Mapping], column: str) -> Coverage:
    present = [row[column] for row in rows if row.get(column)]
    return Coverage(len(present), sum(_varies(values) for values in present))


def _varies(values: Sequence[float]) -> bool:
    return bool(np.ptp(np.asarray(values, dtype=np.float64)) > 0)


def _distinct(records: Sequence[dict]) -> list[dict]:
    """Each record once, in the order first seen."""
    seen: dict[str, dict] = {}
    for record in records:
        seen.setdefault(json.dumps(record, sort_keys=True), record)
    return list(seen.values())


def _provenance(rows: Sequence[Mapping]) -> list[dict]:
    return _distinct([json.loads(row["provenance"]) for row in rows if row.get("provenance")])


def _labellers(rows: Sequence[Mapping]) -> dict[str, list[dict]]:
    """Per labeller kind, each distinct model the rows were labelled with (backend, model,
    revision, prompt version, mode), from the provenance every row carries; kinds not used are
    left out."""
    found: dict[str, list[dict]] = {}
    for kind in LABELLERS:
        models = [{k: record[kind][k] for k in LABELLER_FIELDS if record[kind].get(k) is not None}
                  for record in _provenance(rows) if record.get(kind)]
        if models:
            found[kind] = _distinct(models)
    return found


def _relabelled(rows: Sequence[dict], weights: Mapping[str, float]) -> list[dict]:
    """The rows with `label` and `signals` recombined from their signals; rows with none of the
    weighted signals are dropped."""
    out = []
    for row in rows:
        combined = combine_signals(row, weights)
        if combined is not None:
            out.append({**row, "label": combined[0].tolist(), "signals": combined[1]})
    return out


def _constant(store: str, what: str, rows: Sequence[Mapping]) -> str:
    """Why a label that never varies within a row is refused, with its value when it is one."""
    values = {float(v) for row in rows for v in row["label"]}
    if len(values) == 1:
        return f"label store {store}: every value of {what} is {values.pop():g}, so there is nothing to learn"
    return f"label store {store}: {what} is constant across the candidates of every row, so there is nothing to learn"


def training_labels(store: str, weights: Mapping[str, float]) -> tuple[list[dict], LabelReport]:
    """The rows to train on (newest row per id, status ok, with a label) and their report.

    ValueError, one line naming the store, when there is nothing to learn: no labelled row, an
    asked signal (a weighted one, or the store's label when `weights` is empty) missing from
    every row, or a label constant across the candidates of every row.
    """
    newest = list(read_newest_rows(store, COLUMNS).values())
    ok = [row for row in newest if row["status"] == "ok"]
    failed = sum(row["status"] == "failed" for row in newest)
    if not ok:
        raise ValueError(f"label store {store} has no labelled rows ({failed} failed), so there is nothing to train on")
    asked = {name: SIGNAL_COLUMNS[name] for name, weight in weights.items() if weight > 0} if weights else {"label": "label"}
    missing = [name for name, column in asked.items() if not any(row.get(column) for row in ok)]
    if missing:
        raise ValueError(f"label store {store}: {' and '.join(missing)} missing in every labelled row, so there is nothing to train on")
    rows = _relabelled(ok, weights) if weights else [row for row in ok if row["label"]]
    report = LabelReport(
        store=str(store), weights={name: float(w) for name, w in weights.items()},
        signals=sorted({name for row in rows for name in row["signals"] or []}),
        store_weights=_distinct([w for record in _provenance(ok) if (w := (record.get("settings") or {}).get("weights"))]),
        rows=len(rows), failed=failed, without_signals=len(ok) - len(rows),
        coverage={name: _coverage(ok, column) for name, column in SIGNAL_COLUMNS.items()},
        label=_coverage(rows, "label"), labellers=_labellers(ok),
    )
    if report.label.varying == 0:
        raise ValueError(_constant(str(store), "label" if not weights else f"the label of {report.trained_on}", rows))
    return rows, report


__all__ = ["Coverage", "LabelReport", "training_labels"]
