"""Training input: steps per second from the feature cache against from decoded video, in one run.

Builds a label store over generated videos (or takes `--labels` and `--model`), caches the
frozen tower's pooled features once (`frame-selector cache`), then trains the same steps twice:
reading the cache, and decoding each video and running the vision tower every step (training
without a cache). Both through the real commands' functions: `train.cli.cmd_cache` (what
`frame-selector cache` runs) and `train.loop.train`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


@dataclass
class Settings:
    """Options of `bench train-input`."""

    labels: str | None = field(default=None, metadata={"help": "label store (default: generated)"})
    model: str | None = field(default=None, metadata={"help": "selector checkpoint (default: a random one of --preset)"})
    preset: Literal["tiny", "small", "real"] = field(default="small", metadata={"help": "random selector when no --model"})
    videos: int = field(default=8, metadata={"help": "generated videos (default 8)"})
    video_seconds: float = field(default=20, metadata={"help": "length of each generated 640x360 video (default 20)"})
    candidates: int = 32
    steps: int = field(default=8, metadata={"help": "timed optimizer steps (after one warm-up step)"})
    micro_batch_size: int = 2
    stage: Literal[1, 2] = 1
    work: str | None = field(default=None, metadata={"help": "folder for the store, cache and runs (default: a new temporary folder)"})
    cache: str | None = field(default=None, metadata={"help": "folder of generated videos (default ~/.cache/frame-selector/bench)"})
    no_progress: bool = False


def make_label_store(root: Path, videos: int, seconds: float, candidates: int, progress: bool, cache: str | None = None) -> Path:
    """A merged label store over generated videos: two questions a video, each labelled 1 on the
    candidates in the first fifth of the video. Written through the store's documented columns
    (`selector.label_store`), so the benchmark needs no labelling code."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from selector.candidates import CandidatePlan, candidate_frames
    from selector.label_store import MERGED_FILE, SCHEMA
    from selector.video import content_hash, probe

    from .painted import painted_video

    rows = []
    for v in range(videos):
        path = painted_video(seconds, 640, 360, 30, seed=v + 1, progress=progress, cache=cache)
        info = probe(path)
        frames = candidate_frames(info, CandidatePlan(n=candidates))
        label = [1.0 if frame.seconds <= seconds / 5 else 0.0 for frame in frames]
        for q in range(2):
            rows.append({"id": f"{v}-{q}", "video": str(path), "question": f"What happens in part {q} of video {v}?", "options": [],
                         "status": "ok", "frames": [frame.to_dict() for frame in frames], "label": label,
                         "video_hash": content_hash(path)})
    store = root / "labels"
    store.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), store / MERGED_FILE)
    return store


def run(args: Settings, report) -> None:
    from selector.cli_support import UsageError, at_least

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


def _measure(args: Settings, report, root: Path) -> None:
    from accelerate.state import AcceleratorState

    from train.cli import CacheSettings, cmd_cache
    from train.config import TrainConfig
    from train.loop import train

    from .models import build_selector, describe
    from .report import ratio

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
        cmd_cache(CacheSettings(labels=str(labels), model=str(model), out=str(cache), no_progress=True))
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


__all__ = ["Settings", "run", "make_label_store"]
