"""Spatial pseudo-labels from any OpenAI-compatible server that returns logprobs (e.g. vLLM
serving Qwen2-VL): one chat request per frame, one generated token, and p(True) / (p(True) +
p(False)) read from that token's top logprobs."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..base import SpatialScorer
from .frame_backend import FrameBackend, image_message

log = logging.getLogger(__name__)

# Change the text -> bump the version: it is stored with every label.
SPATIAL_PROMPT_VERSION = "openai-spatial-v1"
SPATIAL_PROMPT = (
    "Question: {question}\n"
    "Does this video frame show information that helps answer the question? "
    "Answer with one word: True or False."
)


# Space markers a server may leave on a token string (byte-level BPE's "Ġ", SentencePiece's "▁").
_SPACE_MARKERS = "Ġ▁"


def answer_word(token: str | None) -> str | None:
    """The answer `token` spells, "true" or "false", for every tokenizer form of True and False
    ("True", " True", "true", "TRUE", "\\nFalse", ...); None for any other token. Models spell
    the answer in whichever of these their vocabulary prefers, so all of them are the same answer."""
    word = (token or "").strip().strip(_SPACE_MARKERS).strip().lower()
    return word if word in ("true", "false") else None


def score_from_top_logprobs(
    top_logprobs: Sequence[tuple[str, float]], sampled: str | None
) -> tuple[float, str | None]:
    """p(True) / (p(True) + p(False)) from the first generated token's top logprobs.

    Every form of each answer counts (`answer_word`: case and surrounding whitespace ignored) and
    their probabilities add up (" True" + "true" + ...). When neither answer appears: 1.0 / 0.0
    if the sampled token is a form of True / False, else 0.5. Returns (score, note), the note
    saying which fallback was used (None when none).
    """
    p = {"true": 0.0, "false": 0.0}
    for token, logprob in top_logprobs:
        word = answer_word(token)
        if word is not None:
            p[word] += float(np.exp(logprob))
    if p["true"] + p["false"] > 0.0:
        return p["true"] / (p["true"] + p["false"]), None
    word = answer_word(sampled)
    if word == "true":
        return 1.0, "no True/False in top logprobs; sampled token True -> 1.0"
    if word == "false":
        return 0.0, "no True/False in top logprobs; sampled token False -> 0.0"
    return 0.5, f"no True/False in top logprobs; sampled token {(sampled or '').strip()[:20]!r} -> 0.5"


class OpenAISpatialScorer(FrameBackend, SpatialScorer):
    """Spatial pseudo-labels from any OpenAI-compatible server that returns logprobs.

    One request per frame (image + question, "True or False"), `max_tokens=1`, temperature 0,
    `logprobs=True`, `top_logprobs` of them. Frames of one call go concurrently (at most
    `concurrency` requests in flight); scores come back in frame order.

    Frames whose reply had no True/False among the top logprobs get a fallback score (see
    `score_from_top_logprobs`): each is logged as a warning, returned by `score_with_notes`, and
    counted in `stats` ("frames", "fallback_sampled", "fallback_neutral"). A reply without logprobs
    is retried (`OpenAIBackend._chat`), never scored from the sampled token alone.

    Settings: `top_logprobs`, and those of `FrameBackend` (`concurrency`, `jpeg_quality`) and
    `OpenAIBackend` (`base_url`, `api_key`, `api_key_env`, `max_retries`, `timeout`, `retry_delay`,
    `extra_body`).
    """

    kind = "spatial"
    prompt_version = SPATIAL_PROMPT_VERSION

    def __init__(self, model: str, *, top_logprobs: int = 20, **settings: Any) -> None:
        super().__init__(model, **settings)
        self.top_logprobs = int(top_logprobs)
        self.stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()

    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "top_logprobs": self.top_logprobs, "max_tokens": 1}

    def request_body(self, image_url: str, question: str) -> dict[str, Any]:
        """The chat-completions JSON body for one frame (already a data URL)."""
        return self._with_extra(
            {
                "model": self.model,
                "messages": image_message(image_url, SPATIAL_PROMPT.format(question=question)),
                "max_tokens": 1,
                "temperature": 0.0,
                "logprobs": True,
                "top_logprobs": self.top_logprobs,
            }
        )

    def _score_one(self, i: int, image_url: str, question: str, n: int) -> tuple[float, str | None]:
        body = self.request_body(image_url, question)
        choice = self._chat(body, f"spatial chat.completions (frame {i} of {n})").choices[0]
        first = choice.logprobs.content[0]  # `_chat` retries replies without logprobs
        top = [(t.token, t.logprob) for t in (first.top_logprobs or [])]
        if not top:  # no alternatives: the sampled token is its own top-1
            top = [(first.token, first.logprob)]
        score, note = score_from_top_logprobs(top, first.token)
        with self._stats_lock:
            self.stats["frames"] += 1
            if note is not None:
                self.stats["fallback_neutral" if score == 0.5 else "fallback_sampled"] += 1
        if note is not None:
            note = f"frame {i}: {note}"
            log.warning("spatial scorer (model %s): %s", self.model, note)
        return score, note

    def score_with_notes(self, frames: Sequence[np.ndarray], question: str) -> tuple[np.ndarray, list[str]]:
        """`score`, plus one note per frame that needed a fallback."""
        n = len(frames)
        results = self._map_frames(frames, lambda i, url: self._score_one(i, url, question, n))
        scores = np.asarray([s for s, _ in results], dtype=np.float32).reshape(n)
        return scores, [note for _, note in results if note is not None]

    def score(self, frames: Sequence[np.ndarray], question: str) -> np.ndarray:
        return self.score_with_notes(frames, question)[0]


__all__ = ["OpenAISpatialScorer", "SPATIAL_PROMPT", "SPATIAL_PROMPT_VERSION", "answer_word", "score_from_top_logprobs"]
