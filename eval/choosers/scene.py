"""Scene changes: a question-agnostic baseline that spends the budget on distinct shots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from selector import Frame, VideoInfo, read_frames, topk
from selector import uniform as uniform_rule

from .base import Chooser


class SceneChangeChooser(Chooser):
    """The candidates that open the k largest visual changes: a question-agnostic baseline that
    spends the budget on distinct shots rather than on evenly spaced moments.

    A candidate's change is the total-variation distance (0..1) between the joint RGB colour
    histograms of it and the candidate before it; the first candidate opens the first shot and
    counts as a full change (1.0). When fewer than k candidates differ from their predecessor at
    all (a still video), the rest are spread uniformly over the remaining candidates, and the
    choice's notes say how many.
    """

    name = "scene"

    def __init__(self, bins: int = 8, size: int = 64) -> None:
        if not 2 <= bins <= 64 or size < 8:
            raise ValueError(f"scene chooser needs 2 <= bins <= 64 and size >= 8, got bins={bins}, size={size}")
        self.bins = bins
        self.size = size

    def settings(self) -> dict[str, Any]:
        return {"bins": self.bins, "size": self.size, "histogram": "joint RGB", "distance": "total variation"}

    def decode_size(self, info: VideoInfo) -> tuple[int, int]:
        return self.size, self.size

    def changes(self, info: VideoInfo, candidates: Sequence[Frame]) -> np.ndarray:
        """Every candidate's colour change from the one before, in [0, 1]."""
        frames = read_frames(info, [c.index for c in candidates], size=self.decode_size(info))
        q = (frames.astype(np.int64) * self.bins) // 256
        codes = (q[..., 0] * self.bins + q[..., 1]) * self.bins + q[..., 2]
        hist = np.stack([np.bincount(c.ravel(), minlength=self.bins**3) for c in codes]).astype(np.float64)
        hist /= hist.sum(axis=1, keepdims=True)
        return np.concatenate([[1.0], 0.5 * np.abs(np.diff(hist, axis=0)).sum(axis=1)])

    def _choose(self, info, plan, candidates, questions, k, item_ids, options):
        change = self.changes(info, candidates)
        moving = int((change > 0).sum())
        if moving >= k:
            positions, notes = topk(change, k), {}
        else:
            picked = [int(i) for i in np.flatnonzero(change > 0)]
            rest = [int(i) for i in np.flatnonzero(change == 0)]
            filled = [rest[j] for j in uniform_rule(np.zeros(len(rest)), k - len(picked))]
            positions, notes = picked + filled, {"filled_uniformly": k - len(picked)}
        return [(positions, change, {}, dict(notes)) for _ in questions]


__all__ = ["SceneChangeChooser"]
