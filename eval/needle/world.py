"""A synthetic needle-in-a-haystack world with known answers, on disk: each split's videos
(planned by `eval.needle.planning`, drawn by `eval.needle.rendering`) under `<split>/videos/`
and its questions in `<split>/questions.jsonl`, the label and eval manifest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from selector.atomic import write_atomic

from .planning import VideoPlan, WorldSettings, plan_world
from .rendering import render


def write_manifest(plans: Sequence[VideoPlan], path: Path) -> list[dict]:
    """JSONL of every question (the label and eval manifest), video paths relative to the file."""
    rows = []
    for plan in plans:
        for q in plan.questions:
            row = q.to_dict()  # a label/eval manifest row plus the world's facts
            row["video"] = f"videos/{plan.name}.mp4"
            row["needle_events"] = [asdict(n) for n in plan.needles]
            rows.append(row)
    write_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))
    return rows


def build_world(out: str | os.PathLike, settings: WorldSettings, split: str, progress: bool = True) -> Path:
    """Render a split under `out/<split>/` (videos/ and questions.jsonl); returns the manifest."""
    folder = Path(out) / split
    plans = plan_world(settings, split)
    render(plans, settings, folder / "videos", progress=progress)
    manifest = folder / "questions.jsonl"
    write_manifest(plans, manifest)
    return manifest


def read_questions(manifest: str | os.PathLike) -> list[dict]:
    """The rows of a world manifest, with `video` made absolute."""
    path = Path(manifest)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for row in rows:
        row["video"] = str((path.parent / row["video"]).resolve())
    return rows


__all__ = ["write_manifest", "build_world", "read_questions"]
