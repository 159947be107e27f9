"""BOLT (Liu et al., CVPR 2025): inverse-transform sampling over image-text similarity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from selector.selection import check_k

from .base import Chooser, question_texts
from .similarity import SimilarityChooser


def inverse_transform_sample(scores: Sequence[float] | np.ndarray, k: int, power: float = 1.0) -> list[int]:
    """BOLT's inverse-transform sampling: k distinct positions drawn at evenly spaced quantiles
    of the score distribution, so frames land densely where scores are high and sparsely (but
    not never) elsewhere, unlike top-k.

    The scores are min-max normalised and raised to `power` (higher: more concentrated), made a
    CDF, and position i is the first candidate whose CDF exceeds (i + 0.5) / k, so that power 0
    gives exactly the uniform chooser's frames. Several
    quantiles can fall on one candidate; each repeat moves to the nearest free candidate (the
    higher-weighted side first, then the earlier one), so there are always exactly k.
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1 or not np.isfinite(values).all():
        raise ValueError("scores must be a finite one-dimensional array")
    n = len(values)
    check_k(k, n)
    if power < 0:
        raise ValueError(f"power must be >= 0, got {power}")
    low, high = values.min(), values.max()
    weights = ((values - low) / (high - low)) ** power if high > low else np.ones(n)
    cdf = np.cumsum(weights) / weights.sum()
    targets = (np.arange(k) + 0.5) / k
    used: set[int] = set()
    for position in np.minimum(np.searchsorted(cdf, targets, side="right"), n - 1):
        position = int(position)
        for distance in range(1, n) if position in used else ():
            free = [p for p in (position - distance, position + distance) if 0 <= p < n and p not in used]
            if free:
                position = max(free, key=lambda p: (weights[p], -p))
                break
        used.add(position)
    return sorted(used)


class BoltChooser(Chooser):
    """BOLT (Liu et al., CVPR 2025): inverse-transform sampling over SigLIP/CLIP similarity."""

    name = "bolt"

    def __init__(self, scorer: SimilarityChooser, power: float = 1.0) -> None:
        if power < 0:
            raise ValueError(f"power must be >= 0, got {power}")
        self.scorer = scorer
        self.power = power

    def settings(self) -> dict[str, Any]:
        return {"model": self.scorer.model_id, "power": self.power, "dtype": str(self.scorer.model.dtype)}

    def _choose(self, info, plan, candidates, questions, k, item_ids, options):
        questions = question_texts(questions, options)
        rows = self.scorer.similarities(info, candidates, questions)
        return [(inverse_transform_sample(row, k, self.power), row, {}, {}) for row in rows]


__all__ = ["BoltChooser", "inverse_transform_sample"]
