"""The manifest route: choose frames for a benchmark's docs once, write them as image files with a
JSONL manifest, and generate an lmms-eval task that feeds them to any stock model.

1. `precompute_manifest(items, chooser, out_dir, k=8)` runs a chooser over `ManifestItem`s
   (doc key, video, question), grouped by video so each video is decoded and encoded once, and
   writes ``out_dir/manifest.jsonl`` (one row per doc: key, video, question, k, indices, seconds,
   fps, the times to print, frame files, scores, chooser settings) and
   ``out_dir/frames/<key>/`` (the frames, with a ``frames.json`` sidecar). Running it again
   resumes: rows already written are kept, failed ones are tried again.
2. `write_task(manifest, task_dir, base_task="videomme")` writes ``<task>.yaml``, which
   `include`s the stock task's YAML and replaces only ``doc_to_visual``, ``doc_to_text`` and
   ``doc_to_messages``, and ``<task>_utils.py`` (a copy of `eval/lmms/task_utils.py`, which needs
   only Pillow and lmms-eval). Then, in lmms-eval's environment, with any stock model::

       python -m lmms_eval --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct \\
           --tasks videomme_fs --include_path out/lmms_task

Items come from the package's own loaders (`items_from_records(load_benchmark(...))`), from
any rows (`items_from_docs`), or from the lmms-eval task itself (`items_from_task`, which needs
lmms-eval and its data here). Their keys must be what the doc key template gives for the same
doc in lmms-eval (``{question_id}`` for Video-MME); `DOC_KEYS` has the templates whose fields
lmms-eval's docs are documented to carry.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import string
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selector import CandidatePlan, VideoError, probe

from .task_utils import manifest_rows

MANIFEST = "manifest.jsonl"
FRAMES = "frames"

# Doc key templates (`str.format` over an lmms-eval doc) that match `Record.qid` of
# `eval.load_benchmark(..., layout="lmms-eval")` for the same question, by task-name prefix.
DOC_KEYS = {
    "videomme": "{question_id}",
    "longvideobench": "{id}",
    "activitynetqa": "{question_id}",
}


@dataclass(frozen=True)
class ManifestItem:
    """One doc to choose frames for.

    Attributes:
        key: the doc's key, unique in the manifest; what the doc key template gives for it.
        video: the video file.
        question: what the chooser is asked (the question, without options or instructions).
        problem: why the doc cannot be served (e.g. its video is missing); written as a failed row.
    """

    key: str
    video: str
    question: str
    problem: str | None = None


@dataclass
class ManifestRun:
    """What `precompute_manifest` did: rows written, rows kept from an earlier run, failures."""

    path: Path
    written: int = 0
    kept: int = 0
    failed: int = 0


def doc_key_template(task: str) -> str | None:
    """The known doc key template for an lmms-eval task name (by prefix), else None."""
    for prefix, template in DOC_KEYS.items():
        if task.startswith(prefix):
            return template
    return None


def format_key(template: str, doc: dict) -> str:
    """A doc's key from a `str.format` template over its fields (``"{video}_{qid}"``)."""
    try:
        return string.Formatter().vformat(template, (), doc)
    except (KeyError, IndexError) as error:
        raise KeyError(f"doc key template {template!r} names a field the doc lacks ({error}); fields: {sorted(doc)}") from None


def items_from_records(records: Iterable, key: Callable[[Any], str] | None = None) -> list[ManifestItem]:
    """Items from `eval.Record`s (`load_benchmark`): key `record.qid` unless `key` says
    otherwise, the record's question (without options); a flagged record stays flagged."""
    return [
        ManifestItem(str(key(r) if key else r.qid), r.video_path, r.question, r.problem)
        for r in records
    ]


def items_from_docs(
    docs: Iterable[dict],
    *,
    key: str | Callable[[dict], str],
    video: str | Callable[[dict], str],
    question: str | Callable[[dict], str] = "question",
) -> list[ManifestItem]:
    """Items from any rows: `key` a template or a function, `video` and `question` a field name or
    a function of the row. A row whose video or question cannot be had becomes a flagged item."""

    def get(spec, doc):
        return spec(doc) if callable(spec) else doc[spec]

    items = []
    for i, doc in enumerate(docs):
        k = key(doc) if callable(key) else format_key(key, doc)
        try:
            items.append(ManifestItem(str(k), os.fspath(get(video, doc)), str(get(question, doc))))
        except (Exception, SystemExit) as error:  # stock doc_to_visual functions sys.exit on a missing video
            items.append(ManifestItem(str(k), "", "", problem=f"doc {i}: {type(error).__name__}: {error}"))
    return items


