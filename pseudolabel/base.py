"""What a labelling job is made of: the items it labels and the three kinds of scorer it calls.

The job runner (`pseudolabel.job`) only talks to these interfaces, so a scorer can run in-process
through transformers or behind any OpenAI-compatible server without the runner knowing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from selector.prompts import question_with_options
from selector.records import VideoQuestion


@dataclass
class TemporalResult:
    """The text LLM's answer: the helpful candidate positions, and what had to be repaired.

    `indices` are 0-based candidate positions, sorted and unique, all in range. `notes` says
    what was wrong with the raw reply (out-of-range or duplicate indices dropped, JSON repaired,
    ...), empty when the reply was clean; the job stores it so bad replies can be audited.
    """

    indices: list[int]
    raw: str = ""
    notes: list[str] = field(default_factory=list)


class Scorer(ABC):
    """What the job asks of every scorer besides its work: provenance, and retries taken."""

    @abstractmethod
    def provenance(self) -> dict:
        """Model id and revision, mode, prompt version and settings, recorded with every label.
        Never includes credentials."""

    @property
    def retries_taken(self) -> int:
        """Requests retried so far, a running count: the job records each item's share. Remote
        backends count theirs; an in-process scorer never retries."""
        return 0


class SpatialScorer(Scorer):
    """Scores each frame alone: p(True) / (p(True) + p(False)) for "does this frame help answer
    the question"."""

    @abstractmethod
    def score(self, frames: Sequence[np.ndarray], question: str) -> np.ndarray:
        """frames: RGB uint8 (H, W, 3) arrays of one video's candidates; returns float32 (n,)
        scores in [0, 1]."""

    def score_many(self, frames: Sequence[np.ndarray], questions: Sequence[str]) -> list[np.ndarray]:
        """The questions of one video, which share its frames. A backend that saves work by
        taking them together overrides this; the job then hands it a video's questions at once."""
        return [self.score(frames, question) for question in questions]

    @property
    def batches_questions(self) -> bool:
        return type(self).score_many is not SpatialScorer.score_many


class Captioner(Scorer):
    """Writes a short caption per frame. Captions depend only on the video and the candidate
    plan, so the job caches them per video and reuses them for every question."""

    @abstractmethod
    def caption(self, frames: Sequence[np.ndarray]) -> list[str]:
        """One caption per frame, in order."""


class TemporalSelector(Scorer):
    """A text LLM that reads the numbered captions and the question and names the helpful frames."""

    @abstractmethod
    def select(self, captions: Sequence[str], seconds: Sequence[float], question: str) -> TemporalResult: ...

    def select_many(self, captions: Sequence[str], seconds: Sequence[float], questions: Sequence[str]) -> list[TemporalResult]:
        """The questions of one video, which share its captions. A backend that can batch them
        (one generation for all) overrides this; the job then hands it a video's questions at once."""
        return [self.select(captions, seconds, question) for question in questions]

    @property
    def batches_questions(self) -> bool:
        return type(self).select_many is not TemporalSelector.select_many


__all__ = ["TemporalResult", "Scorer", "SpatialScorer", "Captioner", "TemporalSelector"]
