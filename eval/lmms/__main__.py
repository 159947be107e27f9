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

import argparse
import json
import os
import sys
from pathlib import Path


def cmd_manifest(args: argparse.Namespace) -> None:
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
        items = items_from_task(args.task, key=args.key, question=args.question_field, include_path=args.include_path)
    else:
        if not args.key:
            raise ValueError("--docs needs --key, a template over the rows' fields such as '{question_id}'")
        with open(args.docs, encoding="utf-8") as f:
            docs = [json.loads(line) for line in f if line.strip()]
        root = Path(args.video_root) if args.video_root else None
        items = items_from_docs(
            docs, key=args.key, question=args.question_field,
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


def cmd_task(args: argparse.Namespace) -> None:
    from . import write_task

    path = write_task(args.manifest, args.out, base_task=args.base_task, base_yaml=args.base_yaml, task_name=args.name,
                      key=args.key, include_path=args.include_path)
    task = path.stem
    print(json.dumps({"task": task, "yaml": os.fspath(path), "include_path": os.fspath(path.parent)}))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eval.lmms", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("manifest", help="choose frames for a benchmark's docs; write frames + manifest.jsonl")
    m.add_argument("--bench", help="a benchmark of eval.load_benchmark (videomme, longvideobench, ...)")
    m.add_argument("--root", help="the benchmark's folder (with --bench)")
    m.add_argument("--layout", default="auto", choices=["auto", "official", "lmms-eval"])
    m.add_argument("--split", default=None)
    m.add_argument("--task", help="an lmms-eval task: its docs and videos as lmms-eval loads them (needs lmms-eval)")
    m.add_argument("--include-path", default=None, help="extra lmms-eval task folder (with --task)")
    m.add_argument("--docs", help="JSONL rows (with --key, --video-field, --question-field)")
    m.add_argument("--key", default=None, help="doc key template over the doc's fields, e.g. '{question_id}'")
    m.add_argument("--video-field", default="video")
    m.add_argument("--video-root", default=None, help="folder the --video-field values are relative to")
    m.add_argument("--question-field", default="question")
    m.add_argument("--chooser", required=True, help="make_chooser spec: uniform, selector:/ckpt, siglip:MODEL, ...")
    m.add_argument("--k", type=int, default=8)
    m.add_argument("--candidates", default="128", help="N, uniform:N or fps[:RATE[:MIN:MAX]]")
    m.add_argument("--out", required=True, help="folder for manifest.jsonl and frames/")
    m.add_argument("--format", default="jpeg", choices=["jpeg", "png"])
    m.add_argument("--quality", type=int, default=90)
    m.add_argument("--max-side", type=int, default=640, help="longer side of the written frames (0: source size)")
    m.add_argument("--max-pixels", type=int, default=None)
    m.add_argument("--device", default=None)
    m.add_argument("--limit", type=int, default=None, help="only the first N docs (a smoke run)")
    m.add_argument("--no-progress", action="store_true")
    m.set_defaults(func=cmd_manifest)
    t = sub.add_parser("task", help="write the lmms-eval task that serves a manifest's frames to stock models")
    t.add_argument("--manifest", required=True, help="manifest.jsonl or its folder")
    t.add_argument("--out", required=True, help="folder for the task YAML and utils (lmms-eval's --include_path)")
    t.add_argument("--base-task", default=None, help="the stock lmms-eval task (looked up with lmms-eval here)")
    t.add_argument("--base-yaml", default=None, help="the stock task's YAML, where lmms-eval is not installed here")
    t.add_argument("--name", default=None, help="the new task's name (default <base-task>_fs)")
    t.add_argument("--key", default=None, help="doc key template (default by task, e.g. '{question_id}' for videomme)")
    t.add_argument("--include-path", default=None, help="extra lmms-eval task folder to find --base-task in")
    t.set_defaults(func=cmd_task)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, KeyError, OSError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
