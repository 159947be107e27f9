"""NExT-QA (multiple choice): official `test.csv` / `val.csv` or lmms-eval's `MC/*.parquet`.

Layout: `nextqa/` holds `test.csv`, `val.csv` or `MC/test*.parquet`, the videos as
`NExTVideo/<dir>/<video>.mp4` (through `map_vid_vidorID.json`) or `NExTVideo/<video>.mp4`.

Scoring rules followed: the official `eval_mc.py` (lmms-eval's `nextqa_mc_test` reads the same rows).
- Letters: `answer` is the index of the correct one of `a0`..`a4`; A-E by that index.
- Repeated options: the script compares indices, so the stated index stands (noted).
- Empty options: kept at their letters (noted).
- Unanswerable rows: none; an answer outside 0-4 makes the row malformed.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from pathlib import Path

from ..records import Record
from .benchmark import Benchmark
from .choices import answer_letter, clean_options, multiple_choice
from .files import Layout, find_files, pick_layout, read_json, read_parquet, resolve_video
from .lmms_parsers import mmmu_prepare
from .rows import normalise_rows

NEXTQA_GROUPS = {"C": "causal", "T": "temporal", "D": "descriptive"}


def load_nextqa(base: Path, layout: Layout, split: str | None) -> list[Record]:
    """Every NExT-QA multiple-choice question of `split` (`test`, the default, or `val`)."""
    split = split or "test"
    official = base / f"{split}.csv"
    parquet = find_files(base, [f"MC/{split}*.parquet", f"{split}*.parquet"])
    chosen = pick_layout("nextqa", layout, official.is_file(), parquet, f"{official.name} or MC/{split}*.parquet")
    if chosen == "official":
        with official.open(newline="", encoding="utf-8") as handle:
            rows = [(f"{official}#{i}", r) for i, r in enumerate(csv.DictReader(handle))]
    else:
        rows = read_parquet(parquet)
    mapping_file = base / "map_vid_vidorID.json"
    mapping = {str(k): str(v) for k, v in read_json(mapping_file).items()} if mapping_file.is_file() else {}

    def make(row: dict) -> Record:
        options = clean_options(row[f"a{i}"] for i in range(5))
        vid = str(row["video"])
        video, problem = resolve_video([base / "NExTVideo"], [mapping.get(vid, vid), vid])
        qtype = str(row.get("type") or "")
        categories = {}
        if qtype:
            # The official eval_mc.py reports TP together with TN.
            categories = {"type": "TN" if qtype == "TP" else qtype, "group": NEXTQA_GROUPS.get(qtype[0], qtype[0])}
        qid = row.get("qid")
        return multiple_choice(
            "nextqa", f"{vid}_{qid}" if qid is not None and qid != "" else "", video, row["question"], options,
            answer_letter(row["answer"], len(options)), video_id=vid, categories=categories, problem=problem,
        )

    return normalise_rows("nextqa", rows, make, ["qid"])


def nextqa_lmms_eval(reply: str, options: Sequence[str], letters: Sequence[str], rng: random.Random | None) -> str | None:
    """lmms-eval's NExT-QA parser (MMMU's): "(X)" forms, else "X ", else "X."; with none and
    more than 5 words, option texts; of several candidates the **last** mentioned; with none,
    a random option. Positions follow lmms-eval exactly, including its quirk of looking for
    " X " when the candidates came from "X." forms (then the first candidate wins)."""
    text = mmmu_prepare(reply)
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


BENCHMARK = Benchmark(
    name="nextqa",
    load=load_nextqa,
    aliases=("next-qa", "nextqa_mc"),
    extractors={"lmms-eval": lambda reply, record, rng: nextqa_lmms_eval(reply, record.options, record.letters, rng)},
    doc_options=("a{}",),
)

__all__ = ["BENCHMARK", "NEXTQA_GROUPS", "load_nextqa", "nextqa_lmms_eval"]
