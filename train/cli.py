"""`frame-selector cache` (build the feature cache) and `frame-selector train` (one stage; under
`accelerate launch --no_python frame-selector train ...`, one process of several).

`python -m train` is the same `train` command (`train/__main__.py` runs it through this parser),
so `accelerate launch -m train ...` takes the same options (but a `train.py` in the working
folder shadows it; the console-script form cannot be shadowed).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field

from selector.cli_support import Dtype, add_command, torch_dtype


@dataclass
class CacheSettings:
    """What `frame-selector cache` encodes, with which vision tower, and where it writes."""

    labels: str = field(metadata={"help": "label store folder or labels.parquet"})
    model: str = field(metadata={"help": "selector checkpoint whose vision tower makes the features"})
    out: str = field(metadata={"help": "feature cache folder"})
    instruct: str | None = field(default=None, metadata={"help": "stage-1 instruction JSONL whose media to cache too"})
    instruct_frames: int = 16
    shard: str | None = field(default=None, metadata={"help": "i/N (default: the accelerate process, else 0/1)"})
    batch_size: int = field(default=32, metadata={"help": "frames per vision forward pass"})
    dtype: Dtype = field(default="float16", metadata={"help": "stored feature dtype"})
    device: str | None = None
    no_progress: bool = False


@dataclass
class TrainCommandSettings:
    """`train`'s command line: a settings file and `key=value` overrides, read by `TrainConfig.load`."""

    config: str | None = field(default=None, metadata={"help": "YAML settings (see train/configs/)"})
    overrides: list[str] = field(default_factory=list, metadata={
        "positional": True, "help": "key=value settings that override the file (any field of train.config.TrainConfig)"})


def cmd_cache(args: CacheSettings) -> None:
    import torch

    from selector.hardware import default_device, default_dtype
    from selector.modeling import FrameSelectorForFrameScoring
    from selector.processing import load_processor
    from selector.sharding import process_shard

    from .data import label_request, read_instructions, read_labels
    from .features import build_cache

    shard, num_shards, device = process_shard(args.shard)
    device = args.device or device or default_device()
    requests = [label_request(row) for row in read_labels(args.labels)]
    if args.instruct:
        requests += [example.request for example in read_instructions(args.instruct, args.instruct_frames)]
    model = FrameSelectorForFrameScoring.from_pretrained(args.model, dtype=default_dtype(device)).to(device).eval()
    counts = build_cache(
        model, load_processor(args.model), requests, args.out, shard=shard, num_shards=num_shards, batch_size=args.batch_size,
        dtype=torch_dtype(args.dtype), progress=not args.no_progress,
    )
    print(json.dumps({"shard": f"{shard}/{num_shards}", **counts}))


def cmd_train(args: TrainCommandSettings) -> None:
    from .config import TrainConfig
    from .loop import train

    final = train(TrainConfig.load(args.config, args.overrides))
    print(f"final selector: {final}")


def register(sub: argparse._SubParsersAction) -> None:
    add_command(sub, "cache", CacheSettings, cmd_cache, help="pooled vision features of labelled (and instruction) media, once")
    add_command(sub, "train", TrainCommandSettings, cmd_train,
                help="train one stage (several processes: accelerate launch --no_python frame-selector train ...)")


def main(argv: list[str] | None = None) -> int:
    """`python -m train ARGS`: exactly `frame-selector train ARGS`."""
    from selector.cli import main as frame_selector

    return frame_selector(["train", *(sys.argv[1:] if argv is None else argv)])


__all__ = ["CacheSettings", "TrainCommandSettings", "cmd_cache", "cmd_train", "register", "main"]
