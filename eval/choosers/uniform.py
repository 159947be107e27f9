"""The uniform baseline: what every method has to beat."""

from __future__ import annotations

import numpy as np

from selector import uniform as uniform_rule

from .base import Chooser


class UniformChooser(Chooser):
    """The middle candidate of each of k equal runs of candidates (uniform in time, since the
    candidates are)."""

    name = "uniform"

    def _choose(self, info, plan, candidates, questions, k, item_ids, options):
        positions = uniform_rule(np.zeros(len(candidates)), k)
        return [(positions, None, {}, {}) for _ in questions]


__all__ = ["UniformChooser"]
