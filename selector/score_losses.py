"""The training losses a selector's scores may use, by name: the choice `FrameSelectorConfig`
validates and the `--score-loss` options offer.

It lives apart from `configuration.py` so that a command line can offer the names without
importing transformers (`frame-selector init --help` must answer at once).
"""

from __future__ import annotations

from typing import Literal, get_args

ScoreLoss = Literal["bce", "listwise", "bce+listwise"]
SCORE_LOSSES: tuple[str, ...] = get_args(ScoreLoss)

__all__ = ["ScoreLoss", "SCORE_LOSSES"]
