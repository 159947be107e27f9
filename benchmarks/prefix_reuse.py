"""Prefix reuse, measured: Q questions on one video, three ways, in one run.

1. per question, everything: decode, vision tower, full LLM sequence (what a naive loop does);
2. decode and vision once, but the full LLM sequence (frames + question) per question;
3. `FrameSelector.select_many`: decode, vision and the frame prefix once, then only the question
   tokens, batched.

Random weights (speed does not depend on them). Sizes are settings, so the same script measures
the real 1.5B shape on a GPU:  --hidden 1536 --layers 28 --heads 12 --kv-heads 2 --vision-hidden 1024
--vision-layers 24 --image-size 256 --patch 16 --device cuda
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from timing import timed
from transformers import Qwen2Config, SiglipVisionConfig

from selector import FrameSelector, FrameSelectorConfig, FrameSelectorModel, probe
from selector.tiny import build_tiny_tokenizer

VIDEO = Path(__file__).resolve().parents[1] / "tests/data/videos/moviepy__big_buck_bunny_0_30.webm"
QUESTIONS = [
    "When does the bunny come out of its burrow?",
    "What colour is the sky in the opening shot?",
    "What is written on the title card?",
    "How many birds are on the branch?",
    "What does the bunny do after he stretches?",
    "Is it day or night?",
    "What animal appears first?",
    "Where does the butterfly land?",
]


def build(args) -> FrameSelector:
    tokenizer = build_tiny_tokenizer()
    config = FrameSelectorConfig(
        vision_config=SiglipVisionConfig(
            hidden_size=args.vision_hidden, intermediate_size=4 * args.vision_hidden, num_hidden_layers=args.vision_layers,
            num_attention_heads=max(1, args.vision_hidden // 64), image_size=args.image_size, patch_size=args.patch,
            vision_use_head=False,
        ),
        text_config=Qwen2Config(
            vocab_size=len(tokenizer), hidden_size=args.hidden, intermediate_size=int(args.hidden * 5.8),
            num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
            max_position_embeddings=32768,
        ),
        max_candidates=args.candidates,
    )
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    model = FrameSelectorModel(config).to(args.device, dtype).eval()
    return FrameSelector(model, tokenizer, name="random")


@torch.no_grad()
def per_question_everything(selector: FrameSelector, video, questions, n) -> None:
    for q in questions:
        info, frames = selector.candidates(video, n)
        features = selector.encode_video(info, frames)
        ids, mask = selector._question_batch([q])
        selector.model(input_ids=ids.to(selector.device), attention_mask=mask.to(selector.device),
                       prefix_ids=selector._prefix_ids.to(selector.device), vision_features=features[None])


@torch.no_grad()
def per_question_llm(selector: FrameSelector, video, questions, n) -> None:
    info, frames = selector.candidates(video, n)
    features = selector.encode_video(info, frames)
    for q in questions:
        ids, mask = selector._question_batch([q])
        selector.model(input_ids=ids.to(selector.device), attention_mask=mask.to(selector.device),
                       prefix_ids=selector._prefix_ids.to(selector.device), vision_features=features[None])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", default=str(VIDEO))
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--candidates", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--vision-hidden", type=int, default=64)
    parser.add_argument("--vision-layers", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--patch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    torch.set_grad_enabled(False)
    selector = build(args)
    info = probe(args.video)
    questions = (QUESTIONS * (args.questions // len(QUESTIONS) + 1))[: args.questions]
    n = args.candidates
    rows = [
        ("per question: decode + vision + full LLM", timed(lambda: per_question_everything(selector, info, questions, n), args.repeats, args.device)),
        ("decode + vision once, full LLM per question", timed(lambda: per_question_llm(selector, info, questions, n), args.repeats, args.device)),
        ("select_many (frame prefix reused)", timed(lambda: selector.select_many(info, questions, k=8, candidates=n), args.repeats, args.device)),
    ]
    params = sum(p.numel() for p in selector.model.parameters())
    print(f"video {Path(args.video).name}, {n} candidates, {len(questions)} questions, {params / 1e6:.1f}M params, {args.device}")
    print(f"{'method':48s} {'seconds':>8s} {'per question':>13s} {'vs select_many':>15s}")
    fastest = rows[-1][1]
    for name, seconds in rows:
        print(f"{name:48s} {seconds:8.3f} {seconds / len(questions):13.3f} {seconds / fastest:14.1f}x")


if __name__ == "__main__":
    main()
