"""Training steps per second from the feature cache against from decoded video, in one run.

Builds a label store over generated videos (or takes --labels and --model), caches the frozen
tower's features, then trains the same steps twice: once reading the cache, once decoding each
video and running the vision tower per step (what training without a cache does).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

from accelerate.state import AcceleratorState

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", help="label store (default: generated)")
    parser.add_argument("--model", help="selector checkpoint (default: a random one of --size)")
    parser.add_argument("--size", choices=["tiny", "small"], default="small", help="random selector size when no --model")
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--candidates", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--micro-batch-size", type=int, default=2)
    parser.add_argument("--stage", type=int, default=1)
    args = parser.parse_args()

    from train_fixtures import make_label_store, make_selector, write_video  # noqa: F401

    from train.cli import cmd_cache
    from train.config import TrainConfig
    from train.loop import train

    root = Path(tempfile.mkdtemp(prefix="train-bench-"))
    labels = Path(args.labels) if args.labels else make_label_store(root, videos=args.videos, candidates=args.candidates)
    if args.model:
        model = Path(args.model)
    elif args.size == "tiny":
        model = make_selector(root, max_candidates=args.candidates)
    else:
        model = _small_selector(root, args.candidates)
    cache = root / "cache"
    started = time.perf_counter()
    cmd_cache(type("A", (), dict(labels=str(labels), model=str(model), out=str(cache), instruct=None, instruct_frames=16,
                                 shard=None, batch_size=32, dtype="float16", device=None, no_progress=True)))
    cache_seconds = time.perf_counter() - started

    results = {}
    for name, features in (("feature cache", str(cache)), ("decoded video", "")):
        AcceleratorState._reset_state(True)
        out = root / name.replace(" ", "-")
        config = TrainConfig.load(None, None, init_from=str(model), labels=str(labels), features=features, output_dir=str(out),
                                  stage=args.stage, batch_size=args.micro_batch_size, micro_batch_size=args.micro_batch_size,
                                  max_steps=args.steps + 1, eval_every=0, save_every=0, lm_ratio=0, num_workers=0,
                                  progress=False, val_fraction=0.0)
        train(config)
        rows = list(csv.DictReader((out / "metrics.csv").open()))
        # Step 1 includes warm-up (first allocations); time the steps after it.
        seconds = float(rows[-1]["seconds"]) - float(rows[0]["seconds"])
        results[name] = args.steps / seconds
    print(f"label rows from {labels}, {args.candidates} candidates, micro-batch {args.micro_batch_size}, stage {args.stage}, model {model}")
    print(f"building the cache once: {cache_seconds:.2f} s")
    print(f"{'source':16s} {'steps/s':>9s} {'vs decoded':>11s}")
    for name, rate in results.items():
        print(f"{name:16s} {rate:9.2f} {rate / results['decoded video']:10.1f}x")


def _small_selector(root: Path, candidates: int) -> Path:
    """A random selector with a SigLIP-like tower at 224 px (16 px patches), so decoding and the
    tower cost what they cost at small scale on a CPU."""
    from transformers import Qwen2Config, SiglipVisionConfig

    from selector import FrameSelectorConfig, FrameSelectorModel
    from selector.tiny import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer()
    config = FrameSelectorConfig(
        vision_config=SiglipVisionConfig(hidden_size=192, intermediate_size=768, num_hidden_layers=6, num_attention_heads=3,
                                         image_size=224, patch_size=16, vision_use_head=False),
        text_config=Qwen2Config(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=512, num_hidden_layers=4,
                                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192),
        max_candidates=max(candidates, 8),
    )
    out = root / "small-selector"
    FrameSelectorModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


if __name__ == "__main__":
    main()
