"""Deterministic in-process scorers for testing the job machinery without any model."""

from __future__ import annotations

import time

import numpy as np

from pseudolabel.base import Captioner, SpatialScorer, TemporalResult, TemporalSelector


class BrightnessScorer(SpatialScorer):
    """Brighter frames score higher; counts calls, can sleep or fail on chosen questions."""

    def __init__(self, delay: float = 0.0, fail_on: set[str] | None = None):
        self.calls = 0
        self.delay = delay
        self.fail_on = set(fail_on or ())

    def score(self, frames, question):
        self.calls += 1
        time.sleep(self.delay)
        if question in self.fail_on:
            raise RuntimeError(f"scorer refused {question!r}")
        return np.array([f.mean() / 255.0 for f in frames], dtype=np.float32)

    def provenance(self):
        return {"backend": "test", "model": "brightness", "prompt_version": "t1"}


class IndexCaptioner(Captioner):
    def __init__(self):
        self.calls = 0

    def caption(self, frames):
        self.calls += 1
        return [f"frame with mean {f.mean():.1f}" for f in frames]

    def provenance(self):
        return {"backend": "test", "model": "index-captioner"}


class EveryFourth(TemporalSelector):
    """Picks every fourth caption, plus one out-of-range index it reports as repaired."""

    def select(self, captions, seconds, question):
        return TemporalResult(indices=list(range(0, len(captions), 4)), raw="{}", notes=["dropped index 999"])

    def provenance(self):
        return {"backend": "test", "model": "every-fourth"}
