"""How a question with answer options is written as one text, everywhere it is read: by the
pseudo-label scorers, in training, and at selection time, so the selector sees at inference the
same text it was trained on."""

from __future__ import annotations

import string
from collections.abc import Sequence


def question_with_options(question: str, options: Sequence[str] | None = None) -> str:
    """The question, then the options lettered A, B, C, ... on their own lines."""
    if not options:
        return question
    lines = [f"{string.ascii_uppercase[i]}. {option}" for i, option in enumerate(options)]
    return question + "\nOptions:\n" + "\n".join(lines)


__all__ = ["question_with_options"]
