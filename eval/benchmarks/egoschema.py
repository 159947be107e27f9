"""EgoSchema, the 500-question subset with public answers: official `questions.json` +
`subset_answers.json`, or lmms-eval's `Subset/test*.parquet`.

Layout: `egoschema/` holds `questions.json` + `subset_answers.json` or `Subset/test*.parquet`, the
videos as `videos/<q_uid>.mp4`.

Scoring rules followed: the authors' `validate.py`, which grades `{q_uid: option index}` as
`subset_answers.json` states the answers, and lmms-eval's `egoschema_subset` task.
- Letters: A-E by the index of `option 0`..`option 4`.
- Repeated options: indices are compared, so the stated index stands (noted).
- Empty options: kept at their letters (noted).
- Unanswerable rows: an answer whose question is missing is malformed; the full set's questions
  have no public answers and are not loaded.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from ..records import Record
from .benchmark import Benchmark
from .choices import answer_letter, clean_options, multiple_choice
from .files import Layout, find_files, pick_layout, read_json, read_parquet, resolve_video
from .lmms_parsers import mmmu_prepare
from .rows import normalise_rows


def load_egoschema(base: Path, layout: Layout, split: str | None) -> list[Record]:
    """Every question of the subset (`split` None or `subset`: the only one with answers)."""
    if split not in (None, "subset"):
        raise ValueError("egoschema has public answers only for its 500-question subset (split 'subset')")
    questions_file, answers_file = base / "questions.json", base / "subset_answers.json"
    parquet = find_files(base, ["Subset/test*.parquet", "subset*.parquet"])
    chosen = pick_layout(
        "egoschema", layout, questions_file.is_file() and answers_file.is_file(), parquet,
        "questions.json + subset_answers.json or Subset/test*.parquet",
    )
    if chosen == "official":
        questions = {str(q.get("q_uid")): q for q in read_json(questions_file)}
        rows = []
        for i, (uid, answer) in enumerate(read_json(answers_file).items()):
            question = questions.get(str(uid), {})
            rows.append(
                (
                    f"{answers_file}#{i}",
                    {
                        "question_idx": uid,
                        "video_idx": uid,
                        "question": question.get("question"),
                        "option": [question.get(f"option {j}") for j in range(5)] if question else None,
                        "answer": answer,
                    },
                )
            )
    else:
        rows = read_parquet(parquet)

    def make(row: dict) -> Record:
        if row.get("option") is None:
            raise ValueError("question missing from questions.json")
        options = clean_options(row["option"])
        uid = str(row["video_idx"])
        video, problem = resolve_video([base / "videos"], [uid])
        return multiple_choice(
            "egoschema", str(row["question_idx"]) if row.get("question_idx") is not None else uid, video, row["question"], options,
            answer_letter(row["answer"], len(options)), video_id=uid, problem=problem,
        )

    return normalise_rows("egoschema", rows, make, ["question_idx", "video_idx"])


def egoschema_lmms_eval(reply: str, letters: Sequence[str], rng: random.Random | None) -> str | None:
    """lmms-eval's EgoSchema parser: "(X)", "X " and "X." forms collected together; of several
    candidates the **first** mentioned; with none, a random option."""
    text = mmmu_prepare(reply)
    firsts = []
    for x in letters:
        positions = [text.find(form) for form in (f"({x})", f"{x} ", f"{x}.") if form in text]
        if positions:
            firsts.append((min(positions), x))
    if firsts:
        return min(firsts)[1]
    return rng.choice(list(letters)) if rng else None


BENCHMARK = Benchmark(
    name="egoschema",
    load=load_egoschema,
    aliases=("egoschema_subset",),
    extractors={"lmms-eval": lambda reply, record, rng: egoschema_lmms_eval(reply, record.letters, rng)},
    doc_options=("option", "option {}"),  # lmms-eval's list; the official questions.json's numbered fields
)

__all__ = ["BENCHMARK", "egoschema_lmms_eval", "load_egoschema"]
