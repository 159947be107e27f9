"""One record type for every benchmark question: a `selector.records.VideoQuestion` with what
benchmarks add (letters, categories, subtitles, problems).

Each benchmark ships its questions in its own shape (nested JSON, CSV with index answers, Parquet
with lettered options, text answers, ...); a runner, a chooser and the metrics should never have
to know which. Loaders turn every row into a `Record`, and a row that cannot be evaluated (video
missing, fields malformed) still becomes a `Record`, with `problem` saying why, so a report can
count it instead of quietly shrinking the benchmark.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Literal

from selector.records import VideoQuestion

LETTERS = string.ascii_uppercase


def letter_of(index: int) -> str:
    """The option letter of a 0-based option index (0 -> "A")."""
    if not 0 <= index < len(LETTERS):
        raise ValueError(f"option index {index} has no letter")
    return LETTERS[index]


def index_of(letter: str) -> int:
    """The 0-based option index of an option letter ("A" -> 0)."""
    if len(letter) != 1 or letter.upper() not in LETTERS:
        raise ValueError(f"{letter!r} is not an option letter")
    return LETTERS.index(letter.upper())


@dataclass(kw_only=True)
class Record(VideoQuestion):
    """A benchmark question, normalised: a `VideoQuestion` (`id` is the benchmark's own question
    key, unique within the benchmark; `video` the resolved video file, or when it was not found
    the first path tried; `answer` the correct option's text or the open-ended answer) with what
    a benchmark adds.

    Attributes:
        bench: the benchmark's name (`eval.benchmarks.BENCHMARKS`: `videomme`,
            `longvideobench`, ...).
        answer_letter: the correct option's letter (multiple choice); None when unknown, or when
            the benchmark's answer text matches no option (MLVU has such items).
        answer_type: "mc" (multiple choice) or "open" (free text, judged).
        video_id: the benchmark's video key; questions sharing it share a video.
        duration_s: the video length the benchmark states, in seconds, if it states one.
        categories: what the benchmark reports accuracy by (duration bucket, task type, ...),
            as strings; `metrics.summarize` groups by every key found here.
        subtitle_path: subtitle file, when the benchmark has one and it exists.
        subtitle_offset_s: seconds to subtract from subtitle times (LongVideoBench).
        source: the annotation file (and row) the record came from, for tracing problems back.
        notes: why a question is odd although it is scored, as its benchmark's official script
            scores it (repeated or empty options, an empty answer, an answer that is none of the
            options); a report counts these instead of leaving them to be found by hand.
    """

    bench: str
    answer_letter: str | None = None
    answer_type: Literal["mc", "open"] = "mc"
    video_id: str = ""
    duration_s: float | None = None
    categories: dict[str, str] = field(default_factory=dict)
    subtitle_path: str | None = None
    subtitle_offset_s: float | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def letters(self) -> list[str]:
        """The letters of this question's options, in order."""
        return [letter_of(i) for i in range(len(self.options))]

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def unanswerable(self) -> bool:
        """A multiple-choice question whose stated answer is none of its options: no reply can
        be right, as in the official MLVU scoring; reports count these separately."""
        return self.answer_type == "mc" and self.answer_letter is None and self.answer is not None


__all__ = ["LETTERS", "Record", "index_of", "letter_of"]
