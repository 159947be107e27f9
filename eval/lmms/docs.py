"""What lmms-eval's docs carry that frame choosing needs: a key per doc, and the question with its
answer options.

The key template of a task (`DOC_KEYS`, by task-name prefix) gives the same id as
`eval.load_benchmark(..., layout="lmms-eval")` for the same question, so the manifest, the
plug-in's selection record and the label oracle agree on ids. The options matter because a
selector reads a multiple-choice question with its lettered options, as it was trained
(`selector.processing.FrameSelectorProcessor`); asking it the bare question field is a text it
never saw. Tasks name their options differently, so `doc_question` looks for the known shapes.
Both come from the benchmarks' own objects (`Benchmark.doc_key`, `Benchmark.doc_options`).
"""

from __future__ import annotations

import string
from collections.abc import Callable

from ..benchmarks import BENCHMARKS, split_embedded_options, strip_letter

# Doc key templates (`str.format` over an lmms-eval doc) that match `Record.id` of
# `eval.load_benchmark(..., layout="lmms-eval")` for the same question, by task-name prefix.
DOC_KEYS = {b.name: b.doc_key for b in BENCHMARKS.values() if b.doc_key}

# Fields that hold a doc's answer options, in the shapes the benchmarks' docs use: one list
# (Video-MME `options`, LongVideoBench and MLVU `candidates`, EgoSchema `option`), or numbered
# fields (NExT-QA `a0`..`a4`, LongVideoBench `option0`..`option4`). A doc's options are the first
# shape it has: lists before numbered fields, each in the registry's order.
_OPTION_FIELDS = [f for b in BENCHMARKS.values() for f in b.doc_options]
OPTION_LISTS = tuple(dict.fromkeys(f for f in _OPTION_FIELDS if "{}" not in f))
NUMBERED_OPTIONS = tuple(dict.fromkeys(f for f in _OPTION_FIELDS if "{}" in f))
# Placeholders for an option a row does not have (LongVideoBench pads to five with "N/A"). An
# empty string is an option: the official scripts letter options by position, empty ones included.
NOT_AN_OPTION = {"N/A", "n/a"}


def doc_key_template(task: str) -> str | None:
    """The known doc key template for an lmms-eval task name (by prefix), else None."""
    for prefix, template in DOC_KEYS.items():
        if task.startswith(prefix):
            return template
    return None


def format_key(template: str, doc: dict) -> str:
    """A doc's key from a `str.format` template over its fields (``"{video}_{qid}"``)."""
    try:
        return string.Formatter().vformat(template, (), doc)
    except (KeyError, IndexError) as error:
        raise KeyError(f"doc key template {template!r} names a field the doc lacks ({error}); fields: {sorted(doc)}") from None


def doc_options(doc: dict) -> list[str] | None:
    """The doc's answer options without letter prefixes, or None for an open-ended doc."""
    raw = None
    for field in OPTION_LISTS:
        value = doc.get(field)
        if value is not None and not isinstance(value, str) and len(value):
            raw = list(value)
            break
    if raw is None:
        for pattern in NUMBERED_OPTIONS:
            numbered = [doc.get(pattern.format(i)) for i in range(26)]
            if numbered[0] is not None:
                raw = [v for v in numbered if v is not None]
                break
    if raw is None:
        return None
    kept = [v for v in raw if v is not None and str(v).strip() not in NOT_AN_OPTION]
    options = [strip_letter(str(v), i) for i, v in enumerate(kept)]
    return options if len(options) >= 2 else None


def doc_question(
    doc: dict, question: str | Callable[[dict], str] = "question", options: str | Callable[[dict], list[str] | None] | None = "auto"
) -> tuple[str, list[str] | None]:
    """(question, options) of a doc, as a selector should be asked it.

    `question`: the field (or a function of the doc) with the question text. `options`: "auto"
    (the known option fields, else options written into the question text, as MLVU's docs do), a
    field name, a function of the doc, or None (the bare question)."""
    text = question(doc) if callable(question) else doc[question]
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"doc field {question!r} holds no question text" if not callable(question) else "no question text")
    text = text.strip()
    if options is None:
        return text, None
    if callable(options):
        found = options(doc)
        return text, list(found) if found else None
    if options != "auto":
        value = doc.get(options)
        if value is None:
            raise KeyError(f"doc has no options field {options!r}; fields: {sorted(doc)}")
        return text, [strip_letter(str(v), i) for i, v in enumerate(value)]
    found = doc_options(doc)
    if found is not None:
        return text, found
    stem, embedded = split_embedded_options(text)
    return (stem, embedded) if len(embedded) >= 2 and stem else (text, None)


__all__ = ["DOC_KEYS", "doc_key_template", "doc_options", "doc_question", "format_key"]
