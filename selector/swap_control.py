"""The question-swap control: the selector's defining property, measured.

A selector that reads the question must choose other frames for another question. The control
asks each question with the words of a question about another video, while the question's own
evidence (labels, needles) stays the target: a question-blind event detector scores as well
under the swap as with its own question, a reader falls far below. Training validation and
every demo report show both, side by side.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from typing import Any


def with_other_questions(
    rows: Sequence[Mapping[str, Any]], video_key: str = "video", group_key: str | None = None
) -> list[dict[str, Any]]:
    """Each row with the `question` and `options` of the next row (in order, wrapping) about
    another video, everything else kept; with `group_key`, the partner comes from the same
    group (a question kind, so that only the content words change, not the form).

    The partner must ask in other words: the same text about another video ("What colour is the
    star?" asked of two videos) asks for the same thing, and a reader would rightly choose the
    same frames, so it would be counted as a failure to read. A row with no partner (its video,
    or every question of its group worded as its own, is the only one) is left out: a kind
    whose text never changes (a fixed multi-hop riddle) has no swap control.
    """
    groups: dict[Hashable, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row[group_key] if group_key else None].append(row)
    swapped: dict[int, dict[str, Any]] = {}
    for group in groups.values():
        for i, row in enumerate(group):
            following = (group[(i + j) % len(group)] for j in range(1, len(group)))
            other = next((o for o in following if o[video_key] != row[video_key] and _words(o) != _words(row)), None)
            if other is not None:
                swapped[id(row)] = {**row, "question": other["question"], "options": other.get("options")}
    return [swapped[id(row)] for row in rows if id(row) in swapped]


def _words(row: Mapping[str, Any]) -> str:
    """A question's wording, ignoring case and spacing."""
    return " ".join(str(row["question"]).lower().split())


__all__ = ["with_other_questions"]
