"""Reading the chosen option out of a model's reply.

The same replies give different accuracies under different parsers (lmms-eval changed its parsers
in April 2026 and moved published numbers: docs/evaluation.md, "Benchmark notes"), so the parser
is a setting, recorded with every result:

* `default`: this package's parser, deterministic and conservative (rules below). Use it to
  compare frame choosers with each other.
* `official`: the benchmark authors' own parser, where they published one (Video-MME's
  `extract_characters_regex`, MLVU's `check_ans`, LongVideoBench's parser, which lmms-eval
  copied from its authors). Use it to compare with numbers from those scripts.
* `lmms-eval`: what lmms-eval does today: its shared `extract_mcq_answer` for Video-MME and MLVU
  (with the choices A-D it passes), its MMMU-style parsers for NExT-QA (last mention wins) and
  EgoSchema (first mention wins), and the LongVideoBench parser.

Each published parser lives in its benchmark's module (`eval.benchmarks.<name>`, registered in
its `Benchmark.extractors`); lmms-eval's shared ones in `eval.benchmarks.lmms_parsers`.

Some of those parsers guess a random option when they find none; here they return None unless
a `random.Random` is passed as `rng`, so that no number depends on a hidden seed (the metrics
report unparsed replies separately).

Open-ended questions (ActivityNet-QA) have nothing to extract: every method returns the reply,
stripped, for the judge (or None when it is empty).

Default rules, first that applies wins (`X` is a letter of the record's options):

1. The whole reply is one letter, bare or wrapped: "B", "b", "(B)", "B.", "**B**", "[B]".
2. Explicit declarations, "answer is B", "Answer: (B)", "the best option is B", "I choose B",
   "option B is correct": the **last** one wins (a model that reasons first states its final
   choice last). A declared letter that is not an option, or "B or C", gives None rather
   than a guess.
3. A label at the start: "B. Candles", "(B) Candles", "B) ...", "B: ...", "B because ...";
   "B or C" gives None.
4. Standalone letters anywhere ("I think (C) fits", "C is right"): when they all name one
   option, that option; when they name several, None (ambiguous).
5. Option text: the reply is an option's text, or contains exactly one option's text (after
   case and punctuation are ignored; an option contained in another matched option gives way
   to the longer one).
6. Otherwise None.

"A" followed by a lowercase word ("A man opens the door") is read as the article, not as
option A, unless the word is a connective such as "because" or "is". `<think>...</think>`
blocks are removed first.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Literal

from .benchmarks import BENCHMARKS
from .records import LETTERS, Record

Method = Literal["default", "official", "lmms-eval"]
METHODS: tuple[str, ...] = ("default", "official", "lmms-eval")

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)
_OPEN = "([{*_`\"'“‘"
_CLOSE = ")]}*_`\"'”’"
_CONNECTIVES = {"because", "since", "as", "is", "was", "seems", "appears", "looks", "fits", "matches", "best", "would", "should", "which", "that", "or", "and"}


# --------------------------------------------------------------------------------------------
# Default parser


def _strip_reasoning(reply: str) -> str:
    return _THINK.sub(" ", reply).strip()


def _letter_at(text: str, start: int, letters: Sequence[str]) -> tuple[str, int] | None:
    """The option letter written at `start` (after spaces and opening wrappers), and where it
    ends; None when the characters there are not a standalone letter (a word, an article)."""
    i = start
    while i < len(text) and (text[i].isspace() or text[i] in _OPEN):
        i += 1
    if i >= len(text) or not ("A" <= text[i] <= "Z"):
        return None
    letter, end = text[i], i + 1
    if end < len(text) and (text[end].isalnum() or text[end] in "'’"):
        return None
    wrapped = i > start and text[i - 1] in _OPEN
    if letter == "A" and not wrapped:
        following = re.match(r"[ \t]+([a-z]+)", text[end:])
        if following and following.group(1) not in _CONNECTIVES:
            return None  # the article
    if letter not in letters:
        return None
    while end < len(text) and text[end] in _CLOSE:
        end += 1
    return letter, end


_ALTERNATIVE = re.compile(r"\s*(?:or|and|/|,)\s*\(?[A-Z]\)?(?![A-Za-z0-9])")
_DECLARATION = re.compile(
    r"\b(?:answer|option|choice)\s*(?:is|:|：|=)\s*(?:(?:option|choice)\s+)?"
    r"|\bI\s+(?:would\s+)?(?:choose|select|pick|go\s+with)\s+(?:(?:option|choice)\s+)?"
    r"|\b(?:option|choice)\s+(?=\(?[A-Z]\)?\s+is\s+(?:the\s+)?(?:correct|right|best)\b)",
    re.I,
)
_BARE = re.compile(r"^[\s*_`\"'“‘(\[{]*([A-Za-z])[\s*_`\"'”’)\]}.,:;!?]*$")
_STANDALONE = re.compile(r"(?<![A-Za-z0-9'’])\(?[A-Z]\)?(?![A-Za-z0-9'’])")


def _declared(text: str, letters: Sequence[str]) -> str | None | Literal[False]:
    """The last explicit declaration's letter; None when it names no valid single option;
    False when the reply declares nothing."""
    result: str | None | Literal[False] = False
    for match in _DECLARATION.finditer(text):
        found = _letter_at(text, match.end(), LETTERS)
        if found is None:
            continue  # "the answer is that the man ...": no letter declared here
        letter, end = found
        ambiguous = _ALTERNATIVE.match(text, end) is not None
        result = letter if letter in letters and not ambiguous else None
    return result


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def _by_option_text(text: str, options: Sequence[str], letters: Sequence[str]) -> str | None:
    reply = _normalise(text)
    normalised = [_normalise(o) for o in options]
    exact = [letters[i] for i, o in enumerate(normalised) if o and o == reply]
    if len(exact) == 1:
        return exact[0]
    padded = f" {reply} "
    found = [i for i, o in enumerate(normalised) if o and f" {o} " in padded]
    longest = [i for i in found if not any(j != i and f" {normalised[i]} " in f" {normalised[j]} " for j in found)]
    return letters[longest[0]] if len(longest) == 1 else None


def default_mc(reply: str, options: Sequence[str]) -> str | None:
    """The option letter a reply chooses, by the module's default rules; None when unclear."""
    letters = list(LETTERS[: len(options)])
    text = _strip_reasoning(reply)
    if not text:
        return None
    bare = _BARE.match(text)
    if bare:
        letter = bare.group(1).upper()
        return letter if letter in letters else None
    declared = _declared(text, letters)
    if declared is not False:
        return declared
    leading = _letter_at(text, 0, letters)
    if leading is not None:
        return None if _ALTERNATIVE.match(text, leading[1]) else leading[0]
    standalone = {found[0] for m in _STANDALONE.finditer(text) if (found := _letter_at(text, m.start(), letters))}
    if len(standalone) == 1:
        return standalone.pop()
    if len(standalone) > 1:
        return None
    return _by_option_text(text, options, letters)


