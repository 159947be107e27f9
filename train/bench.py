"""Training input: steps per second from the feature cache against from decoded video, in one run.

Builds a label store over generated videos (or takes `--labels` and `--model`), caches the
frozen tower's pooled features once (`frame-selector cache`), then trains the same steps twice:
reading the cache, and decoding each video and running the vision tower every step (training
without a cache). Registered as `frame-selector bench train-input` through the
`frame_selector.benchmarks` entry point.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import tempfile
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--labels", help="label store (default: generated)")
    parser.add_argument("--model", help="selector checkpoint (default: a random one of --preset)")
    parser.add_argument("--preset", choices=["tiny", "small", "real"], default="small", help="random selector when no --model")
    parser.add_argument("--videos", type=int, default=8, help="generated videos (default 8)")
    parser.add_argument("--video-seconds", type=float, default=20, help="length of each generated 640x360 video (default 20)")
    parser.add_argument("--candidates", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8, help="timed optimizer steps (after one warm-up step)")
    parser.add_argument("--micro-batch-size", type=int, default=2)
    parser.add_argument("--stage", type=int, choices=[1, 2], default=1)
    parser.add_argument("--work", help="folder for the store, cache and runs (default: a new temporary folder)")
    parser.add_argument("--cache", default=None, help="folder of generated videos (default ~/.cache/frame-selector/bench)")
    parser.add_argument("--no-progress", action="store_true")


def make_label_store(root: Path, videos: int, seconds: float, candidates: int, progress: bool, cache: str | None = None) -> Path:
    """A label store over generated videos (labels from spans: the first fifth of each video)."""
    from pseudolabel.job import LabelJob, LabelSettings
    from pseudolabel.manifest import read_manifest
    from selector import CandidatePlan
    from selector.bench.common import painted_video

    rows = []
    for v in range(videos):
        path = painted_video(seconds, 640, 360, 30, seed=v + 1, progress=progress, cache=cache)
        for q in range(2):
            rows.append({"id": f"{v}-{q}", "video": str(path), "question": f"What happens in part {q} of video {v}?",
                         "spans": [[0.0, seconds / 5]]})
    manifest = root / "manifest.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows))
    store = root / "labels"
    LabelJob(store, settings=LabelSettings(plan=CandidatePlan(n=candidates))).run(read_manifest(manifest), progress=False)
    return store


def run(args: argparse.Namespace, report) -> None:
    from selector.bench.common import at_least
    from selector.cli import UsageError

    for name in ("videos", "candidates", "steps", "micro_batch_size"):
        at_least(getattr(args, name), 1, "--" + name.replace("_", "-"))
    if args.video_seconds <= 0:
        raise UsageError("--video-seconds must be > 0")
    if args.work:
        Path(args.work).mkdir(parents=True, exist_ok=True)
        _measure(args, report, Path(args.work))
    else:
        with tempfile.TemporaryDirectory(prefix="frame-selector-train-bench-") as root:
            _measure(args, report, Path(root))


def _measure(args: argparse.Namespace, report, root: Path) -> None:
    from accelerate.state import AcceleratorState

    from selector.bench.common import ratio
    from selector.bench.models import build_selector, describe

    from .cli import cmd_cache
    from .config import TrainConfig
    from .loop import train

    progress = not args.no_progress
    labels = Path(args.labels) if args.labels else make_label_store(root, args.videos, args.video_seconds, args.candidates, progress, args.cache)
    if args.model:
        model = Path(args.model)
        report.note(f"model: {model}")
    else:
        selector, _ = build_selector(args.preset, max_candidates=max(args.candidates, 8))
        model = root / f"selector-{args.preset}"
        selector.save_pretrained(model)
        report.note(f"model: random {args.preset}, {describe(selector)}")
    cache = root / "cache"
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # its one-line JSON summary
        cmd_cache(argparse.Namespace(labels=str(labels), model=str(model), out=str(cache), instruct=None, instruct_frames=16,
                                     shard=None, batch_size=32, dtype="float16", device=None, no_progress=True))
    cache_seconds = time.perf_counter() - started

    rates = {}
    for name, features in (("feature cache", str(cache)), ("decoded video", "")):
        AcceleratorState._reset_state(True)
        out = root / name.replace(" ", "-")
        config = TrainConfig.load(None, None, init_from=str(model), labels=str(labels), features=features, output_dir=str(out),
                                  stage=args.stage, batch_size=args.micro_batch_size, micro_batch_size=args.micro_batch_size,
                                  max_steps=args.steps + 1, eval_every=0, save_every=0, lm_ratio=0, num_workers=0,
                                  progress=False, val_fraction=0.0)
        train(config)
        rows = list(csv.DictReader((out / "metrics.csv").open()))
        # Step 1 includes the warm-up (first allocations); time the steps after it.
        seconds = float(rows[-1]["seconds"]) - float(rows[0]["seconds"])
        rates[name] = args.steps / seconds if seconds > 0 else float("nan")  # below the log's 10 ms resolution
    report.note(f"label store {labels}, {args.candidates} candidates per item, micro-batch {args.micro_batch_size}, "
                f"stage {args.stage}, {args.steps} timed steps; building the cache once took {cache_seconds:.2f} s")
    report.table(
        "Training steps per second by input source",
        ["source", "steps/s", "s/step", "vs decoded video"],
        [[name, rate, 1 / rate if rate else float("nan"), ratio(rate, rates["decoded video"])] for name, rate in rates.items()],
    )
    report.data["results"] = {"steps_per_s": rates, "cache_build_s": cache_seconds}


__all__ = ["add_arguments", "run", "make_label_store"]
