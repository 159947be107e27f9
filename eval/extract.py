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
from collections.abc import Callable, Sequence
from typing import Literal

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
# Published parsers, reimplemented from their documented behaviour

# Video-MME's official prefix list, including its missing commas: two pairs of strings are
# concatenated by Python and never match, which changes results ("Best answer: C" -> "B").
_VIDEOMME_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option is" "The correct option is",
    "Best answer:" "Best option:",
    "Answer:",
    "Option:",
)
# LongVideoBench's list: the same idea, with the commas.
_LVB_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option is",
    "The correct option is",
    "Best answer:",
    "Best option:",
)


def videomme_official(reply: str) -> str | None:
    """Video-MME `eval_your_results.py::extract_characters_regex`: drop the answer prefixes, then
    the first A-D capital anywhere. (Its ">10 words without A-D" rule changes nothing: such a
    reply has no A-D to find.) Scored over answered questions only (`metrics`)."""
    text = reply.strip()
    for prefix in _VIDEOMME_PREFIXES:
        text = text.replace(prefix, "")
    match = re.search(r"[ABCD]", text)
    return match.group(0) if match else None


def mlvu_official(reply: str, letters: Sequence[str]) -> str | None:
    """MLVU `choice_bench.py::check_ans`: the character just before the first ")" (the prompt
    pre-fills "Best Option: ("), or, without a ")", the whole reply compared as a letter."""
    text = reply.strip()
    if ")" in text:
        end = text.index(")")
        text = text[end - 1 : end] if end else ""
    return text if text in letters else None


def longvideobench_parser(reply: str, letters: Sequence[str], rng: random.Random | None) -> str | None:
    """LongVideoBench's parser (lmms-eval `parse_multi_choice_response`): drop the answer
    prefixes, then the first A-E capital anywhere; otherwise a random option."""
    text = reply.strip()
    for prefix in _LVB_PREFIXES:
        text = text.replace(prefix, "")
    match = re.search(r"[ABCDE]", text)
    if match:
        return match.group(0)
    return rng.choice(list(letters)) if rng else None


def _mmmu_prepare(reply: str) -> str:
    text = reply
    for char in ",.!?;:'":
        text = text.strip(char)
    return f" {text} "


def nextqa_lmms_eval(reply: str, options: Sequence[str], letters: Sequence[str], rng: random.Random | None) -> str | None:
    """lmms-eval's NExT-QA parser (MMMU's): "(X)" forms, else "X ", else "X."; with none and
    more than 5 words, option texts; of several candidates the **last** mentioned; with none,
    a random option. Positions follow lmms-eval exactly, including its quirk of looking for
    " X " when the candidates came from "X." forms (then the first candidate wins)."""
    text = _mmmu_prepare(reply)
    candidates = [x for x in letters if f"({x})" in text]
    form = "bracket" if candidates else "letter"
    if not candidates:
        candidates = [x for x in letters if f"{x} " in text] or [x for x in letters if f"{x}." in text]
    if not candidates and len(text.split()) > 5:
        candidates = [x for x, o in zip(letters, options) if o.lower() in text.lower()]
        form = "content"
    if not candidates:
        return rng.choice(list(letters)) if rng else None
    if form == "bracket":
        positions = [text.rfind(f"({x})") for x in candidates]
    elif form == "content":
        positions = [text.lower().rfind(options[letters.index(x)].lower()) for x in candidates]
    else:
        positions = [text.rfind(f" {x} ") for x in candidates]
    return candidates[positions.index(max(positions))]


def egoschema_lmms_eval(reply: str, letters: Sequence[str], rng: random.Random | None) -> str | None:
    """lmms-eval's EgoSchema parser: "(X)", "X " and "X." forms collected together; of several
    candidates the **first** mentioned; with none, a random option."""
    text = _mmmu_prepare(reply)
    firsts = []
    for x in letters:
        positions = [text.find(form) for form in (f"({x})", f"{x} ", f"{x}.") if form in text]
        if positions:
            firsts.append((min(positions), x))
    if firsts:
        return min(firsts)[1]
    return rng.choice(list(letters)) if rng else None


