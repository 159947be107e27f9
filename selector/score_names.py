"""The score head's options by name: the training losses and the read-outs a selector may use,
the choices `FrameSelectorConfig` validates and the `--score-loss` / `--score-readout` options offer.

They live apart from `configuration.py` so that a command line can offer the names without
importing transformers (`frame-selector init --help` must answer at once); each read-out's head is
`selector.score_head.READOUTS[name]`.
"""

from __future__ import annotations

from typing import Literal, get_args

ScoreLoss = Literal["bce", "listwise", "bce+listwise"]
SCORE_LOSSES: tuple[str, ...] = get_args(ScoreLoss)

ScoreReadout = Literal["query_mlp", "frame_match"]
SCORE_READOUTS: tuple[str, ...] = get_args(ScoreReadout)

__all__ = ["SCORE_LOSSES", "SCORE_READOUTS", "ScoreLoss", "ScoreReadout"]
