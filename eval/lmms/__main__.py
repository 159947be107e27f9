"""``python -m eval.lmms``: precompute a selection manifest, and write the lmms-eval task that
serves it to stock models.

    # 1. choose frames for every doc (one of --bench/--root, --task, --docs)
    python -m eval.lmms manifest --bench videomme --root data/videomme --chooser selector:/ckpt --k 8 --out sel/
    python -m eval.lmms manifest --task videomme --chooser selector:/ckpt --k 8 --out sel/       # docs as lmms-eval loads them
    python -m eval.lmms manifest --docs docs.jsonl --key "{question_id}" --video-field video --video-root videos/ ...
    # 2. the task (lmms-eval's Video-MME with these frames), then any stock model
    python -m eval.lmms task --manifest sel/ --base-task videomme --out sel-task/
    python -m lmms_eval --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct \\
        --tasks videomme_fs --include_path sel-task/
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from selector.cli_support import SettingsParser, add_command, command_parser, run_parsed


@dataclass
class ManifestSettings:
    """`manifest`: which docs (one of bench + root, task, docs), which chooser, and how frames are written."""

    chooser: str = field(metadata={"help": "make_chooser spec: uniform, selector:/ckpt, siglip:MODEL, ..."})
    out: str = field(metadata={"help": "folder for manifest.jsonl and frames/"})
    bench: str | None = field(default=None, metadata={"help": "a benchmark of eval.load_benchmark (videomme, longvideobench, ...)"})
    root: str | None = field(default=None, metadata={"help": "the benchmark's folder (with --bench)"})
    layout: Literal["auto", "official", "lmms-eval"] = "auto"
    split: str | None = None
    task: str | None = field(default=None, metadata={
        "help": "an lmms-eval task: its docs and videos as lmms-eval loads them (needs lmms-eval)"})
    include_path: str | None = field(default=None, metadata={"help": "extra lmms-eval task folder (with --task)"})
    docs: str | None = field(default=None, metadata={"help": "JSONL rows (with --key, --video-field, --question-field)"})
    key: str | None = field(default=None, metadata={"help": "doc key template over the doc's fields, e.g. '{question_id}'"})
    video_field: str = "video"
    video_root: str | None = field(default=None, metadata={"help": "folder the --video-field values are relative to"})
    question_field: str = "question"
    options_field: str = field(default="auto", metadata={
        "help": "the docs' answer options (with --task/--docs): auto (the known option fields, else options written "
                "into the question), a field name, or none (the bare question)"})
    k: int = 8
    candidates: str = field(default="128", metadata={"help": "N, uniform:N, keyframes:N (approximate, faster) or fps[:RATE[:MIN:MAX]]"})
    format: Literal["jpeg", "png"] = "jpeg"
    quality: int = 90
    max_side: int = field(default=640, metadata={"help": "longer side of the written frames (0: source size)"})
    max_pixels: int | None = None
    device: str | None = None
    limit: int | None = field(default=None, metadata={"help": "only the first N docs (a smoke run)"})
    no_progress: bool = False


@dataclass
class TaskSettings:
    """`task`: the manifest to serve, the stock task it copies, and where the new task goes."""

    manifest: str = field(metadata={"help": "manifest.jsonl or its folder"})
    out: str = field(metadata={"help": "folder for the task YAML and utils (lmms-eval's --include_path)"})
    base_task: str | None = field(default=None, metadata={"help": "the stock lmms-eval task (looked up with lmms-eval here)"})
    base_yaml: str | None = field(default=None, metadata={"help": "the stock task's YAML, where lmms-eval is not installed here"})
    name: str | None = field(default=None, metadata={"help": "the new task's name (default <base-task>_fs)"})
    key: str | None = field(default=None, metadata={"help": "doc key template (default by task, e.g. '{question_id}' for videomme)"})
    include_path: str | None = field(default=None, metadata={"help": "extra lmms-eval task folder to find --base-task in"})


def _options(field_name: str) -> str | None:
    return None if field_name.lower() in ("none", "") else field_name


def cmd_manifest(args: ManifestSettings) -> None:
    from . import items_from_docs, items_from_records, items_from_task, precompute_manifest

    sources = [args.bench is not None, args.task is not None, args.docs is not None]
    if sum(sources) != 1:
        raise ValueError("give exactly one of --bench (with --root), --task or --docs")
    if args.bench is not None:
        from ..benchmarks import load_benchmark

        if not args.root:
            raise ValueError("--bench needs --root")
        items = items_from_records(load_benchmark(args.bench, args.root, layout=args.layout, split=args.split))
    elif args.task is not None:
        items = items_from_task(args.task, key=args.key, question=args.question_field, options=_options(args.options_field),
                                include_path=args.include_path)
    else:
        if not args.key:
            raise ValueError("--docs needs --key, a template over the rows' fields such as '{question_id}'")
        with open(args.docs, encoding="utf-8") as f:
            docs = [json.loads(line) for line in f if line.strip()]
        root = Path(args.video_root) if args.video_root else None
        items = items_from_docs(
            docs, key=args.key, question=args.question_field, options=_options(args.options_field),
            video=lambda d: os.fspath(root / d[args.video_field]) if root else d[args.video_field],
        )
    if args.limit is not None:
        items = items[: args.limit]
    run = precompute_manifest(
        items, args.chooser, args.out, k=args.k, candidates=args.candidates, image_format=args.format,
        quality=args.quality, max_side=args.max_side or None, max_pixels=args.max_pixels, device=args.device,
        progress=not args.no_progress,
    )
    print(json.dumps({"manifest": os.fspath(run.path), "written": run.written, "kept": run.kept, "failed": run.failed}))


def cmd_task(args: TaskSettings) -> None:
    from . import write_task

    path = write_task(args.manifest, args.out, base_task=args.base_task, base_yaml=args.base_yaml, task_name=args.name,
                      key=args.key, include_path=args.include_path)
    task = path.stem
    print(json.dumps({"task": task, "yaml": os.fspath(path), "include_path": os.fspath(path.parent)}))


def build_parser() -> SettingsParser:
    parser, sub = command_parser(prog="python -m eval.lmms", description=__doc__.split("\n\n")[0])
    add_command(sub, "manifest", ManifestSettings, cmd_manifest,
                help="choose frames for a benchmark's docs; write frames + manifest.jsonl")
    add_command(sub, "task", TaskSettings, cmd_task, help="write the lmms-eval task that serves a manifest's frames to stock models")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_parsed(build_parser().parse_args(argv), (ValueError, KeyError, OSError))


if __name__ == "__main__":
    sys.exit(main())