_LMMS_PHRASES = (
    "the answer is", "answer is", "the correct answer is", "correct answer is", "the best answer is",
    "best answer is", "the correct option is", "correct option is", "the best option is", "best option is",
    "the choice is", "choice is", "the correct choice is", "correct choice is", "i choose", "i select",
    "i pick", "my answer is", "my choice is", "옵션", "정답은", "답은", "답:", "答案是", "答案为", "选", "答えは",
)
# (priority of a format; the highest priority wins, then the latest position)
_LMMS_FORMATS = (("({})", 6), ("{}.", 5), ("{}:", 4), ("{})", 3), ("{} ", 2))


def lmms_eval_mcq(reply: str, choices: Sequence[str] = tuple("ABCDEFGH")) -> str | None:
    """lmms-eval's shared `extract_mcq_answer` (since 2026-04-11), as documented: every letter
    found in every format is a candidate ranked by format (starts the reply 10, ends it 9,
    after an answer phrase 7, "(X)" 6, "X." 5, "X:" 4, "X)" 3, "X " 2, anywhere 0 and only when
    nothing else matched), then by position, latest first. Faithful to its quirks: after an
    answer phrase, every choice letter found later in the reply is a candidate, so
    "The answer is B. Option A is wrong" gives "A"."""
    if not reply or not reply.strip():
        return None
    text = reply.strip()
    for char in ",.!?;:'\"":
        text = text.strip(char)
    text = f" {text} "
    lower = text.lower()
    candidates: list[tuple[int, int, str]] = []  # (priority, position, letter)
    for pattern, priority in _LMMS_FORMATS:
        for x in choices:
            form = pattern.format(x)
            if form in text:
                candidates.append((priority, text.rfind(form), x))
    for phrase in _LMMS_PHRASES:
        at = lower.find(phrase)
        if at != -1:
            for x in choices:
                position = text.find(x, at + len(phrase))
                if position != -1:
                    candidates.append((7, position, x))
    core = text.strip()
    for x in choices:
        if core.startswith(x) and (len(core) == 1 or not core[1].isalpha()):
            candidates.append((10, 0, x))
        if core.endswith(x) and (len(core) == 1 or not core[-2].isalpha()):
            candidates.append((9, len(text) - 1, x))
    if not candidates:
        candidates = [(0, text.rfind(x), x) for x in choices if x in text]
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c[0], c[1]))[2]


# --------------------------------------------------------------------------------------------
# Dispatch

Extractor = Callable[[str, Record, random.Random | None], str | None]
_ABCD = tuple("ABCD")  # what lmms-eval passes for Video-MME and MLVU dev

EXTRACTORS: dict[str, dict[str, Extractor]] = {
    "official": {
        "videomme": lambda reply, record, rng: videomme_official(reply),
        "mlvu": lambda reply, record, rng: mlvu_official(reply, record.letters),
        "longvideobench": lambda reply, record, rng: longvideobench_parser(reply, record.letters, rng),
    },
    "lmms-eval": {
        "videomme": lambda reply, record, rng: lmms_eval_mcq(reply, _ABCD),
        "mlvu": lambda reply, record, rng: lmms_eval_mcq(reply, _ABCD),
        "longvideobench": lambda reply, record, rng: longvideobench_parser(reply, record.letters, rng),
        "nextqa": lambda reply, record, rng: nextqa_lmms_eval(reply, record.options, record.letters, rng),
        "egoschema": lambda reply, record, rng: egoschema_lmms_eval(reply, record.letters, rng),
    },
}


def methods_for(bench: str) -> list[str]:
    """The extraction methods a benchmark has (every benchmark has `default`)."""
    return ["default"] + [m for m in ("official", "lmms-eval") if bench in EXTRACTORS[m] or bench == "activitynetqa"]


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
    extractor = EXTRACTORS[method].get(record.bench)
    if extractor is None:
        raise ValueError(f"{record.bench} has no {method!r} answer extractor; it has {methods_for(record.bench)}")
    return extractor(reply, record, rng)


__all__ = [
    "EXTRACTORS",
    "METHODS",
    "default_mc",
    "egoschema_lmms_eval",
    "extract_answer",
    "lmms_eval_mcq",
    "longvideobench_parser",
    "methods_for",
    "mlvu_official",
    "nextqa_lmms_eval",
    "videomme_official",
]
