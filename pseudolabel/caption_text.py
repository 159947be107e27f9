"""Caption text made safe for the temporal prompt, whichever captioner wrote it.

The temporal selector lists the captions one numbered line each, so a caption must be one line
of printable text, and a bounded one: a captioner that runs away (40,000 words of repetition
happen) would otherwise push the prompt past the text LLM's context and fail the item.
"""

from __future__ import annotations

import re

# Far above a one-sentence caption (64 tokens is about 300 characters), far below a context limit
# even for hundreds of candidates.
MAX_CAPTION_CHARS = 1000

# Control characters (NUL included) other than the whitespace that `str.split` already handles.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def one_line(text: object) -> str:
    """`text` with control characters (NUL bytes, ...) dropped and whitespace runs, newlines
    included, collapsed to single spaces."""
    return " ".join(_CONTROL.sub("", "" if text is None else str(text)).split())


def bounded_caption(text: object, max_chars: int = MAX_CAPTION_CHARS) -> tuple[str, int | None]:
    """`one_line(text)`, cut at a word boundary to at most `max_chars` characters plus " ...".
    Returns (caption, original length when cut, else None)."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, not {max_chars}")
    line = one_line(text)
    if len(line) <= max_chars:
        return line, None
    cut = line[: max_chars + 1].rsplit(" ", 1)[0] if " " in line[: max_chars + 1] else line[:max_chars]
    return cut[:max_chars] + " ...", len(line)


__all__ = ["MAX_CAPTION_CHARS", "bounded_caption", "one_line"]
