"""How a question with answer options is written as one text, everywhere it is read: by the
pseudo-label scorers, in training, and at selection time, so the selector sees at inference the
same text it was trained on."""

from __future__ import annotations

import string
from collections.abc import Sequence


OPTIONS_HEADER = "Options:"


def question_with_options(question: str, options: Sequence[str] | None = None, header: str = OPTIONS_HEADER) -> str:
    """The question, then the options lettered A, B, C, ... on their own lines.

    The pseudo-label scorers ask their models this text; a selector asks its processor
    (`FrameSelectorProcessor.question_text`), which wraps this same text in the checkpoint's
    chat template."""
    if not options:
        return question
    if len(options) > len(string.ascii_uppercase):
        raise ValueError(f"{len(options)} options: at most {len(string.ascii_uppercase)} can be lettered")
    lines = [f"{string.ascii_uppercase[i]}. {option}" for i, option in enumerate(options)]
    return question + "\n" + header + "\n" + "\n".join(lines)


__all__ = ["OPTIONS_HEADER", "question_with_options"]