# --------------------------------------------------------------------------------------------
# Dispatch: the published parsers are each benchmark's own (`Benchmark.extractors`)


def methods_for(bench: str) -> list[str]:
    """The extraction methods a benchmark has (every benchmark has `default`; an open-ended one
    has every method, since each hands over the reply)."""
    benchmark = BENCHMARKS.get(bench)
    if benchmark is None:
        return ["default"]
    return ["default"] + [m for m in ("official", "lmms-eval") if m in benchmark.extractors or benchmark.open_ended]


def extract_answer(reply: str | None, record: Record, method: Method = "default", rng: random.Random | None = None) -> str | None:
    """The option letter `reply` chooses for `record` (or, open-ended, the answer text).

    Args:
        reply: the model's reply; None (no reply) gives None.
        record: the question, for its benchmark and options.
        method: `default`, `official` or `lmms-eval` (see the module docstring).
        rng: where a published parser guesses at random, the generator it guesses with; None
            returns None instead of guessing.

    Returns:
        An uppercase letter (possibly one that is not among the options, where the published
        parser returns such letters), the stripped reply for open-ended questions, or None when
        nothing could be read.

    Raises:
        ValueError: an unknown method, or one the benchmark does not have (NExT-QA and EgoSchema
            publish no text parser of their own).
    """
    if method not in METHODS:
        raise ValueError(f"unknown extraction method {method!r}; choose from {METHODS}")
    if reply is None:
        return None
    if record.answer_type == "open":
        return reply.strip() or None
    if method == "default":
        return default_mc(reply, record.options)
    benchmark = BENCHMARKS.get(record.bench)
    extractor = benchmark.extractors.get(method) if benchmark is not None else None
    if extractor is None:
        raise ValueError(f"{record.bench} has no {method!r} answer extractor; it has {methods_for(record.bench)}")
    return extractor(reply, record, rng)


__all__ = ["METHODS", "default_mc", "extract_answer", "methods_for"]
