"""LongVideoBench: official `lvb_val.json` / `lvb_test_wo_gt.json` or lmms-eval's Parquet.

Layout: `longvideobench/` holds `lvb_val.json` or `**/validation*.parquet` (`lvb_test_wo_gt.json`,
`**/test*.parquet` for the test split), the videos as `videos/<video_path>`, subtitles as
`subtitles/<subtitle_path>`.

Scoring rules followed: the official `longvideobench_dataset.py` and lmms-eval's
`longvideobench_val_v` task.
- Letters: `correct_choice` is the index into `candidates` (the Parquet's `option0`..`option4`,
  whose "N/A" slots are padding, not options); A-E by that index.
- Repeated options: indices are compared, so the stated index stands (noted).
- Empty options: kept at their letters (noted).
- Unanswerable rows: the test split has no ground truth; its questions are flagged, never scored.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Sequence
from pathlib import Path

from ..records import Record
from .benchmark import Benchmark
from .choices import answer_letter, clean_options, multiple_choice
from .files import Layout, find_files, pick_layout, read_json, read_parquet, resolve_video
from .rows import normalise_rows, to_float

# The answer prefixes its parser drops: Video-MME's list, with the commas.
_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option is",
    "The correct option is",
    "Best answer:",
    "Best option:",
)


def load_longvideobench(base: Path, layout: Layout, split: str | None) -> list[Record]:
    """Every LongVideoBench question of `split` (`validation`, the default, or `test`, whose
    answers are not public: its questions come back flagged)."""
    split = split or "validation"
    if split not in ("validation", "val", "test"):
        raise ValueError(f"longvideobench split must be 'validation' or 'test', not {split!r}")
    official = base / ("lvb_test_wo_gt.json" if split == "test" else "lvb_val.json")
    parquet = find_files(base, ["**/test*.parquet" if split == "test" else "**/validation*.parquet"])
    chosen = pick_layout("longvideobench", layout, official.is_file(), parquet, f"{official.name} or **/{split}*.parquet")
    rows = [(f"{official}#{i}", r) for i, r in enumerate(read_json(official))] if chosen == "official" else read_parquet(parquet)

    def make(row: dict) -> Record:
        if row.get("candidates") is not None:
            raw = list(row["candidates"])
        else:
            raw = [row.get(f"option{i}") for i in range(5)]
            raw = [o for o in raw if o is not None and o != "N/A"]
        options = clean_options(raw)
        video, problem = resolve_video([base / "videos"], [str(row["video_path"])])
        choice = row.get("correct_choice")
        if choice is None or choice == "@":
            problem = problem or "no ground truth in this split"
            letter = None
        else:
            letter = answer_letter(choice, len(options))
        subtitle = base / "subtitles" / str(row.get("subtitle_path") or "")
        categories = {
            key: str(row[key]) for key in ("duration_group", "question_category", "topic_category", "level") if row.get(key) is not None
        }
        return multiple_choice(
            "longvideobench", str(row["id"]), video, row["question"], options, letter,
            video_id=str(row.get("video_id") or Path(str(row["video_path"])).stem), duration_s=to_float(row.get("duration")),
            categories=categories, subtitle_path=os.fspath(subtitle) if row.get("subtitle_path") and subtitle.is_file() else None,
            subtitle_offset_s=to_float(row.get("starting_timestamp_for_subtitles")), problem=problem,
        )

    return normalise_rows("longvideobench", rows, make, ["id"])


def longvideobench_parser(reply: str, letters: Sequence[str], rng: random.Random | None) -> str | None:
    """LongVideoBench's parser (lmms-eval `parse_multi_choice_response`): drop the answer
    prefixes, then the first A-E capital anywhere; otherwise a random option."""
    text = reply.strip()
    for prefix in _PREFIXES:
        text = text.replace(prefix, "")
    match = re.search(r"[ABCDE]", text)
    if match:
        return match.group(0)
    return rng.choice(list(letters)) if rng else None


def _extract(reply: str, record: Record, rng: random.Random | None) -> str | None:
    return longvideobench_parser(reply, record.letters, rng)


BENCHMARK = Benchmark(
    name="longvideobench",
    load=load_longvideobench,
    aliases=("lvb",),
    extractors={"official": _extract, "lmms-eval": _extract},  # lmms-eval copied the authors' parser
    doc_key="{id}",
    doc_options=("candidates", "option{}"),
)

__all__ = ["BENCHMARK", "load_longvideobench", "longvideobench_parser"]
