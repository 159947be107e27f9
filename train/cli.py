"""`frame-selector cache` (build the feature cache) and `frame-selector train` (one process;
use `accelerate launch -m train` for several)."""

from __future__ import annotations

import argparse
import json

DTYPES = {"float16": "float16", "bfloat16": "bfloat16", "float32": "float32"}


def cmd_cache(args: argparse.Namespace) -> None:
    import torch

    from selector.modeling import FrameSelectorModel
    from selector.processing import load_processor
    from selector.runtime import process_shard

    from .data import label_request, read_instructions, read_labels
    from .features import build_cache

    shard, num_shards, device = process_shard(args.shard)
    device = args.device or device or ("cuda" if torch.cuda.is_available() else "cpu")
    requests = [label_request(row) for row in read_labels(args.labels)]
    if args.instruct:
        requests += [example.request for example in read_instructions(args.instruct, args.instruct_frames)]
    dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    model = FrameSelectorModel.from_pretrained(args.model, dtype=dtype).to(device).eval()
    counts = build_cache(
        model, load_processor(args.model), requests, args.out, shard=shard, num_shards=num_shards, batch_size=args.batch_size,
        dtype=getattr(torch, args.dtype), progress=not args.no_progress,
    )
    print(json.dumps({"shard": f"{shard}/{num_shards}", **counts}))


def cmd_train(args: argparse.Namespace) -> None:
    from .config import TrainConfig
    from .loop import train

    final = train(TrainConfig.load(args.config, args.overrides))
    print(f"final selector: {final}")


def register(sub: argparse._SubParsersAction) -> None:
    cache = sub.add_parser("cache", help="pooled vision features of labelled (and instruction) media, once")
    cache.add_argument("--labels", required=True, help="label store folder or labels.parquet")
    cache.add_argument("--model", required=True, help="selector checkpoint whose vision tower makes the features")
    cache.add_argument("--out", required=True, help="feature cache folder")
    cache.add_argument("--instruct", help="stage-1 instruction JSONL whose media to cache too")
    cache.add_argument("--instruct-frames", type=int, default=16)
    cache.add_argument("--shard", help="i/N (default: the accelerate process, else 0/1)")
    cache.add_argument("--batch-size", type=int, default=32, help="frames per vision forward pass")
    cache.add_argument("--dtype", choices=sorted(DTYPES), default="float16", help="stored feature dtype")
    cache.add_argument("--device", default=None)
    cache.add_argument("--no-progress", action="store_true")
    cache.set_defaults(func=cmd_cache)

    train = sub.add_parser("train", help="train one stage in this process (accelerate launch -m train for several)")
    train.add_argument("--config", help="YAML settings (see train/configs/)")
    train.add_argument("overrides", nargs="*", help="key=value settings that override the file")
    train.set_defaults(func=cmd_train)