def items_from_task(
    task: str,
    *,
    key: str | None = None,
    question: str | Callable[[dict], str] = "question",
    include_path: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    limit: int | None = None,
) -> list[ManifestItem]:
    """Items for the docs of an lmms-eval task, as lmms-eval loads them (needs lmms-eval and the
    task's data here): the video is the first visual of the task's own ``doc_to_visual``.

    Args:
        task: the lmms-eval task name (``videomme``).
        key: the doc key template; defaults to `DOC_KEYS` for known tasks.
        question: the doc field (or a function of the doc) the chooser is asked.
        include_path: extra task folders, as lmms-eval's ``--include_path``.
        limit: only the first docs (a smoke run).
    """
    from lmms_eval.tasks import TaskManager, get_task_dict

    key = key or doc_key_template(task)
    if key is None:
        raise ValueError(f"no known doc key for task {task!r}; pass key='{{field}}' naming a unique doc field")
    paths = [include_path] if isinstance(include_path, (str, os.PathLike)) else list(include_path or [])
    manager = TaskManager(include_path=[os.fspath(p) for p in paths] or None)
    task_obj = get_task_dict([task], manager)[task]
    docs = task_obj.test_docs() if task_obj.has_test_docs() else task_obj.validation_docs()
    if limit is not None:
        docs = [docs[i] for i in range(min(limit, len(docs)))]

    def first_video(doc: dict) -> str:
        visuals = task_obj.doc_to_visual(doc)
        if not visuals or not isinstance(visuals[0], (str, os.PathLike)):
            raise ValueError(f"doc_to_visual gave {type(visuals[0]).__name__ if visuals else 'nothing'}, not a video path")
        return os.fspath(visuals[0])

    return items_from_docs(docs, key=key, video=first_video, question=question)


# --------------------------------------------------------------------------------------------
# Writing the manifest


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


def selection_row(chosen, info, *, key: str, frames_dir: str, sidecar: dict) -> dict:
    """The manifest row for one choice (`eval.choosers.ChosenFrames`) and its written frames."""
    from selector.handoff.common import clip_of, fmt_seconds, time_decimals

    clip = clip_of(chosen.to_selection(), info)
    record = clip.record()
    decimals = time_decimals(chosen.seconds)
    return {
        "key": key,
        "video": os.fspath(chosen.video),
        "question": chosen.question,
        "chooser": chosen.chooser,
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
        "scores": None if chosen.scores is None else [round(float(s), 6) for s in chosen.scores],
        "settings": chosen.settings,
        "notes": chosen.notes,
        "frames_dir": frames_dir,
        "files": [f["file"] for f in sidecar["files"]],
        "frame_size": sidecar.get("frame_size"),
        "image_format": sidecar.get("format"),
    }


