"""Benchmark loaders: a local copy of a benchmark, in its official layout or in lmms-eval's
Parquet layout, into `Record`s.

Both layouts are accepted because both are in use: papers quote numbers from the official
scripts, and most people fetch the data through lmms-eval's Hugging Face copies, whose field
names differ (see `docs/benchmarks.md`). `layout="auto"` takes the official files when they are
there, else the Parquet files.

Local layout, one folder per benchmark under `root` (`root` may also be that folder itself):

    videomme/        videomme.json | **/test*.parquet          data/<videoID>.mp4, subtitle/<videoID>.srt
    longvideobench/  lvb_val.json | **/validation*.parquet     videos/<video_path>, subtitles/<subtitle_path>
    nextqa/          test.csv, val.csv | MC/test*.parquet       NExTVideo/<dir>/<video>.mp4 (map_vid_vidorID.json) or NExTVideo/<video>.mp4
    egoschema/       questions.json + subset_answers.json | Subset/test*.parquet   videos/<q_uid>.mp4
    activitynetqa/   test_q.json + test_a.json | **/test*.parquet                  all_test/v_<video_name>.mp4
    mlvu/            json/<n>_<task>.json | **/test*.parquet   video/<n>_<task>/<video> (official), <video_name> or video/**/<video_name>

Every video is looked up with the extensions .mp4, .MP4, .mkv and .webm, as lmms-eval does.
Nothing is dropped silently: a question whose video is missing, whose row is malformed, or that
has no ground truth comes back with `Record.problem` set. The one deliberate exclusion is MLVU's
two generation tasks (sub-scene captioning and summary), which are not part of its
multiple-choice score (M-Avg).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import pyarrow.parquet as pq

from .records import LETTERS, Record, letter_of

Layout = Literal["auto", "official", "lmms-eval"]
VIDEO_EXTENSIONS = (".mp4", ".MP4", ".mkv", ".webm")
_ROW_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError)


# --------------------------------------------------------------------------------------------
# Shared pieces


def resolve_video(dirs: Sequence[Path], names: Sequence[str]) -> tuple[str, str | None]:
    """The first existing file among `dirs` x `names` x the video extensions.

    Returns `(path, None)`, or `(first path tried, problem)` so the record still names the file
    it expected. A name with an extension is tried as given first, then with the others.
    """
    tried: list[Path] = []
    for directory in dirs:
        for name in names:
            if not name:
                continue
            given = directory / name
            stem = given.with_suffix("") if given.suffix.lower() in {e.lower() for e in VIDEO_EXTENSIONS} else given
            for path in [given, *(stem.with_name(stem.name + ext) for ext in VIDEO_EXTENSIONS)]:
                if path in tried:
                    continue
                tried.append(path)
                if path.is_file():
                    return os.fspath(path), None
    if not tried:
        return "", "no video name in the row"
    shown = ", ".join(os.fspath(p) for p in tried[:5]) + (f" and {len(tried) - 5} more" if len(tried) > 5 else "")
    return os.fspath(tried[0]), f"video not found: tried {shown}"


_LETTER_PREFIX = re.compile(r"^\s*\(?([A-Z])\s*[.):]\s*")


def strip_letter(option: str, position: int) -> str:
    """An option's text without its "A. " / "(A) " / "A) " / "A: " prefix.

    Only the letter of the option's own position is stripped, so an option whose text happens
    to start with a capital and a full stop ("I. M. Pei") keeps it.
    """
    text = str(option).strip()
    match = _LETTER_PREFIX.match(text)
    if match and match.group(1) == letter_of(position):
        return text[match.end() :].strip()
    return text


def answer_letter(value: Any, n_options: int) -> str:
    """A letter from an answer given as a letter, an index, or an index in a string ("2")."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"answer {value!r} is neither a letter nor an option index")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        index = int(value)
    elif isinstance(value, float) and value.is_integer():
        index = int(value)
    elif isinstance(value, str) and len(value.strip()) == 1 and value.strip().upper() in LETTERS:
        index = LETTERS.index(value.strip().upper())
    else:
        raise ValueError(f"answer {value!r} is neither a letter nor an option index")
    if not 0 <= index < n_options:
        raise ValueError(f"answer {value!r} is outside the {n_options} options")
    return letter_of(index)


def _norm_text(text: str) -> str:
    return " ".join(str(text).casefold().split()).rstrip(".").strip()


