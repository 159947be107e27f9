"""Video-MME, from the files its authors publish: the Hugging Face dataset's
`videomme/test-*.parquet` (also lmms-eval's source), or the results template
`evaluation/output_test_template.json` of their GitHub repository.

The authors publish no other annotation JSON. The template is the one JSON they do publish, and it
is not valid JSON (trailing commas), so it is read tolerantly; its versions name the fields either
as the Parquet does (`duration`, `domain`, `sub_category`, `options`) or as `duration_category`,
`video_category`, `video_subcategory`, `choices`, and may leave `answer` empty.

Layout: `videomme/` holds `**/test*.parquet` or `[evaluation/]output_test_template.json`, the
videos as `data/<videoID>.mp4` (`<video_id>.mp4` for the template), subtitles as
`subtitle/<videoID>.srt`.

Scoring rules followed: the official `eval_your_results.py` (and lmms-eval's `videomme` task).
- Letters: the row states the answer as a letter; options carry their own "A. " prefixes, which
  are stripped, and keep their positions.
- Repeated options: the script compares letters only, so the stated letter stands (noted).
- Empty options: lettered by position like the others (noted).
- No answer (an empty `answer`, as a template may have): nothing to score against; flagged as
  "no ground truth", never scored.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..records import Record
from .benchmark import Benchmark
from .choices import answer_letter, clean_options, multiple_choice
from .files import Layout, find_files, pick_layout, read_json, read_parquet, resolve_video
from .lmms_parsers import ABCD, lmms_eval_mcq
from .rows import normalise_rows

TEMPLATE = "output_test_template.json"
# The template's video fields as its older version names them -> the Parquet's names.
_TEMPLATE_NAMES = {"duration_category": "duration", "video_category": "domain", "video_subcategory": "sub_category"}
# The official prefix list, including its missing commas: two pairs of strings are concatenated
# by Python and never match, which changes results ("Best answer: C" -> "B").
_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option is" "The correct option is",
    "Best answer:" "Best option:",
    "Answer:",
    "Option:",
)


def _youtube_id(url: Any) -> str:
    if not isinstance(url, str):
        return ""
    parts = urlsplit(url)
    if parts.hostname and parts.hostname.endswith("youtu.be"):
        return parts.path.strip("/")
    return (parse_qs(parts.query).get("v") or [""])[0]


def template_rows(path: Path) -> list[tuple[str, dict]]:
    """The template's questions, nested by video, flattened into rows with the Parquet's field
    names, so one normaliser serves both files."""
    rows = []
    for v, video in enumerate(read_json(path, trailing_commas=True)):
        fields = {_TEMPLATE_NAMES.get(key, key): value for key, value in video.items() if key != "questions"}
        for q, question in enumerate(video.get("questions") or []):
            row = {**fields, **question}
            if "options" not in row:
                row["options"] = row.pop("choices", None)
            rows.append((f"{path}#{v}.{q}", row))
    return rows


def load_videomme(base: Path, layout: Layout, split: str | None) -> list[Record]:
    """Every Video-MME question under `base`; `split` names the Parquet files (default test).

    The Parquet is the authors' release and lmms-eval's alike, so it serves both `official` and
    `lmms-eval`; `official` falls back to the template when there is no Parquet."""
    template = find_files(base, [TEMPLATE, f"evaluation/{TEMPLATE}"])
    parquet = find_files(base, [f"**/{split or 'test'}*.parquet"])
    pick_layout("videomme", layout, bool(parquet or template), parquet, f"videomme/test-*.parquet or {TEMPLATE}")
    rows = read_parquet(parquet) if parquet else template_rows(template[0])

    def make(row: dict) -> Record:
        options = clean_options(row["options"])
        names = [str(n) for n in (row.get("videoID"), _youtube_id(row.get("url")), row.get("video_id")) if n]
        video, problem = resolve_video([base / "data", base / "videos", base], names)
        subtitle = base / "subtitle" / (Path(video).stem + ".srt")
        categories = {key: str(row[key]) for key in ("duration", "domain", "sub_category", "task_type") if row.get(key)}
        stated = row.get("answer")
        if stated is None or stated == "":
            letter, problem = None, problem or "no ground truth (empty answer)"
        else:
            letter = answer_letter(stated, len(options))
        return multiple_choice(
            "videomme", str(row["question_id"]), video, row["question"], options, letter,
            video_id=names[0] if names else "", categories=categories,
            subtitle_path=os.fspath(subtitle) if problem is None and subtitle.is_file() else None, problem=problem,
        )

    return normalise_rows("videomme", rows, make, ["question_id"])


def videomme_official(reply: str) -> str | None:
    """Video-MME `eval_your_results.py::extract_characters_regex`: drop the answer prefixes, then
    the first A-D capital anywhere. (Its ">10 words without A-D" rule changes nothing: such a
    reply has no A-D to find.) Scored over answered questions only (`metrics`)."""
    text = reply.strip()
    for prefix in _PREFIXES:
        text = text.replace(prefix, "")
    match = re.search(r"[ABCD]", text)
    return match.group(0) if match else None


BENCHMARK = Benchmark(
    name="videomme",
    load=load_videomme,
    aliases=("video-mme",),
    extractors={
        "official": lambda reply, record, rng: videomme_official(reply),
        "lmms-eval": lambda reply, record, rng: lmms_eval_mcq(reply, ABCD),
    },
    doc_key="{question_id}",
    doc_options=("options", "choices"),  # `choices`: the older template's name
)

__all__ = ["BENCHMARK", "TEMPLATE", "load_videomme", "template_rows", "videomme_official"]
