"""Scoring a choice of frames on the needle world: did it catch the evidence, and would a reader
that sees only those frames answer right?

The oracle reader knows what every frame shows (the world's ground truth) but sees only the
chosen frames, so its accuracy depends on the frames alone: it answers correctly when the frames
hold the evidence, counts only the appearances it saw, and otherwise guesses. A guess counts as
1/len(options) (its expected value), which keeps the figures free of guessing noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def seen(row: Mapping[str, Any], indices: Sequence[int]) -> list[bool]:
    """For each needle the question needs, whether a chosen frame index shows it."""
    return [any(first <= i <= last for i in indices) for first, last in row["frames"]]


def evidence_recall(row: Mapping[str, Any], indices: Sequence[int]) -> bool:
    """All of the question's needles were chosen (at least one frame of each)."""
    return all(seen(row, indices))


def oracle_accuracy(row: Mapping[str, Any], indices: Sequence[int]) -> float:
    """1 or 0 where the reader can answer from the frames, 1/len(options) where it must guess."""
    hits = seen(row, indices)
    guess = 1.0 / len(row["options"])
    if row["kind"] == "counting":
        count = sum(hits)  # it reports the appearances it saw, right or wrong
        return guess if count == 0 else float(str(count) == row["answer"])
    return 1.0 if all(hits) else guess


def score_choice(row: Mapping[str, Any], indices: Sequence[int]) -> dict[str, Any]:
    """Per-question figures: recall, the share of needed needles seen, reader accuracy."""
    hits = seen(row, indices)
    return {
        "recall": float(all(hits)),
        "needles_seen": sum(hits) / len(hits),
        "accuracy": oracle_accuracy(row, indices),
    }


__all__ = ["seen", "evidence_recall", "oracle_accuracy", "score_choice"]