def text_letter(answer: str, options: Sequence[str]) -> str | None:
    """The letter of the option whose text is `answer` (case, spacing and a final full stop
    ignored), or None when no option matches."""
    wanted = _norm_text(answer)
    for i, option in enumerate(options):
        if _norm_text(option) == wanted:
            return letter_of(i)
    return None


def _clean_options(values: Iterable[Any]) -> list[str]:
    values = list(values)
    if any(v is None for v in values):
        raise ValueError(f"missing option in {values!r}")
    options = [strip_letter(v, i) for i, v in enumerate(values)]
    if len(options) < 2 or any(not o for o in options):
        raise ValueError(f"expected at least two non-empty options, got {options!r}")
    return options


def _question(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("empty question")
    return value.strip()


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def _read_parquet(paths: Sequence[Path]) -> list[tuple[str, dict]]:
    rows = []
    for path in paths:
        rows += [(f"{path}#{i}", row) for i, row in enumerate(pq.read_table(path).to_pylist())]
    return rows


def _find(base: Path, patterns: Sequence[str]) -> list[Path]:
    """Files of the first glob pattern that matches anything, sorted (shards in order)."""
    for pattern in patterns:
        found = sorted(p for p in base.glob(pattern) if p.is_file())
        if found:
            return found
    return []


def _records(
    bench: str, rows: Iterable[tuple[str, dict]], make: Callable[[dict], Record], qid_keys: Sequence[str]
) -> list[Record]:
    """Normalise rows one by one; a row that fails becomes a flagged record, never an exception."""
    records = []
    for source, row in rows:
        try:
            record = make(row)
            record.source = source
            record.qid = record.qid or source  # a copy without question ids: the row is the key
        except _ROW_ERRORS as error:
            qid = next((str(row[k]) for k in qid_keys if isinstance(row, dict) and row.get(k) is not None), source)
            question = row.get("question") if isinstance(row, dict) and isinstance(row.get("question"), str) else ""
            record = Record(bench, qid, "", question, source=source, problem=f"malformed row: {error}")
        records.append(record)
    first: dict[str, str] = {}
    for record in records:
        if record.qid in first:
            # Results are keyed by qid: the repeat gets a key of its own and is counted, not run.
            record.problem = f"duplicate qid {record.qid!r} (first at {first[record.qid]})"
            record.qid = f"{record.qid}@{record.source}"
        else:
            first[record.qid] = record.source
    return records


def _pick_layout(bench: str, layout: Layout, official: bool, parquet: list[Path], expected: str) -> str:
    if layout not in ("auto", "official", "lmms-eval"):
        raise ValueError(f"layout must be 'auto', 'official' or 'lmms-eval', not {layout!r}")
    if layout == "official" and not official:
        raise FileNotFoundError(f"{bench}: no official annotation files ({expected})")
    if layout == "lmms-eval" and not parquet:
        raise FileNotFoundError(f"{bench}: no lmms-eval Parquet files ({expected})")
    if layout == "auto":
        if official:
            return "official"
        if parquet:
            return "lmms-eval"
        raise FileNotFoundError(f"{bench}: neither official nor lmms-eval annotation files found ({expected})")
    return layout


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# Video-MME


def _youtube_id(url: Any) -> str:
    if not isinstance(url, str):
        return ""
    parts = urlsplit(url)
    if parts.hostname and parts.hostname.endswith("youtu.be"):
        return parts.path.strip("/")
    return (parse_qs(parts.query).get("v") or [""])[0]


def _load_videomme(base: Path, layout: Layout, split: str | None) -> list[Record]:
    official = base / "videomme.json"
    parquet = _find(base, [f"**/{split or 'test'}*.parquet"])
    chosen = _pick_layout("videomme", layout, official.is_file(), parquet, "videomme.json or **/test*.parquet")
    if chosen == "official":
        # Nested by video; flatten to the Parquet's field names so one normaliser serves both.
        rows = []
        for v, video in enumerate(_read_json(official)):
            for q, question in enumerate(video.get("questions") or []):
                rows.append(
                    (
                        f"{official}#{v}.{q}",
                        {
                            "video_id": video.get("video_id"),
                            "videoID": video.get("videoID"),
                            "url": video.get("url"),
                            "duration": video.get("duration_category", video.get("duration")),
                            "domain": video.get("video_category", video.get("domain")),
                            "sub_category": video.get("video_sub_category", video.get("video_subcategory", video.get("sub_category"))),
                            "question_id": question.get("question_id"),
                            "task_type": question.get("task_type"),
                            "question": question.get("question"),
                            "options": question.get("choices", question.get("options")),
                            "answer": question.get("answer"),
                        },
                    )
                )
    else:
        rows = _read_parquet(parquet)

    def make(row: dict) -> Record:
        options = _clean_options(row["options"])
        names = [str(n) for n in (row.get("videoID"), _youtube_id(row.get("url")), row.get("video_id")) if n]
        video, problem = resolve_video([base / "data", base / "videos", base], names)
        subtitle = base / "subtitle" / (Path(video).stem + ".srt")
        categories = {key: str(row[key]) for key in ("duration", "domain", "sub_category", "task_type") if row.get(key)}
        return Record(
            "videomme",
            str(row["question_id"]),
            video,
            _question(row["question"]),
            options,
            answer_letter=answer_letter(row["answer"], len(options)),
            answer_text=None,
            video_id=names[0] if names else "",
            categories=categories,
            subtitle_path=os.fspath(subtitle) if problem is None and subtitle.is_file() else None,
            problem=problem,
        )

    return _with_answer_text(_records("videomme", rows, make, ["question_id"]))


def _with_answer_text(records: list[Record]) -> list[Record]:
    """Fill `answer_text` from the options where the benchmark gives only a letter."""
    for record in records:
        if record.answer_letter and record.answer_text is None and record.options:
            record.answer_text = record.options[LETTERS.index(record.answer_letter)]
    return records


# --------------------------------------------------------------------------------------------
# LongVideoBench


def _load_longvideobench(base: Path, layout: Layout, split: str | None) -> list[Record]:
    split = split or "validation"
    if split not in ("validation", "val", "test"):
        raise ValueError(f"longvideobench split must be 'validation' or 'test', not {split!r}")
    official = base / ("lvb_test_wo_gt.json" if split == "test" else "lvb_val.json")
    parquet = _find(base, ["**/test*.parquet" if split == "test" else "**/validation*.parquet"])
    chosen = _pick_layout("longvideobench", layout, official.is_file(), parquet, f"{official.name} or **/{split}*.parquet")
    rows = [(f"{official}#{i}", r) for i, r in enumerate(_read_json(official))] if chosen == "official" else _read_parquet(parquet)

    def make(row: dict) -> Record:
        if row.get("candidates") is not None:
            raw = list(row["candidates"])
        else:
            raw = [row.get(f"option{i}") for i in range(5)]
            raw = [o for o in raw if o is not None and o != "N/A"]
        options = _clean_options(raw)
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
        return Record(
            "longvideobench",
            str(row["id"]),
            video,
            _question(row["question"]),
            options,
            answer_letter=letter,
            video_id=str(row.get("video_id") or Path(str(row["video_path"])).stem),
            duration_s=_float(row.get("duration")),
            categories=categories,
            subtitle_path=os.fspath(subtitle) if row.get("subtitle_path") and subtitle.is_file() else None,
            subtitle_offset_s=_float(row.get("starting_timestamp_for_subtitles")),
            problem=problem,
        )

    return _with_answer_text(_records("longvideobench", rows, make, ["id"]))


# --------------------------------------------------------------------------------------------
# NExT-QA (multiple choice)

NEXTQA_GROUPS = {"C": "causal", "T": "temporal", "D": "descriptive"}


def _load_nextqa(base: Path, layout: Layout, split: str | None) -> list[Record]:
    split = split or "test"
    official = base / f"{split}.csv"
    parquet = _find(base, [f"MC/{split}*.parquet", f"{split}*.parquet"])
    chosen = _pick_layout("nextqa", layout, official.is_file(), parquet, f"{official.name} or MC/{split}*.parquet")
    if chosen == "official":
        with official.open(newline="", encoding="utf-8") as handle:
            rows = [(f"{official}#{i}", r) for i, r in enumerate(csv.DictReader(handle))]
    else:
        rows = _read_parquet(parquet)
    mapping_file = base / "map_vid_vidorID.json"
    mapping = {str(k): str(v) for k, v in _read_json(mapping_file).items()} if mapping_file.is_file() else {}

    def make(row: dict) -> Record:
        options = _clean_options(row[f"a{i}"] for i in range(5))
        vid = str(row["video"])
        video, problem = resolve_video([base / "NExTVideo"], [mapping.get(vid, vid), vid])
        qtype = str(row.get("type") or "")
        categories = {}
        if qtype:
            # The official eval_mc.py reports TP together with TN.
            categories = {"type": "TN" if qtype == "TP" else qtype, "group": NEXTQA_GROUPS.get(qtype[0], qtype[0])}
        qid = row.get("qid")
        return Record(
            "nextqa",
            f"{vid}_{qid}" if qid is not None and qid != "" else "",
            video,
            _question(row["question"]),
            options,
            answer_letter=answer_letter(row["answer"], len(options)),
            video_id=vid,
            categories=categories,
            problem=problem,
        )

    return _with_answer_text(_records("nextqa", rows, make, ["qid"]))


# --------------------------------------------------------------------------------------------
# EgoSchema (the 500-question subset with public answers)


def _load_egoschema(base: Path, layout: Layout, split: str | None) -> list[Record]:
    if split not in (None, "subset"):
        raise ValueError("egoschema has public answers only for its 500-question subset (split 'subset')")
    questions_file, answers_file = base / "questions.json", base / "subset_answers.json"
    parquet = _find(base, ["Subset/test*.parquet", "subset*.parquet"])
    chosen = _pick_layout(
        "egoschema", layout, questions_file.is_file() and answers_file.is_file(), parquet,
        "questions.json + subset_answers.json or Subset/test*.parquet",
    )
    if chosen == "official":
        questions = {str(q.get("q_uid")): q for q in _read_json(questions_file)}
        rows = []
        for i, (uid, answer) in enumerate(_read_json(answers_file).items()):
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
        rows = _read_parquet(parquet)

    def make(row: dict) -> Record:
        if row.get("option") is None:
            raise ValueError("question missing from questions.json")
        options = _clean_options(row["option"])
        uid = str(row["video_idx"])
        video, problem = resolve_video([base / "videos"], [uid])
        return Record(
            "egoschema",
            str(row["question_idx"]) if row.get("question_idx") is not None else uid,
            video,
            _question(row["question"]),
            options,
            answer_letter=answer_letter(row["answer"], len(options)),
            video_id=uid,
            problem=problem,
        )

    return _with_answer_text(_records("egoschema", rows, make, ["question_idx", "video_idx"]))


# --------------------------------------------------------------------------------------------
# ActivityNet-QA (open-ended, judged)

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


def _load_activitynetqa(base: Path, layout: Layout, split: str | None) -> list[Record]:
    split = split or "test"
    q_file, a_file = base / f"{split}_q.json", base / f"{split}_a.json"
    parquet = _find(base, [f"**/{split}*.parquet"])
    chosen = _pick_layout(
        "activitynetqa", layout, q_file.is_file() and a_file.is_file(), parquet, f"{q_file.name} + {a_file.name} or **/{split}*.parquet"
    )
    if chosen == "official":
        answers = {str(a.get("question_id")): a for a in _read_json(a_file)}
        rows = []
        for i, q in enumerate(_read_json(q_file)):
            a = answers.get(str(q.get("question_id")), {})
            rows.append((f"{q_file}#{i}", {**q, "answer": a.get("answer"), "type": a.get("type")}))
    else:
        rows = _read_parquet(parquet)

    def make(row: dict) -> Record:
        answer = row.get("answer")
        if not isinstance(answer, str) or not answer.strip():
            raise ValueError("no answer")
        name = str(row["video_name"])
        video, problem = resolve_video([base / "all_test", base / "videos", base], [f"v_{name}", name])
        qtype = str(row["type"]) if row.get("type") is not None else ""
        categories = {"type": ACTIVITYNETQA_TYPES.get(qtype, qtype)} if qtype else {}
        return Record(
            "activitynetqa",
            str(row["question_id"]),
            video,
            _question(row["question"]),
            answer_text=answer.strip(),
            answer_type="open",
            video_id=name,
            categories=categories,
            problem=problem,
        )

    return _records("activitynetqa", rows, make, ["question_id"])


# --------------------------------------------------------------------------------------------
# MLVU (dev, multiple choice)

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


def _mlvu_answer(answer: Any, options: list[str]) -> tuple[str | None, str]:
    """MLVU's answers are option texts in the official files; copies give a letter or "(B) text"."""
    text = str(answer).strip()
    match = _EMBEDDED_OPTION.match(text) or re.fullmatch(r"\(?([A-Z])\)?", text)
    if match and LETTERS.index(match.group(1)) < len(options):
        letter = match.group(1)
        rest = match.group(2) if match.re is _EMBEDDED_OPTION else ""
        if not rest or _norm_text(rest) == _norm_text(options[LETTERS.index(letter)]):
            return letter, options[LETTERS.index(letter)]
    return text_letter(text, options), text


def _load_mlvu(base: Path, layout: Layout, split: str | None) -> list[Record]:
    if split not in (None, "dev"):
        raise ValueError("only MLVU dev is supported (its test answers are scored with 6 options elsewhere)")
    official = sorted((base / "json").glob("*.json"))
    parquet = _find(base, ["**/test*.parquet", "**/dev*.parquet"])
    chosen = _pick_layout("mlvu", layout, bool(official), parquet, "json/<n>_<task>.json or **/test*.parquet")
    rows: list[tuple[str, dict]] = []
    if chosen == "official":
        for path in official:
            for i, item in enumerate(_read_json(path)):
                rows.append((f"{path}#{i}", {**item, "_qid": f"{path.stem}_{i}", "_folder": path.stem}))
    else:
        rows = _read_parquet(parquet)
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
        question = _question(row["question"])
        stem, embedded = split_embedded_options(question)
        candidates = row.get("candidates")
        options = _clean_options(candidates if candidates else embedded)
        letter, text = _mlvu_answer(row["answer"], options)
        name = str(row.get("video", row.get("video_name")))
        video, problem = find_video(name, row.get("_folder"))
        task = str(row.get("question_type", row.get("task_type")))
        return Record(
            "mlvu",
            str(row.get("_qid") or row["question_id"]),
            video,
            stem,
            options,
            answer_letter=letter,
            answer_text=text,
            video_id=name,
            duration_s=_float(row.get("duration")),
            categories={"task": _MLVU_TASK_NAMES.get(task, task)},
            problem=problem,
        )

    return _records("mlvu", rows, make, ["_qid", "question_id"])


# --------------------------------------------------------------------------------------------
# Entry point

LOADERS: dict[str, Callable[[Path, Layout, str | None], list[Record]]] = {
    "videomme": _load_videomme,
    "longvideobench": _load_longvideobench,
    "nextqa": _load_nextqa,
    "egoschema": _load_egoschema,
    "activitynetqa": _load_activitynetqa,
    "mlvu": _load_mlvu,
}
ALIASES = {
    "video-mme": "videomme",
    "lvb": "longvideobench",
    "next-qa": "nextqa",
    "nextqa_mc": "nextqa",
    "egoschema_subset": "egoschema",
    "activitynet-qa": "activitynetqa",
    "anetqa": "activitynetqa",
    "mlvu_dev": "mlvu",
}


def benchmark_name(name: str) -> str:
    """The canonical name of a benchmark (accepts the common spellings)."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in LOADERS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {sorted(LOADERS)}")
    return key


def load_benchmark(name: str, root: str | os.PathLike, layout: Layout = "auto", split: str | None = None) -> list[Record]:
    """Every question of a benchmark under `root`, normalised, problems flagged.

    Args:
        name: `videomme`, `longvideobench`, `nextqa`, `egoschema`, `activitynetqa`, `mlvu`
            (or a common alias such as `video-mme`, `lvb`).
        root: the folder holding `<name>/`, or that benchmark folder itself.
        layout: `auto` (official files if present, else lmms-eval Parquet), `official` or
            `lmms-eval`.
        split: the split where a benchmark has several with answers (NExT-QA `test` or `val`,
            LongVideoBench `validation` or `test`, ActivityNet-QA `test` or `val`); each
            defaults to the split its published numbers use.

    Raises:
        FileNotFoundError: no annotation files of the asked layout.
    """
    bench = benchmark_name(name)
    root = Path(root).expanduser()
    # lmms-eval's Video-MME keeps its Parquet in a "videomme/" subfolder of the benchmark folder.
    base = root / bench if root.name.lower() != bench and (root / bench).is_dir() else root
    if not base.is_dir():
        raise FileNotFoundError(f"{bench}: {base} is not a folder")
    return LOADERS[bench](base, layout, split)


__all__ = [
    "ACTIVITYNETQA_TYPES",
    "LOADERS",
    "NEXTQA_GROUPS",
    "VIDEO_EXTENSIONS",
    "answer_letter",
    "benchmark_name",
    "load_benchmark",
    "resolve_video",
    "split_embedded_options",
    "strip_letter",
    "text_letter",
]
