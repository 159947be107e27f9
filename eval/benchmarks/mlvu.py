"""MLVU dev (multiple choice): official `json/<n>_<task>.json` or lmms-eval's Parquet. Its two
generation tasks (sub-scene captioning and summary) are left out: they are not part of its
multiple-choice score (M-Avg).

Layout: `mlvu/` holds `json/<n>_<task>.json` or `**/test*.parquet`, the videos as
`video/<n>_<task>/<video>` (official), `<video_name>` or `video/**/<video_name>`.

Scoring rules followed: the official `choice_bench.py` for the official files; lmms-eval's
`mlvu_dev` task for the Parquet copies, whose answer is already a letter.
- Letters: candidates are lettered by position; the answer is the candidate whose text equals
  the answer text exactly (`choice_bench_letter`).
- Repeated options: the script keeps the *last* matching candidate, so the later letter is the
  correct one (noted).
- Empty options: lettered like any other, and an empty answer is matched like any text (noted).
- Unanswerable rows: an answer equal to no candidate is lettered "@" by the script, so no reply
  is right; the record keeps the answer text with no letter (`Record.unanswerable`, noted).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..records import LETTERS, Record, index_of, letter_of
from .benchmark import Benchmark, accuracy
from .choices import clean_options, norm_text, option_notes, text_letter
from .files import VIDEO_EXTENSIONS, Layout, find_files, pick_layout, read_json, read_parquet, resolve_video
from .lmms_parsers import ABCD, lmms_eval_mcq
from .rows import normalise_rows, question_text, to_float

_MLVU_GENERATION = {"subPlot", "summary", "sub_scene", "sub_scene_captioning", "video_summary"}
_MLVU_TASK_NAMES = {"needle": "findNeedle"}  # lmms-eval's task_type -> the official question_type
_EMBEDDED_OPTION = re.compile(r"^\s*\(?([A-Z])[.):]\s*(.*\S)\s*$")


def split_embedded_options(text: str) -> tuple[str, list[str]]:
    """Separate a question whose options are written into it ("...\\n(A) x\\n(B) y") into the
    question and the option texts; lines must run A, B, C, ... to count as options."""
    lines = text.splitlines()
    for start, line in enumerate(lines):
        match = _EMBEDDED_OPTION.match(line)
        if not match or match.group(1) != "A":
            continue
        options = []
        for follow in lines[start:]:
            m = _EMBEDDED_OPTION.match(follow)
            if not m or m.group(1) != letter_of(len(options)):
                break
            options.append(m.group(2).strip())
        if len(options) >= 2:
            stem = [x for x in lines[:start] if x.strip()]
            if stem and stem[-1].strip().rstrip(":").lower() == "options":
                stem.pop()
            return "\n".join(stem).strip(), options
    return text.strip(), []


def choice_bench_letter(answer: Any, candidates: Sequence[Any]) -> str | None:
    """The answer's letter as MLVU's official `choice_bench.py` finds it: every candidate that
    equals the answer exactly overwrites the last, so of repeated candidates the *last* is the
    correct one, and an empty answer matches an empty candidate. None where nothing matches (the
    script then letters the answer "@", which no reply names)."""
    letter = None
    for i, candidate in enumerate(candidates):
        if candidate == answer:
            letter = letter_of(i)
    return letter


def _answer_notes(answer: str, letter: str | None, options: list[str]) -> list[str]:
    """Why an MLVU answer is odd, in the terms of the official script that still scores it."""
    if not answer:
        found = f"so option {letter}, empty too, is correct" if letter else "which matches no option: no reply is scored right"
        return [f"empty answer; choice_bench.py compares it like any text, {found}"]
    if letter is None:
        near = text_letter(answer, options)
        why = f"matches option {near} only ignoring case and spacing" if near else "is none of the options"
        return [f"answer {answer!r} {why}; choice_bench.py compares exactly, so no reply is scored right"]
    same = [letter_of(i) for i, option in enumerate(options) if option == options[index_of(letter)]]
    if len(same) > 1:
        return [f"answer {answer!r} is option {' and '.join(same)}; choice_bench.py marks the last ({letter}) correct"]
    return []


def _copy_letter(answer: Any, options: list[str]) -> str | None:
    """The letter a copy of MLVU states as its answer ("B", "(B)" or "(B) text"), or None when
    the answer is not given as a letter."""
    text = str(answer).strip()
    match = _EMBEDDED_OPTION.match(text) or re.fullmatch(r"\(?([A-Z])\)?", text)
    if match and LETTERS.index(match.group(1)) < len(options):
        rest = match.group(2) if match.re is _EMBEDDED_OPTION else ""
        if not rest or norm_text(rest) == norm_text(options[LETTERS.index(match.group(1))]):
            return match.group(1)
    return None


def load_mlvu(base: Path, layout: Layout, split: str | None) -> list[Record]:
    """Every multiple-choice question of MLVU dev (`split` None or `dev`)."""
    if split not in (None, "dev"):
        raise ValueError("only MLVU dev is supported (its test answers are scored with 6 options elsewhere)")
    official = sorted((base / "json").glob("*.json"))
    parquet = find_files(base, ["**/test*.parquet", "**/dev*.parquet"])
    chosen = pick_layout("mlvu", layout, bool(official), parquet, "json/<n>_<task>.json or **/test*.parquet")
    rows: list[tuple[str, dict]] = []
    if chosen == "official":
        for path in official:
            for i, item in enumerate(read_json(path)):
                rows.append((f"{path}#{i}", {**item, "_qid": f"{path.stem}_{i}", "_folder": path.stem}))
    else:
        rows = read_parquet(parquet)
    rows = [(s, r) for s, r in rows if str(r.get("question_type", r.get("task_type"))) not in _MLVU_GENERATION]
    video_index: dict[str, Path] | None = None

    def find_video(name: str, folder: str | None) -> tuple[str, str | None]:
        nonlocal video_index
        dirs = [base / "video" / folder] if folder else [base, base / "video"]
        path, problem = resolve_video(dirs, [name])
        if problem:
            # Copies of MLVU nest the videos in per-task folders under varying names.
            if video_index is None:
                video_index = {p.name: p for p in sorted((base / "video").rglob("*")) if p.is_file()}
            stem = Path(name).stem
            hit = video_index.get(name) or next((video_index[stem + e] for e in VIDEO_EXTENSIONS if stem + e in video_index), None)
            if hit is not None:
                return os.fspath(hit), None
        return path, problem

    def make(row: dict) -> Record:
        stem, embedded = split_embedded_options(question_text(row["question"]))
        candidates = row.get("candidates")
        raw = list(candidates) if candidates else embedded
        options = clean_options(raw)
        answer = row.get("answer")
        # The official files give the answer as text, which choice_bench.py matches exactly; the
        # Parquet copies give a letter, which lmms-eval's mlvu task compares as it stands.
        letter = None if chosen == "official" else _copy_letter(answer, options)
        if letter is not None:
            text, notes = options[index_of(letter)], []
        else:
            stated = "" if answer is None else str(answer).strip()
            letter = choice_bench_letter(answer, raw)
            notes = _answer_notes(stated, letter, options)
            text = options[index_of(letter)] if letter else stated
        name = str(row.get("video", row.get("video_name")))
        video, problem = find_video(name, row.get("_folder"))
        task = str(row.get("question_type", row.get("task_type")))
        return Record(
            id=str(row.get("_qid") or row["question_id"]), video=video, question=stem, options=options, answer=text,
            bench="mlvu", answer_letter=letter, video_id=name, duration_s=to_float(row.get("duration")),
            categories={"task": _MLVU_TASK_NAMES.get(task, task)}, notes=option_notes(options) + notes, problem=problem,
        )

    return normalise_rows("mlvu", rows, make, ["_qid", "question_id"])


def mlvu_official(reply: str, letters: Sequence[str]) -> str | None:
    """MLVU `choice_bench.py::check_ans`: the character just before the first ")" (the prompt
    pre-fills "Best Option: ("), or, without a ")", the whole reply compared as a letter."""
    text = reply.strip()
    if ")" in text:
        end = text.index(")")
        text = text[end - 1 : end] if end else ""
    return text if text in letters else None


def m_avg(summary: Mapping[str, Any]) -> tuple[str, float | None]:
    """MLVU's headline, M-Avg: the mean over its tasks of `accuracy` (plain accuracy when the
    results carry no task)."""
    if "task" not in summary["by"]:
        return accuracy(summary)
    tasks = [t["accuracy"] for t in summary["by"]["task"].values() if t["accuracy"] is not None]
    return "m_avg", sum(tasks) / len(tasks) if tasks else None


BENCHMARK = Benchmark(
    name="mlvu",
    load=load_mlvu,
    aliases=("mlvu_dev",),
    extractors={
        "official": lambda reply, record, rng: mlvu_official(reply, record.letters),
        "lmms-eval": lambda reply, record, rng: lmms_eval_mcq(reply, ABCD),
    },
    headline=m_avg,
    doc_options=("candidates",),  # its docs may also write the options into the question (docs.doc_question)
)

__all__ = ["BENCHMARK", "choice_bench_letter", "load_mlvu", "m_avg", "mlvu_official", "split_embedded_options"]
