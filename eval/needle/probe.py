"""How well a tower's frame token tells the needles apart: linear probes of shape, colour and
(colour, shape) on the pooled features of needle frames.

The selector sees one token a frame, the tower's pooled embedding; if a shape cannot be read from
it linearly, no training of the selector will make it find "the star". The probes are fit on the
middle frame of every needle of the training world's first videos and scored on every needle of
the held-out world, so a probe that only memorised frames scores low.

    python -m eval.needle.probe demo-out/needle/similarity demo-out/needle/world
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from transformers import SiglipImageProcessor, SiglipModel

from selector import probe, read_frames

from .world import read_questions

TARGETS: dict[str, Callable[[tuple[str, str]], str]] = {
    "shape": lambda needle: needle[0],
    "colour": lambda needle: needle[1],
    "colour and shape": lambda needle: f"{needle[1]} {needle[0]}",
}


def needle_frames(manifest: Path, size: int, videos: int | None = None) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """The middle frame of every needle of the manifest's first `videos` videos, at `size` px,
    with the (shape, colour) each shows."""
    events: dict[str, list[dict]] = {}
    for row in read_questions(manifest):
        events.setdefault(row["video"], row["needle_events"])
    frames, needles = [], []
    for video, shown in sorted(events.items())[:videos]:
        frames.append(read_frames(probe(video), [(e["first"] + e["last"]) // 2 for e in shown], size=(size, size)))
        needles += [(e["shape"], e["colour"]) for e in shown]
    return np.concatenate(frames), needles


@torch.no_grad()
def pooled_features(model: SiglipModel, processor: SiglipImageProcessor, frames: np.ndarray) -> np.ndarray:
    """The tower's pooled embedding of each frame: the token the demo's selector sees."""
    pixels = processor(images=list(frames), return_tensors="pt")["pixel_values"]
    return model.get_image_features(pixel_values=pixels).pooler_output.numpy()


def probe_tower(tower: str | Path, world: str | Path, train_videos: int = 120) -> dict[str, float]:
    """Held-out accuracy of each linear probe in `TARGETS`."""
    world = Path(world)
    model, processor = SiglipModel.from_pretrained(tower).eval(), SiglipImageProcessor.from_pretrained(tower)
    size = model.config.vision_config.image_size
    train_frames, train_needles = needle_frames(world / "train" / "questions.jsonl", size, train_videos)
    test_frames, test_needles = needle_frames(world / "test" / "questions.jsonl", size)
    train_x, test_x = pooled_features(model, processor, train_frames), pooled_features(model, processor, test_frames)
    scores = {}
    for name, target in TARGETS.items():
        fit = LogisticRegression(max_iter=2000, C=10).fit(train_x, [target(n) for n in train_needles])
        scores[name] = round(float(fit.score(test_x, [target(n) for n in test_needles])), 3)
    return {**scores, "held-out needles": len(test_needles)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tower", help="a SigLIP checkpoint folder (the demo's similarity/)")
    parser.add_argument("world", help="a demo world folder (with train/ and test/)")
    args = parser.parse_args(argv)
    print(json.dumps(probe_tower(args.tower, args.world)))


if __name__ == "__main__":
    main()


__all__ = ["TARGETS", "needle_frames", "pooled_features", "probe_tower"]
