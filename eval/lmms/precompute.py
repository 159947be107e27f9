"""Choose frames for a benchmark's docs once and write them as image files with a JSONL manifest
(``out_dir/manifest.jsonl``, ``out_dir/frames/<key>/``), for `eval.lmms.task.write_task` to serve to
any stock lmms-eval model.

Each manifest row holds the doc's key, video, question and options, k, the chosen indices and
seconds, fps, the times to print, the frame files, scores and the chooser's settings. Docs are
grouped by video so each video is decoded and encoded once; running it again resumes: rows already
written are kept, failed ones are tried again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from selector import CandidatePlan, VideoError
from selector.prefetch import decode_ahead
from selector.records import VideoQuestion
from selector.api import round_score

from .task_utils import manifest_rows

MANIFEST = "manifest.jsonl"
FRAMES = "frames"


@dataclass
class ManifestRun:
    """What `precompute_manifest` did: rows written, rows kept from an earlier run, failures."""

    path: Path
    written: int = 0
    kept: int = 0
    failed: int = 0


def _safe_name(key: str) -> str:
    """A folder name for a key: itself when it is plain, else a cleaned form with a short hash."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._") or "doc"
    if clean == key and len(key) <= 100:
        return key
    return f"{clean[:80]}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def read_manifest(path: str | os.PathLike) -> dict[str, dict]:
    """Manifest rows by key; the last row of a key wins (a resumed run appends), and a last line
    cut short by a killed run is ignored."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST
    return manifest_rows(path) if path.exists() else {}


def _open_for_append(path: Path):
    """Append mode, after dropping a last line that a killed run left without its newline."""
    if path.exists() and path.stat().st_size:
        with open(path, "rb+") as f:
            data = f.read()
            if not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
    return open(path, "a", encoding="utf-8")


def _plan(candidates: CandidatePlan | int | str) -> CandidatePlan:
    if isinstance(candidates, CandidatePlan):
        return candidates
    if isinstance(candidates, int):
        return CandidatePlan(n=candidates)
    return CandidatePlan.parse(str(candidates))


def selection_row(chosen, info, *, key: str, frames_dir: str, sidecar: dict, options: Sequence[str] | None = None) -> dict:
    """The manifest row for one choice (a `selector.Selection` from `eval.choosers`) and its written frames."""
    from selector.handoff.clip import clip_of, fmt_seconds, time_decimals

    clip = clip_of(chosen, info)
    record = clip.record()
    decimals = time_decimals(chosen.seconds)
    return {
        "key": key,
        "video": os.fspath(chosen.video),
        "question": chosen.question,
        "options": list(options) if options else None,
        "chooser": chosen.settings["chooser"],
        "k": chosen.k,
        "indices": chosen.indices,
        "seconds": [round(float(s), 6) for s in chosen.seconds],
        "prompt_times": [fmt_seconds(s, decimals) for s in chosen.seconds],
        "fps": record["fps"],
        "duration": record["duration"],
        "total_num_frames": record["total_num_frames"],
        "width": record["width"],
        "height": record["height"],
        "candidates": len(chosen.candidates),
        "candidate_positions": chosen.positions,
        "scores": [round_score(f.score) for f in chosen.frames] if chosen.scores else None,
        "settings": chosen.settings,
        "notes": chosen.notes,
        "frames_dir": frames_dir,
        "files": [f["file"] for f in sidecar["files"]],
        "frame_size": sidecar.get("frame_size"),
        "image_format": sidecar.get("format"),
    }


def precompute_manifest(
    items: Iterable[VideoQuestion],
    chooser,
    out_dir: str | os.PathLike,
    *,
    k: int = 8,
    candidates: CandidatePlan | int | str = 128,
    image_format: str = "jpeg",
    quality: int = 90,
    max_side: int | None = 640,
    max_pixels: int | None = None,
    device: str | None = None,
    progress: bool = False,
) -> ManifestRun:
    """Choose k frames for every item, write them as images and one manifest row per item.

    Args:
        items: the docs (`items_from_records`, `items_from_docs`, `items_from_task`); keys unique.
        chooser: an `eval.choosers.Chooser`, or a `make_chooser` spec (``selector:/ckpt``).
        out_dir: gets ``manifest.jsonl`` and ``frames/``.
        k: frames per doc.
        candidates: the candidate plan (``128``, ``uniform:128``, ``fps:2:8:128``).
        image_format, quality: ``jpeg`` (with its quality) or ``png``.
        max_side, max_pixels: bound on the written frames (aspect ratio kept, never upscaled).
            Images bypass a model's video budget (every frame costs its own tokens), so keep
            them small enough for k of them; the size is recorded per row.
        device: for a chooser made from a spec.
        progress: print one line per video.

    Rows already in the manifest without an error are kept (resume); a failed item (missing
    video, k larger than the video's candidates, an item flagged by its loader) becomes a row
    with ``error`` and no frames, which the generated task refuses to serve.
    """
    from selector.handoff import export_frames

    from ..choosers import Chooser, make_chooser

    if isinstance(chooser, str):
        chooser = make_chooser(chooser, device=device)
    if not isinstance(chooser, Chooser):
        raise TypeError(f"chooser must be a Chooser or a spec string, not {type(chooser).__name__}")
    plan = _plan(candidates)
    items = list(items)
    keys = [item.id for item in items]
    if len(set(keys)) != len(keys):
        seen, dup = set(), []
        for key in keys:
            (dup.append(key) if key in seen else seen.add(key))
        raise ValueError(f"duplicate doc keys: {dup[:5]}")
    out = Path(out_dir)
    (out / FRAMES).mkdir(parents=True, exist_ok=True)
    path = out / MANIFEST
    done = {key for key, row in read_manifest(path).items() if not row.get("error")}
    run = ManifestRun(path)
    groups: dict[str, list[VideoQuestion]] = {}
    with _open_for_append(path) as f:

        def write(row: dict) -> None:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()

        def fail(item: VideoQuestion, error: str) -> None:
            write({"key": item.id, "video": item.video, "question": item.question, "options": item.options or None, "k": k,
                   "chooser": chooser.name, "settings": {**chooser.settings(), "k": k, "plan": plan.to_dict()},
                   "error": error})
            run.failed += 1

        for item in items:
            if item.id in done:
                run.kept += 1
            elif item.problem:
                fail(item, item.problem)
            else:
                groups.setdefault(item.video, []).append(item)
        # The next videos are decoded while the chooser works on this one (selector.prefetch).
        for (video, group), prepared in decode_ahead(groups.items(), lambda entry: chooser.prefetch(entry[0], plan)):
            start = time.perf_counter()
            try:
                ready = prepared.result()
                info = ready.info
                with ready.handed_over():
                    chosen = chooser.choose_many(info, plan, [i.question for i in group], k, [i.id for i in group],
                                                 options=[i.options or None for i in group])
            except (VideoError, ValueError, RuntimeError, OSError) as error:
                for item in group:
                    fail(item, " ".join(str(error).split()))
                continue
            for item, choice in zip(group, chosen):
                folder = f"{FRAMES}/{_safe_name(item.id)}"
                try:
                    sidecar_path = export_frames(choice, out / folder, format=image_format, quality=quality,
                                                 info=info, max_side=max_side, max_pixels=max_pixels)
                except (VideoError, OSError) as error:
                    fail(item, " ".join(str(error).split()))
                    continue
                sidecar = json.loads(sidecar_path.read_text())
                write(selection_row(choice, info, key=item.id, frames_dir=folder, sidecar=sidecar, options=item.options))
                run.written += 1
            if progress:
                print(f"{video}: {len(group)} docs, {time.perf_counter() - start:.1f} s", flush=True)
    return run


__all__ = ["FRAMES", "MANIFEST", "ManifestRun", "precompute_manifest", "read_manifest", "selection_row"]
