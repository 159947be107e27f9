"""One record type for "a question about a video", shared by labelling, evaluation and the needle
world.

Labelling manifests, benchmark loaders and the synthetic world all describe the same thing: a
video, a question about it, perhaps options and an answer, perhaps the spans where the evidence
is. With one type, a row written by one part reads the same in every other, under the same field
names; each part extends it (a `kw_only` dataclass subclass) with only the facts of its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .prompts import question_with_options


@dataclass
class VideoQuestion:
    """A question about a video.

    Attributes:
        id: the question's key, unique within its manifest or benchmark.
        video: the video file.
        question: the question text, without options.
        options: the answer options, without letter prefixes (option i is letter A + i);
            empty for an open-ended question.
        answer: the answer as text: the correct option's text for multiple choice, the
            reference answer for an open-ended question; None when unknown.
        spans: annotated (start, end) seconds where the evidence is; empty when not annotated.
        problem: why the question cannot be served (its video is missing, its row is malformed);
            None when it can. A flagged question is kept and reported, not silently dropped.
    """

    id: str
    video: str
    question: str
    options: list[str] = field(default_factory=list)
    answer: str | None = None
    spans: list[tuple[float, float]] = field(default_factory=list)
    problem: str | None = None

    def with_options(self) -> str:
        """The question with its lettered options: what the pseudo-label scorers and the
        text-embedding baselines read. (A selector reads its processor's text, which wraps this
        same text in its chat template.)"""
        return question_with_options(self.question, self.options)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready row (a manifest line) with every field, the subclass's included."""
        return asdict(self)


__all__ = ["VideoQuestion"]