def precompute_manifest(
    items: Iterable[ManifestItem],
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
    keys = [item.key for item in items]
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
    groups: dict[str, list[ManifestItem]] = {}
    with _open_for_append(path) as f:

        def write(row: dict) -> None:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()

        def fail(item: ManifestItem, error: str) -> None:
            write({"key": item.key, "video": item.video, "question": item.question, "k": k,
                   "chooser": chooser.name, "settings": {**chooser.settings(), "k": k, "plan": plan.to_dict()},
                   "error": error})
            run.failed += 1

        for item in items:
            if item.key in done:
                run.kept += 1
            elif item.problem:
                fail(item, item.problem)
            else:
                groups.setdefault(item.video, []).append(item)
        for video, group in groups.items():
            start = time.perf_counter()
            try:
                info = probe(video)
                chosen = chooser.choose_many(info, plan, [i.question for i in group], k, [i.key for i in group])
            except (VideoError, ValueError, RuntimeError, OSError) as error:
                for item in group:
                    fail(item, " ".join(str(error).split()))
                continue
            for item, choice in zip(group, chosen):
                folder = f"{FRAMES}/{_safe_name(item.key)}"
                try:
                    sidecar_path = export_frames(choice.to_selection(), out / folder, format=image_format, quality=quality,
                                                 info=info, max_side=max_side, max_pixels=max_pixels)
                except (VideoError, OSError) as error:
                    fail(item, " ".join(str(error).split()))
                    continue
                sidecar = json.loads(sidecar_path.read_text())
                write(selection_row(choice, info, key=item.key, frames_dir=folder, sidecar=sidecar))
                run.written += 1
            if progress:
                print(f"{video}: {len(group)} docs, {time.perf_counter() - start:.1f} s", flush=True)
    return run


# --------------------------------------------------------------------------------------------
# The task lmms-eval loads


def find_task_yaml(task: str, include_path: str | os.PathLike | Sequence[str | os.PathLike] | None = None) -> Path:
    """The YAML file of an lmms-eval task, as lmms-eval's `TaskManager` indexes it (needs lmms-eval)."""
    from lmms_eval.tasks import TaskManager

    paths = [include_path] if isinstance(include_path, (str, os.PathLike)) else list(include_path or [])
    index = TaskManager(include_path=[os.fspath(p) for p in paths] or None)._task_index
    entry = index.get(task)
    if entry is None:
        raise ValueError(f"lmms-eval has no task {task!r}")
    if entry.get("type") != "task" or not isinstance(entry.get("yaml_path"), str):
        raise ValueError(f"{task!r} is a lmms-eval {entry.get('type')}, not a task defined by a YAML file; name one of its tasks")
    return Path(entry["yaml_path"])


def write_task(
    manifest: str | os.PathLike,
    task_dir: str | os.PathLike,
    *,
    base_task: str | None = None,
    base_yaml: str | os.PathLike | None = None,
    task_name: str | None = None,
    key: str | None = None,
    include_path: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
) -> Path:
    """Write an lmms-eval task that serves the manifest's frames in place of a stock task's video.

    Args:
        manifest: ``manifest.jsonl`` (or its folder) from `precompute_manifest`.
        task_dir: where ``<task_name>.yaml`` and ``<task_name>_utils.py`` go; give it to
            lmms-eval as ``--include_path``. Keep it apart from the frames folder (lmms-eval
            walks it for YAML files).
        base_task: the stock task (``videomme``); its YAML is looked up with lmms-eval here.
        base_yaml: the stock task's YAML file, where lmms-eval is not installed here (the path
            as lmms-eval's environment sees it).
        task_name: the new task's name (default ``<base_task>_fs``).
        key: the doc key template (default: `DOC_KEYS` by the base task's name).
        include_path: extra task folders to find `base_task` in.

    The YAML `include`s the base YAML, so prompts, metrics, data and `lmms_eval_specific_kwargs`
    stay the stock task's; only the visuals and the text before the prompt change. Returns the
    YAML path.
    """
    manifest = Path(manifest)
    if manifest.is_dir():
        manifest = manifest / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"no manifest at {manifest}")
    if base_yaml is None:
        if base_task is None:
            raise ValueError("give base_task (looked up with lmms-eval) or base_yaml")
        base_yaml = find_task_yaml(base_task, include_path)
    base_yaml = Path(base_yaml).resolve() if Path(base_yaml).exists() else Path(base_yaml)
    if base_task is None:
        base_task = _task_of_yaml(base_yaml)
    task_name = task_name or f"{base_task}_fs"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", task_name):
        raise ValueError(f"task name {task_name!r} must be a Python identifier (it names the utils module)")
    key = key or doc_key_template(base_task)
    if key is None:
        raise ValueError(f"no known doc key for {base_task!r}; pass key='{{field}}' naming a unique doc field")
    task_dir = Path(task_dir)
    task_dir.mkdir(parents=True, exist_ok=True)
    try:
        manifest_ref = os.path.relpath(manifest.resolve(), task_dir.resolve())
    except ValueError:  # another drive
        manifest_ref = os.fspath(manifest.resolve())
    config = {"task": task_name, "base_task": base_task, "base_yaml": os.fspath(base_yaml), "manifest": manifest_ref, "key": key}
    template = (Path(__file__).parent / "task_utils.py").read_text()
    marker = "CONFIG: dict = {}"
    if marker not in template:
        raise RuntimeError("task_utils.py lost its CONFIG line")
    module = f"{task_name}_utils"
    (task_dir / f"{module}.py").write_text(template.replace(marker, f"CONFIG: dict = {json.dumps(config, indent=4)}", 1))
    yaml_path = task_dir / f"{task_name}.yaml"
    yaml_path.write_text(
        f"# Generated by frame-selector (eval.lmms.write_task): the stock task {base_task!r} with each doc's\n"
        f"# frames from {manifest_ref} (keys {key}), each with its true time in the text.\n"
        f"include: {json.dumps(os.fspath(base_yaml))}\n"
        f"task: {task_name}\n"
        f"doc_to_visual: !function {module}.doc_to_visual\n"
        f"doc_to_text: !function {module}.doc_to_text\n"
        f"doc_to_messages: !function {module}.doc_to_messages\n"
    )
    return yaml_path


def _task_of_yaml(path: Path) -> str:
    """The `task:` name of a task YAML (its own line; includes are not followed)."""
    for line in path.read_text().splitlines():
        match = re.match(r"task:\s*['\"]?([^'\"#\s]+)", line)
        if match:
            return match.group(1)
    raise ValueError(f"{path} names no task; pass base_task")


__all__ = [
    "DOC_KEYS",
    "FRAMES",
    "MANIFEST",
    "ManifestItem",
    "ManifestRun",
    "doc_key_template",
    "find_task_yaml",
    "format_key",
    "items_from_docs",
    "items_from_records",
    "items_from_task",
    "precompute_manifest",
    "read_manifest",
    "selection_row",
    "write_task",
]
