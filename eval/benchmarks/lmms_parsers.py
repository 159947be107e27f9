"""lmms-eval's reply parsers that several benchmarks' `lmms-eval` extraction shares: its
`extract_mcq_answer` (Video-MME, MLVU) and the MMMU-style clean-up before a letter is looked for
(NExT-QA, EgoSchema). Reimplemented from their documented behaviour, quirks included, so that
numbers compare with lmms-eval's (docs/evaluation.md, "Benchmark notes")."""

from __future__ import annotations

from collections.abc import Sequence

ABCD = tuple("ABCD")  # the choices lmms-eval passes for Video-MME and MLVU dev

_LMMS_PHRASES = (
    "the answer is", "answer is", "the correct answer is", "correct answer is", "the best answer is",
    "best answer is", "the correct option is", "correct option is", "the best option is", "best option is",
    "the choice is", "choice is", "the correct choice is", "correct choice is", "i choose", "i select",
    "i pick", "my answer is", "my choice is", "옵션", "정답은", "답은", "답:", "答案是", "答案为", "选", "答えは",
)
# (priority of a format; the highest priority wins, then the latest position)
_LMMS_FORMATS = (("({})", 6), ("{}.", 5), ("{}:", 4), ("{})", 3), ("{} ", 2))


def mmmu_prepare(reply: str) -> str:
    """The reply as MMMU-style parsers search it: outer punctuation stripped, padded with spaces."""
    text = reply
    for char in ",.!?;:'":
        text = text.strip(char)
    return f" {text} "


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


__all__ = ["ABCD", "lmms_eval_mcq", "mmmu_prepare"]
