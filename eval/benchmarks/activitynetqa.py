"""ActivityNet-QA (open-ended, judged): official `<split>_q.json` + `<split>_a.json`, or
lmms-eval's `**/<split>*.parquet`.

Layout: `activitynetqa/` holds `test_q.json` + `test_a.json` or `**/test*.parquet`, the videos as
`all_test/v_<video_name>.mp4`.

Scoring rules followed: lmms-eval's `activitynetqa` judge (the official `evaluation/eval.py`
compares the answer text exactly); the answer is kept as published, stripped.
- Letters, repeated and empty options: none; the questions are open-ended.
- Unanswerable rows: a question without an answer in `<split>_a.json` (or an empty one) is
  malformed, as neither script can score it.
"""

from __future__ import annotations

from pathlib import Path

from ..records import Record
from .benchmark import Benchmark
from .files import Layout, find_files, pick_layout, read_json, read_parquet, resolve_video
from .rows import normalise_rows, question_text

ACTIVITYNETQA_TYPES = {
    "0": "motion",
    "1": "spatial relationship",
    "2": "temporal relationship",
    "3": "yes/no",
    "4": "color",
    "5": "object",
    "6": "location",
    "7": "number",
    "8": "other",
}


def load_activitynetqa(base: Path, layout: Layout, split: str | None) -> list[Record]:
    """Every question of `split` (`test`, the default, or `val`), its answer as text."""
    split = split or "test"
    q_file, a_file = base / f"{split}_q.json", base / f"{split}_a.json"
    parquet = find_files(base, [f"**/{split}*.parquet"])
    chosen = pick_layout(
        "activitynetqa", layout, q_file.is_file() and a_file.is_file(), parquet, f"{q_file.name} + {a_file.name} or **/{split}*.parquet"
    )
    if chosen == "official":
        answers = {str(a.get("question_id")): a for a in read_json(a_file)}
        rows = []
        for i, q in enumerate(read_json(q_file)):
            a = answers.get(str(q.get("question_id")), {})
            rows.append((f"{q_file}#{i}", {**q, "answer": a.get("answer"), "type": a.get("type")}))
    else:
        rows = read_parquet(parquet)

    def make(row: dict) -> Record:
        answer = row.get("answer")
        if not isinstance(answer, str) or not answer.strip():
            raise ValueError("no answer")
        name = str(row["video_name"])
        video, problem = resolve_video([base / "all_test", base / "videos", base], [f"v_{name}", name])
        qtype = str(row["type"]) if row.get("type") is not None else ""
        categories = {"type": ACTIVITYNETQA_TYPES.get(qtype, qtype)} if qtype else {}
        return Record(
            id=str(row["question_id"]), video=video, question=question_text(row["question"]), answer=answer.strip(),
            bench="activitynetqa", answer_type="open", video_id=name, categories=categories, problem=problem,
        )

    return normalise_rows("activitynetqa", rows, make, ["question_id"])


BENCHMARK = Benchmark(
    name="activitynetqa",
    load=load_activitynetqa,
    aliases=("activitynet-qa", "anetqa"),
    open_ended=True,
    doc_key="{question_id}",
)

__all__ = ["ACTIVITYNETQA_TYPES", "BENCHMARK", "load_activitynetqa"]
