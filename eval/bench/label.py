"""Labelling throughput: spatial scores and captions batched against frame by frame; caption reuse across questions.

Two tables, one run:

1. For each batch size: spatial scores (`direct`: one forward pass per batch; `reason`: a
   generated explanation, then the read-out pass) and captions, in frames per second, with the
   ratio to batch size 1.
2. Caption reuse: a labelling job (`LabelJob`, captions + temporal signal) over q questions on
   one video captions the video once; against one job per question, which captions it q times.
   The text LLM of the temporal signal is a stand-in that answers at once (it is a remote call,
   not measured here).

Random weights (speed does not depend on them), the tiny tokenizer, frames decoded from a bundled
test video. End-of-sequence is switched off, so every explanation and caption is exactly
`--new-tokens` long: a random model would otherwise stop at random, and batch and frame-by-frame
runs would not do the same work. Each timing is the best of `--repeats` runs after a warm-up.

    frame-selector bench label                                  # tiny model, CPU
    frame-selector bench label --preset 7b --device cuda --max-pixels 200704
    frame-selector bench label --config-json path/to/Qwen2-VL/config.json --device cuda
"""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pseudolabel.base import Captioner, TemporalResult, TemporalSelector

VIDEO = Path(__file__).resolve().parents[2] / "tests/data/videos/moviepy__big_buck_bunny_0_30.webm"
QUESTION = "When does the bunny come out of its burrow?"

# The published shapes (text decoder, vision tower) of Qwen2-VL-2B and -7B.
PRESETS = {
    "2b": dict(hidden=1536, intermediate=8960, layers=28, heads=12, kv_heads=2, vocab=151936, vision_depth=32,
               vision_embed=1280, vision_heads=16, tie_embeddings=True),
    "7b": dict(hidden=3584, intermediate=18944, layers=28, heads=28, kv_heads=4, vocab=152064, vision_depth=32,
               vision_embed=1280, vision_heads=16, tie_embeddings=False),
}
SHAPE_FLAGS = ("hidden", "intermediate", "layers", "heads", "kv_heads", "vocab", "vision_depth", "vision_embed", "vision_heads")


@dataclass
class Settings:
    """Options of `bench label`; the shape fields (hidden ... vision_heads) override the preset's."""

    video: str = str(VIDEO)
    frames: int = field(default=32, metadata={"help": "frames scored and captioned (default 32)"})
    frame_size: str = field(default="640x360", metadata={"help": "decoded frame WIDTHxHEIGHT (before the pixel budget)"})
    batch_sizes: str = field(default="1,8,16", metadata={"help": "comma-separated (default 1,8,16)"})
    new_tokens: int = field(default=16, metadata={"help": "explanation and caption length (default 16)"})
    questions: int = field(default=4, metadata={"help": "questions on the video for caption reuse (0: skip; default 4)"})
    min_pixels: int | None = None
    max_pixels: int | None = field(default=None, metadata={"help": "image pixel budget; default: the processor's (tiny: 112x112)"})
    preset: Literal["tiny", "2b", "7b"] = "tiny"
    config_json: str | None = field(default=None, metadata={"help": "a Qwen2-VL config.json to take the shapes from"})
    hidden: int | None = None
    intermediate: int | None = None
    layers: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    vocab: int | None = None
    vision_depth: int | None = None
    vision_embed: int | None = None
    vision_heads: int | None = None
    repeats: int = 2
    device: str | None = field(default=None, metadata={"help": "cpu or cuda (default: cuda if available)"})


