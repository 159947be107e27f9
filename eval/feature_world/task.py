"""A minimal question-aware task in feature space: the regression test of the selector's defining
property and the study of docs/question-awareness.md Part 1 both train on it.

Each video is a row of candidate "frames" given as vision features: noise, with a few events, each
a (colour, shape) pair whose feature is the sum of a colour and a shape prototype. The question
asks when one event appears. A selector that only detects events scores every event alike; one
that reads the question finds the asked one. No video is decoded: the model's `forward` takes the
features directly, as training from the feature cache does, so a run takes seconds on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from selector import FrameSelectorForFrameScoring, FrameSelectorProcessor
from selector.tiny import build_tiny_selector

COLOURS = ("red", "green", "blue", "yellow")
SHAPES = ("circle", "square", "triangle", "star")


@dataclass
class FeatureWorld:
    """Fixed prototypes; `batch` draws videos from them."""

    candidates: int = 32
    dim: int = 16
    events: int = 5
    noise: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.colour_vectors = rng.normal(size=(len(COLOURS), self.dim))
        self.shape_vectors = rng.normal(size=(len(SHAPES), self.dim))

    def batch(self, rng: np.random.Generator, size: int) -> dict:
        """`size` videos: features (B, n, 1, dim), the event spans and the question texts.

        `asked[b]` is the (colour, shape) of event 0 of video b, `other[b]` that of event 1 (the
        swap control asks it), `spans[b][e]` the candidates that show event e.
        """
        features = rng.normal(scale=self.noise, size=(size, self.candidates, 1, self.dim))
        spans, asked, other = [], [], []
        for b in range(size):
            pairs = rng.choice(len(COLOURS) * len(SHAPES), size=self.events, replace=False)
            slots = rng.choice(self.candidates // 2, size=self.events, replace=False) * 2
            video = []
            for pair, start in zip(pairs, slots):
                colour, shape = divmod(int(pair), len(SHAPES))
                length = int(rng.integers(1, 3))
                frames = list(range(int(start), int(start) + length))
                features[b, frames, 0] += self.colour_vectors[colour] + self.shape_vectors[shape]
                video.append((frames, COLOURS[colour], SHAPES[shape]))
            spans.append([frames for frames, _, _ in video])
            asked.append(video[0][1:])
            other.append(video[1][1:])
        return {"features": torch.tensor(features, dtype=torch.float32), "spans": spans, "asked": asked, "other": other}


def tiny_selector(
    world: FeatureWorld,
    seed: int = 0,
    width: int = 64,
    layers: int = 2,
    initializer_range: float | None = None,
    **overrides,
) -> tuple[FrameSelectorForFrameScoring, FrameSelectorProcessor]:
    """A `selector.tiny` selector sized for `world` (one token a frame, `width`-wide language model).

    Defaults are the shipped recipe: `selector.tiny`'s width-scaled init (`initializer_range=None`),
    the `frame_match` read-out after the final norm (`score_layer=-1`), the listwise loss;
    `overrides` are `FrameSelectorConfig` fields (`score_layer`, `score_loss`, `score_readout`)."""
    text = {"hidden_size": width, "intermediate_size": 2 * width, "num_hidden_layers": layers}
    if initializer_range is not None:
        text["initializer_range"] = initializer_range
    settings = {"score_readout": "frame_match", "score_layer": -1, "score_loss": "listwise", **overrides}
    return build_tiny_selector(
        seed=seed, max_candidates=world.candidates, vision={"hidden_size": world.dim}, text=text, pool_size=1, **settings
    )


def question(colour: str, shape: str) -> str:
    return f"When does the {colour} {shape} appear?"


def labels_for(batch: dict, candidates: int) -> torch.Tensor:
    """1 on the asked event's candidates."""
    labels = torch.zeros(len(batch["spans"]), candidates)
    for b, spans in enumerate(batch["spans"]):
        labels[b, spans[0]] = 1.0
    return labels


def logits(
    model: FrameSelectorForFrameScoring, processor: FrameSelectorProcessor, prefix_ids: torch.Tensor, batch: dict, texts: list[str]
) -> torch.Tensor:
    return model(**processor(questions=texts), prefix_ids=prefix_ids, vision_features=batch["features"]).logits


def train(
    model: FrameSelectorForFrameScoring,
    processor: FrameSelectorProcessor,
    world: FeatureWorld,
    steps: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
) -> None:
    """Train every parameter above the (unused) vision tower on fresh videos: AdamW, a one-cycle
    schedule, gradients clipped at 1."""
    rng = np.random.default_rng(seed + 1)
    torch.manual_seed(seed)
    prefix_ids = processor.prefix_ids()
    parameters = [p for name, p in model.named_parameters() if not name.startswith("backbone.vision_tower")]
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.05)
    model.train()
    for _ in range(steps):
        batch = world.batch(rng, batch_size)
        loss = model(**processor(questions=[question(*a) for a in batch["asked"]]), prefix_ids=prefix_ids,
                     vision_features=batch["features"], labels=labels_for(batch, world.candidates)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    model.eval()


@torch.no_grad()
def hit_rates(
    model: FrameSelectorForFrameScoring, processor: FrameSelectorProcessor, world: FeatureWorld, videos: int = 256, seed: int = 12345
) -> dict[str, float]:
    """Held-out hit@1 inside the asked event: `own` asks about event 0; `swapped` asks about
    event 1 of the same video and counts a hit when the top frame is still in event 0. A
    question-blind detector reads own == swapped (about 1/events); a reader reads own 1, swapped 0."""
    batch = world.batch(np.random.default_rng(seed), videos)
    prefix_ids = processor.prefix_ids()
    rates = {}
    for name, key in (("own", "asked"), ("swapped", "other")):
        top = logits(model, processor, prefix_ids, batch, [question(*a) for a in batch[key]]).argmax(-1)
        rates[name] = float(np.mean([int(t) in spans[0] for t, spans in zip(top.tolist(), batch["spans"])]))
    return rates
