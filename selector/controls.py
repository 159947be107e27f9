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

    A row with no partner (its video or group is the only one) is left out.
    """
    groups: dict[Hashable, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row[group_key] if group_key else None].append(row)
    swapped: dict[int, dict[str, Any]] = {}
    for group in groups.values():
        for i, row in enumerate(group):
            following = (group[(i + j) % len(group)] for j in range(1, len(group)))
            other = next((o for o in following if o[video_key] != row[video_key]), None)
            if other is not None:
                swapped[id(row)] = {**row, "question": other["question"], "options": other.get("options")}
    return [swapped[id(row)] for row in rows if id(row) in swapped]


__all__ = ["with_other_questions"]