def build_model(args: Settings, dtype):
    """The tiny model unless a preset, a config file or shape flags ask for another shape."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    from selector.tiny.vlm import build_tiny_qwen2_vl, build_tiny_qwen2_vl_processor

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


def shape_flags(args: Settings) -> dict[str, int]:
    return {name: getattr(args, name) for name in SHAPE_FLAGS if getattr(args, name) is not None}


def _mrope_section(head_dim: int) -> list[int]:
    """Qwen2-VL's split of the rotary half-dimension into time, height and width (16, 24, 24 for
    head dim 128), scaled to other head sizes."""
    half = head_dim // 2
    time_part = half // 4
    height = (half - time_part) // 2
    return [time_part, height, half - time_part - height]


def batching_table(args, report, model, processor, frames: Sequence, budget: dict, batch_sizes: list[int]) -> None:
    from pseudolabel.hf_scorers import HFCaptioner, HFSpatialScorer

    from .report import ratio
    from .timing import timed

    def labellers(batch_size: int) -> dict[str, Callable[[], object]]:
        direct = HFSpatialScorer(model, processor, mode="direct", batch_size=batch_size, **budget)
        reason = HFSpatialScorer(model, processor, mode="reason", batch_size=batch_size, max_new_tokens=args.new_tokens, **budget)
        captioner = HFCaptioner(model, processor, batch_size=batch_size, max_new_tokens=args.new_tokens, **budget)
        return {
            "spatial direct": lambda: direct.score(frames, QUESTION),
            "spatial reason": lambda: reason.score(frames, QUESTION),
            "caption": lambda: captioner.caption(frames),
        }

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="True and False share")  # the tiny BPE splits " True"
        runs = {batch_size: labellers(batch_size) for batch_size in batch_sizes}
    rows = []
    for task in runs[batch_sizes[0]]:
        seconds = {b: timed(runs[b][task], args.repeats, args.device) for b in batch_sizes}
        for batch_size, took in seconds.items():
            rows.append([task, batch_size, took, len(frames) / took, ratio(seconds[batch_sizes[0]], took)])
    report.table(f"Spatial scores and captions, {len(frames)} frames: batched against batch {batch_sizes[0]}",
                 ["task", "batch", "seconds", "frames/s", f"speed-up vs batch {batch_sizes[0]}"], rows)


class _InstantTemporal(TemporalSelector):
    """Stands in for the text LLM of the temporal signal: answers at once (the first candidate)."""

    def select(self, captions, seconds, question) -> TemporalResult:
        return TemporalResult(indices=[0])

    def provenance(self) -> dict:
        return {"backend": "bench stand-in"}


class CountingCaptioner(Captioner):
    """Hands every call to the captioner it wraps and counts them: how often a job captions the video."""

    def __init__(self, captioner: Captioner) -> None:
        self.captioner = captioner
        self.passes = 0

    def caption(self, frames: Sequence) -> list[str]:
        self.passes += 1
        return self.captioner.caption(frames)

    def provenance(self) -> dict:
        return self.captioner.provenance()


def reuse_table(args, report, model, processor, budget: dict, batch_size: int, pixels: int) -> None:
    from pseudolabel.hf_scorers import HFCaptioner
    from pseudolabel.job import LabelJob, LabelSettings
    from selector.candidates import CandidatePlan
    from selector.records import VideoQuestion

    from .report import ratio
    from .timing import timed

    captioner = CountingCaptioner(HFCaptioner(model, processor, batch_size=batch_size, max_new_tokens=args.new_tokens, **budget))
    settings = LabelSettings(plan=CandidatePlan(n=args.frames), frame_pixels=pixels)
    items = [VideoQuestion(id=f"q{i}", video=args.video, question=f"{QUESTION} ({i})") for i in range(args.questions)]

    def job(out: Path, todo: list) -> None:
        LabelJob(out, captioner=captioner, temporal=_InstantTemporal(), settings=settings).run(todo, progress=False)

    results = {}
    folders = iter(range(10**6))
    with tempfile.TemporaryDirectory(prefix="frame-selector-label-bench-") as root:
        for name, runs in (("one job, captions reused", [items]), ("a job per question, captions recomputed", [[i] for i in items])):
            def label(runs=runs):  # every run in fresh store folders: nothing cached from before
                for todo in runs:
                    job(Path(root) / str(next(folders)), todo)
            captioner.passes = 0
            seconds = timed(label, args.repeats, args.device)
            passes = captioner.passes / (args.repeats + 1)  # + 1: the warm-up
            results[name] = (seconds, int(passes) if passes.is_integer() else passes)
    base = results["a job per question, captions recomputed"][0]
    rows = [[name, seconds, count, seconds / args.questions, ratio(base, seconds)] for name, (seconds, count) in results.items()]
    report.table(f"Caption reuse: {args.questions} questions on one video, {args.frames} candidates, batch {batch_size}",
                 ["labelling", "seconds", "captioning passes", "s / question", "speed-up vs recomputed"], rows,
                 note="Each job decodes the candidates, captions them (unless cached for the video) and asks the temporal "
                      "stand-in; spatial scoring is left out (it depends on the question, so it is never reused).")


def run(args: Settings, report) -> None:
    import numpy as np
    import torch

    from pseudolabel.hf_scorers import HFCaptioner
    from selector.cli_support import at_least, check_device, frame_size, int_list
    from selector.hardware import default_dtype
    from selector.video import probe, read_frames

    args.device = check_device(args.device)
    batch_sizes = int_list(args.batch_sizes, "--batch-sizes")
    at_least(args.frames, 1, "--frames")
    at_least(args.new_tokens, 1, "--new-tokens")
    at_least(args.repeats, 1, "--repeats")
    at_least(args.questions, 0, "--questions")
    width, height = frame_size(args.frame_size, "--frame-size", "640x360", 28)
    torch.set_grad_enabled(False)
    dtype = default_dtype(args.device)
    info = probe(args.video)
    model, processor = build_model(args, dtype)
    model.generation_config.eos_token_id = None
    indices = np.linspace(0, info.num_frames - 1, args.frames).round().astype(int)
    frames = list(read_frames(info, indices, size=(width, height)))
    budget = dict(min_pixels=args.min_pixels, max_pixels=args.max_pixels)
    params = sum(p.numel() for p in model.parameters())
    name = args.config_json or args.preset + (" + shape flags" if shape_flags(args) else "")
    report.note(f"{params / 1e6:.2f}M params ({name}), {args.device}, {str(dtype).removeprefix('torch.')}, "
                f"{len(frames)} frames {width}x{height} of {Path(args.video).name}, max_pixels "
                f"{HFCaptioner(model, processor, **budget).max_pixels}, {args.new_tokens} new tokens")
    batching_table(args, report, model, processor, frames, budget, batch_sizes)
    if args.questions:
        reuse_table(args, report, model, processor, budget, max(batch_sizes), width * height)


__all__ = ["Settings", "run", "build_model", "PRESETS"]
