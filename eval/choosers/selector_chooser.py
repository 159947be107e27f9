"""The trained frame selector, as one chooser among the baselines."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from selector import CandidatePlan, Frame, FrameSelector, VideoInfo
from selector import choose as choose_rule
from selector.processing import Options
from selector.selection import nms_delta

from .base import Chooser


class SelectorChooser(Chooser):
    """The trained frame selector, scoring the same candidates as every other chooser."""

    name = "selector"

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        rule: str = "nms",
        delta: int | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        if rule not in ("nms", "topk", "uniform"):
            raise ValueError(f"unknown selection rule {rule!r}; choose nms, topk or uniform")
        self.selector = FrameSelector.from_pretrained(path, device=device)
        self.path = os.fspath(path)
        self.rule = rule
        self.delta = delta
        self._cache: tuple[tuple, np.ndarray] | None = None

    def settings(self) -> dict[str, Any]:
        return {"model": self.path, "rule": self.rule, "delta": self.delta, "dtype": str(self.selector.model.dtype)}

    def decode_size(self, info: VideoInfo) -> tuple[int, int]:
        return self.selector.image_size, self.selector.image_size

    def scores(
        self, info: VideoInfo, plan: CandidatePlan, candidates: Sequence[Frame], questions: Sequence[str], options: Sequence[Options]
    ) -> np.ndarray:
        """Every candidate's score for every question, (q, n). The last video's scores are kept,
        so comparing several k on one video scores it once."""
        key = (info.path, plan, tuple(c.index for c in candidates), tuple(questions), tuple(tuple(o or ()) for o in options))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        _, frames, scores = self.selector.score(info, list(questions), plan, options=list(options))
        if [f.index for f in frames] != [c.index for c in candidates]:
            raise RuntimeError(f"the selector laid out other candidates than the plan gives for {info.path}")
        self._cache = (key, scores)
        return scores

    def _choose(self, info, plan, candidates, questions, k, item_ids, options):
        scores = self.scores(info, plan, candidates, questions, options)
        results = []
        for row in scores:
            resolved = {"delta": nms_delta(len(row), k) if self.delta is None else self.delta} if self.rule == "nms" else {}
            results.append((choose_rule(self.rule, row, k, self.delta), row, resolved, {}))
        return results


__all__ = ["SelectorChooser"]
