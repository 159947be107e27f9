"""Pseudo-labelling throughput, batched against frame by frame, measured side by side in one run.

For each batch size: spatial scores (``direct``: one forward pass per batch; ``reason``: a
generated explanation, then the read-out pass) and captions, in frames per second, with the ratio
to batch size 1. Random weights (speed does not depend on them), the tiny tokenizer, and frames
decoded from a bundled test video.

    python benchmarks/spatial_throughput.py                                  # tiny model, CPU
    python benchmarks/spatial_throughput.py --preset 7b --device cuda --max-pixels 200704
    python benchmarks/spatial_throughput.py --config-json path/to/Qwen2-VL/config.json --device cuda
    python benchmarks/spatial_throughput.py --hidden 1536 --layers 28 --heads 12 --kv-heads 2 ...

End-of-sequence is switched off, so every explanation and caption is exactly ``--new-tokens``
long: a random model would otherwise stop at random, and batch and frame-by-frame runs would not
do the same work. Each timing is the best of ``--repeats`` runs after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from timing import timed
from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor

from pseudolabel.hf_scorers import HFCaptioner, HFSpatialScorer
from pseudolabel.tiny_vlm import build_tiny_qwen2_vl, build_tiny_qwen2_vl_processor
from selector import probe, read_frames

VIDEO = Path(__file__).resolve().parents[1] / "tests/data/videos/moviepy__big_buck_bunny_0_30.webm"
QUESTION = "When does the bunny come out of its burrow?"

# The published shapes (text decoder, vision tower) of Qwen2-VL-2B and -7B.
PRESETS = {
    "2b": dict(hidden=1536, intermediate=8960, layers=28, heads=12, kv_heads=2, vocab=151936, vision_depth=32,
               vision_embed=1280, vision_heads=16, tie_embeddings=True),
    "7b": dict(hidden=3584, intermediate=18944, layers=28, heads=28, kv_heads=4, vocab=152064, vision_depth=32,
               vision_embed=1280, vision_heads=16, tie_embeddings=False),
}
SHAPE_FLAGS = ("hidden", "intermediate", "layers", "heads", "kv_heads", "vocab", "vision_depth", "vision_embed", "vision_heads")


def build_model(args: argparse.Namespace, dtype: torch.dtype) -> tuple[Qwen2VLForConditionalGeneration, Qwen2VLProcessor]:
    """The tiny model unless a preset, a config file or shape flags ask for another shape."""
    shape = {**PRESETS.get(args.preset, {}), **shape_flags(args)}
    if not shape and not args.config_json:
        model, processor = build_tiny_qwen2_vl()
        return model.to(args.device, dtype), processor
    processor = build_tiny_qwen2_vl_processor()
    tokenizer = processor.tokenizer
    if args.config_json:
        config_dict = json.loads(Path(args.config_json).read_text())
    else:
        hidden = shape.get("hidden", 256)
        heads = shape.get("heads", 4)
        config_dict = dict(
            text_config=dict(
                vocab_size=shape.get("vocab", len(tokenizer)), hidden_size=hidden,
                intermediate_size=shape.get("intermediate", 4 * hidden), num_hidden_layers=shape.get("layers", 4),
                num_attention_heads=heads, num_key_value_heads=shape.get("kv_heads", heads),
                rope_parameters={"rope_type": "default", "mrope_section": _mrope_section(hidden // heads), "rope_theta": 1e6},
                tie_word_embeddings=shape.get("tie_embeddings", False),
            ),
            vision_config=dict(
                depth=shape.get("vision_depth", 2), embed_dim=shape.get("vision_embed", 64),
                num_heads=shape.get("vision_heads", 4), hidden_size=hidden, mlp_ratio=4,
            ),
        )
    # The tiny tokenizer's ids for the special tokens, whatever the file said (a flat, older
    # config.json keeps the text settings at the top level).
    token_id = tokenizer.convert_tokens_to_ids
    config_dict.update(
        image_token_id=token_id("<|image_pad|>"), video_token_id=token_id("<|video_pad|>"),
        vision_start_token_id=token_id("<|vision_start|>"), vision_end_token_id=token_id("<|vision_end|>"),
    )
    text = config_dict.get("text_config", config_dict)
    text.update(bos_token_id=token_id("<|endoftext|>"), eos_token_id=token_id("<|im_end|>"), pad_token_id=tokenizer.pad_token_id)
    text["vocab_size"] = max(text.get("vocab_size", 0), len(tokenizer))
    config = Qwen2VLConfig(**config_dict)
    with torch.device(args.device):  # random init on the device: a 7B initialises in seconds on a GPU
        model = Qwen2VLForConditionalGeneration._from_config(config, dtype=dtype)
    return model.eval(), processor


def shape_flags(args: argparse.Namespace) -> dict[str, int]:
    return {name: value for name, value in vars(args).items() if name in SHAPE_FLAGS and value is not None}


def _mrope_section(head_dim: int) -> list[int]:
    """Qwen2-VL's split of the rotary half-dimension into time, height and width (16, 24, 24 for
    head dim 128), scaled to other head sizes."""
    half = head_dim // 2
    time_part = half // 4
    height = (half - time_part) // 2
    return [time_part, height, half - time_part - height]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", default=str(VIDEO))
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--frame-size", default="640x360", help="decoded frame WIDTHxHEIGHT (before the pixel budget)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--new-tokens", type=int, default=16, help="explanation and caption length")
    parser.add_argument("--min-pixels", type=int)
    parser.add_argument("--max-pixels", type=int, help="image pixel budget; default: the processor's (tiny: 112x112)")
    parser.add_argument("--preset", choices=["tiny", *PRESETS], default="tiny")
    parser.add_argument("--config-json", help="a Qwen2-VL config.json to take the shapes from")
    for flag in SHAPE_FLAGS:
        parser.add_argument("--" + flag.replace("_", "-"), type=int)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    torch.set_grad_enabled(False)
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    model, processor = build_model(args, dtype)
    model.generation_config.eos_token_id = None
    info = probe(args.video)
    width, height = (int(v) for v in args.frame_size.split("x"))
    indices = np.linspace(0, info.num_frames - 1, args.frames).round().astype(int)
    frames = list(read_frames(info, indices, size=(width, height)))
    budget = dict(min_pixels=args.min_pixels, max_pixels=args.max_pixels)

    def labellers(batch_size: int) -> dict[str, Callable[[], object]]:
        direct = HFSpatialScorer(model, processor, mode="direct", batch_size=batch_size, **budget)
        reason = HFSpatialScorer(model, processor, mode="reason", batch_size=batch_size,
                                 max_new_tokens=args.new_tokens, **budget)
        captioner = HFCaptioner(model, processor, batch_size=batch_size, max_new_tokens=args.new_tokens, **budget)
        return {
            "spatial direct": lambda: direct.score(frames, QUESTION),
            "spatial reason": lambda: reason.score(frames, QUESTION),
            "caption": lambda: captioner.caption(frames),
        }

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="True and False share")  # the tiny BPE splits " True"
        runs = {batch_size: labellers(batch_size) for batch_size in args.batch_sizes}
    params = sum(p.numel() for p in model.parameters())
    name = args.config_json or args.preset + (" + shape flags" if shape_flags(args) else "")
    print(f"{params / 1e6:.2f}M params ({name}), {args.device}, {str(dtype).removeprefix('torch.')}, "
          f"{len(frames)} frames {width}x{height}, max_pixels {HFCaptioner(model, processor, **budget).max_pixels}, "
          f"{args.new_tokens} new tokens, torch threads {torch.get_num_threads()}")
    print(f"{'task':16s} {'batch':>5s} {'seconds':>8s} {'frames/s':>9s} {'vs batch 1':>11s}")
    for task in runs[args.batch_sizes[0]]:
        seconds = {b: timed(runs[b][task], args.repeats, args.device) for b in args.batch_sizes}
        for batch_size, took in seconds.items():
            ratio = f"{seconds[1] / took:10.2f}x" if 1 in seconds else f"{'-':>11s}"
            print(f"{task:16s} {batch_size:5d} {took:8.3f} {len(frames) / took:9.1f} {ratio}")


if __name__ == "__main__":
    main()
