"""Multiple-choice pieces every benchmark needs: option texts without their letters, the answer
as a letter whatever the benchmark gives (letter, index or text), and the record built from them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..records import LETTERS, Record, index_of, letter_of
from .rows import question_text

_LETTER_PREFIX = re.compile(r"^\s*\(?([A-Z])\s*[.):]\s*")


def strip_letter(option: str, position: int) -> str:
    """An option's text without its "A. " / "(A) " / "A) " / "A: " prefix.

    Only the letter of the option's own position is stripped, so an option whose text happens
    to start with a capital and a full stop ("I. M. Pei") keeps it.
    """
    text = str(option).strip()
    match = _LETTER_PREFIX.match(text)
    if match and match.group(1) == letter_of(position):
        return text[match.end() :].strip()
    return text


def answer_letter(value: Any, n_options: int) -> str:
    """A letter from an answer given as a letter, an index, or an index in a string ("2")."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"answer {value!r} is neither a letter nor an option index")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        index = int(value)
    elif isinstance(value, float) and value.is_integer():
        index = int(value)
    elif isinstance(value, str) and len(value.strip()) == 1 and value.strip().upper() in LETTERS:
        index = LETTERS.index(value.strip().upper())
    else:
        raise ValueError(f"answer {value!r} is neither a letter nor an option index")
    if not 0 <= index < n_options:
        raise ValueError(f"answer {value!r} is outside the {n_options} options")
    return letter_of(index)


def norm_text(text: str) -> str:
    """Text as compared with an option: case, spacing and a final full stop ignored."""
    return " ".join(str(text).casefold().split()).rstrip(".").strip()


def text_letter(answer: str, options: Sequence[str]) -> str | None:
    """The letter of the option whose text is `answer` (case, spacing and a final full stop
    ignored), or None when no option matches."""
    wanted = norm_text(answer)
    for i, option in enumerate(options):
        if norm_text(option) == wanted:
            return letter_of(i)
    return None


def clean_options(values: Iterable[Any]) -> list[str]:
    """Option texts without letter prefixes, each at its position's letter.

    An empty option is kept, not dropped: every official script letters options by position
    (MLVU's `choice_bench.py` letters an empty candidate like any other), so dropping it would
    move every later letter; `option_notes` records it. A missing option (None), or fewer than
    two, makes the row malformed."""
    values = list(values)
    if any(v is None for v in values):
        raise ValueError(f"missing option in {values!r}")
    options = [strip_letter(v, i) for i, v in enumerate(values)]
    if len(options) < 2:
        raise ValueError(f"expected at least two options, got {options!r}")
    return options


def option_notes(options: Sequence[str]) -> list[str]:
    """Why a question's options are odd though the official scripts score them: empty options
    (shown to a model as a bare letter) and texts that two letters share (a reply naming the
    other letter is scored wrong)."""
    notes = []
    empty = [letter_of(i) for i, option in enumerate(options) if not option]
    if empty:
        many = len(empty) > 1
        notes.append(f"empty option{'s' if many else ''} {', '.join(empty)}, kept at {'their letters' if many else 'its letter'}")
    shared: dict[str, list[str]] = {}
    for i, option in enumerate(options):
        if option:
            shared.setdefault(option, []).append(letter_of(i))
    for text, letters in shared.items():
        if len(letters) > 1:
            notes.append(f"options {' and '.join(letters)} are {'both' if len(letters) == 2 else 'all'} {text!r}")
    return notes


def multiple_choice(bench: str, id: str, video: str, question: Any, options: list[str], letter: str | None, **fields: Any) -> Record:
    """A multiple-choice record whose answer text is its correct option's, for the benchmarks
    that give only the letter (or index) of the answer."""
    answer = None if letter is None else options[index_of(letter)]
    return Record(
        id=id, video=video, question=question_text(question), options=options, answer=answer, bench=bench, answer_letter=letter,
        notes=option_notes(options), **fields
    )


__all__ = ["answer_letter", "clean_options", "multiple_choice", "norm_text", "option_notes", "strip_letter", "text_letter"]
