"""Video-MME: official `videomme.json` (nested by video) or lmms-eval's `**/test*.parquet`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..records import Record
from .choices import answer_letter, clean_options, multiple_choice
from .files import Layout, find_files, pick_layout, read_json, read_parquet, resolve_video
from .rows import normalise_rows


def _youtube_id(url: Any) -> str:
    if not isinstance(url, str):
        return ""
    parts = urlsplit(url)
    if parts.hostname and parts.hostname.endswith("youtu.be"):
        return parts.path.strip("/")
    return (parse_qs(parts.query).get("v") or [""])[0]


def load_videomme(base: Path, layout: Layout, split: str | None) -> list[Record]:
    """Every Video-MME question under `base`; `split` names the Parquet files (default test)."""
    official = base / "videomme.json"
    parquet = find_files(base, [f"**/{split or 'test'}*.parquet"])
    chosen = pick_layout("videomme", layout, official.is_file(), parquet, "videomme.json or **/test*.parquet")
    if chosen == "official":
        # Nested by video; flatten to the Parquet's field names so one normaliser serves both.
        rows = []
        for v, video in enumerate(read_json(official)):
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
        rows = read_parquet(parquet)

    def make(row: dict) -> Record:
        options = clean_options(row["options"])
        names = [str(n) for n in (row.get("videoID"), _youtube_id(row.get("url")), row.get("video_id")) if n]
        video, problem = resolve_video([base / "data", base / "videos", base], names)
        subtitle = base / "subtitle" / (Path(video).stem + ".srt")
        categories = {key: str(row[key]) for key in ("duration", "domain", "sub_category", "task_type") if row.get(key)}
        return multiple_choice(
            "videomme", str(row["question_id"]), video, row["question"], options, answer_letter(row["answer"], len(options)),
            video_id=names[0] if names else "", categories=categories,
            subtitle_path=os.fspath(subtitle) if problem is None and subtitle.is_file() else None, problem=problem,
        )

    return normalise_rows("videomme", rows, make, ["question_id"])


__all__ = ["load_videomme"]
