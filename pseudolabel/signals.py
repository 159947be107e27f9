"""The label signals that need no model: annotation spans, and the combination of all signals.

Every signal is stored separately next to the combined label, so a user can recombine with other
weights without rerunning anything (`combine` is what the job uses, and what they would call).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from selector.label_store import SIGNAL_COLUMNS, combine_signals

DEFAULT_WEIGHTS = {"spatial": 1.0, "temporal": 1.0, "spans": 1.0}


def span_label(
    seconds: Sequence[float], duration: float, spans: Sequence[tuple[float, float]], mode: str = "binary"
) -> np.ndarray:
    """Ground-truth spans as a per-candidate label.

    `binary`: 1 when the candidate's time lies inside a span. `overlap`: the fraction of the
    stretch a candidate stands for (from its time to the next candidate's) covered by spans, so
    a sparse candidate next to a short span still gets partial credit.
    """
    times = np.asarray(seconds, dtype=np.float64)
    if mode == "binary":
        inside = np.zeros(len(times), dtype=bool)
        for start, end in spans:
            inside |= (times >= start) & (times <= end)
        return inside.astype(np.float32)
    if mode != "overlap":
        raise ValueError(f"span mode must be 'binary' or 'overlap', not {mode!r}")
    ends = np.append(times[1:], max(duration, times[-1] if len(times) else 0.0))
    covered = np.zeros(len(times))
    for start, end in _merged(spans):
        covered += np.clip(np.minimum(ends, end) - np.maximum(times, start), 0, None)
    width = ends - times
    return np.where(width > 0, covered / np.where(width > 0, width, 1), span_label(times, duration, spans)).astype(np.float32)


def _merged(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping spans joined, so overlap is not counted twice."""
    merged: list[list[float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def temporal_label(indices: Sequence[int], n: int) -> np.ndarray:
    """The text LLM's chosen candidates as a 0/1 vector."""
    label = np.zeros(n, dtype=np.float32)
    label[list(indices)] = 1.0
    return label


def combine(signals: Mapping[str, np.ndarray | None], weights: Mapping[str, float] | None = None) -> tuple[np.ndarray, list[str]]:
    """Weighted mean of the signals that are present (and have a non-zero weight); the paper's
    label is the plain mean of spatial and temporal. Returns the label and the signals used.
    The rule is `selector.label_store.combine_signals`, which training uses to recombine a store."""
    row = {SIGNAL_COLUMNS[name]: value for name, value in signals.items()}
    combined = combine_signals(row, DEFAULT_WEIGHTS if weights is None else weights)
    if combined is None:
        raise ValueError("no signal to combine: every scorer is off or weighted 0")
    return combined


def parse_weights(text: str) -> dict[str, float]:
    """`spatial=1,temporal=1,spans=2` -> weights; unknown names are an error."""
    weights = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name not in DEFAULT_WEIGHTS:
            raise ValueError(f"unknown signal {name!r} in weights; use {sorted(DEFAULT_WEIGHTS)}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise ValueError(f"weight for {name!r} is not a number: {value!r}") from None
        if weights[name] < 0:
            raise ValueError(f"weight for {name!r} must be >= 0")
    return {**{k: 0.0 for k in DEFAULT_WEIGHTS}, **weights} if weights else dict(DEFAULT_WEIGHTS)


__all__ = ["span_label", "temporal_label", "combine", "parse_weights", "DEFAULT_WEIGHTS"]
