"""Which settings let a from-scratch selector read the question: the table of
docs/question-awareness.md Part 1, regenerated.

Every variant trains the same tiny selector (64 wide, 2 layers, one token a frame) on the
feature-space task of `task.py` for the same number of steps, from the same seeds, and is scored on
the same held-out videos: hit@1 with its own question, and with the swapped question (the same
video's other event; a hit still counts inside the asked event). A question-blind event detector
reads own == swapped; a selector that reads the question reads own near 1, swapped near 0. The
variants go from the old tiny defaults (init std 0.02, the score read before the final norm, BCE)
to the shipped ones (width-scaled init, after the norm, listwise), then swap the read-out.

    python -m eval.feature_world.study            # seeds 0, 1, 2
    python -m eval.feature_world.study --quick    # seed 0 only

A seed is 2,200 training steps of a model this small: a few minutes on two idle cores (60 steps
took 3.8 CPU seconds on one thread), far longer on a machine shared with other jobs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import torch

from selector.cli_support import SettingsParser
from selector.markdown import markdown_table

from .task import FeatureWorld, hit_rates, tiny_selector, train

OLD_INIT = 0.02  # the pretrained-width std every Linear, embedding and the score query had


@dataclass(frozen=True)
class Variant:
    """One row: a name for the table and the `tiny_selector` settings it changes."""

    name: str
    initializer_range: float | None = None  # None: selector.tiny's 1/sqrt(width)
    settings: dict = field(default_factory=dict)
    steps: int = 200


VARIANTS = (
    Variant("init 0.02, score_layer -2, BCE (the old defaults)", OLD_INIT, {"score_layer": -2, "score_loss": "bce"}),
    Variant("init 0.02, score_layer -2, listwise", OLD_INIT, {"score_layer": -2}),
    Variant("init 0.02, score_layer -1, listwise", OLD_INIT),
    Variant("init 1/sqrt(width), score_layer -2, listwise", None, {"score_layer": -2}),
    Variant("init 1/sqrt(width), score_layer -1, BCE", None, {"score_loss": "bce"}),
    Variant("init 1/sqrt(width), score_layer -1, listwise (the shipped recipe)"),
    Variant("the shipped recipe, `query_mlp` read-out", None, {"score_readout": "query_mlp"}),
    Variant("the shipped recipe, `query_mlp` read-out, 4x the steps", None, {"score_readout": "query_mlp"}, steps=800),
)


def run(variant: Variant, seed: int) -> dict[str, float]:
    """Train `variant` from `seed` (world prototypes, init and batches) and score it: own and
    swapped hit@1."""
    world = FeatureWorld(seed=seed)
    model, processor = tiny_selector(world, seed=seed, initializer_range=variant.initializer_range, **variant.settings)
    train(model, processor, world, steps=variant.steps, seed=seed)
    return hit_rates(model, processor, world)


def mean_sd(values: list[float]) -> str:
    """`mean ± sd` over seeds (the value alone for one seed)."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"


def study(seeds: list[int], variants: tuple[Variant, ...] = VARIANTS) -> str:
    """The markdown table: per variant, own and swapped hit@1 and their gap (mean ± sd over seeds,
    with the gap of each seed when there are several)."""
    rows = []
    for variant in variants:
        runs = []
        for seed in seeds:
            runs.append(run(variant, seed))
            print(f"{variant.name}, seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in runs[-1].items()), file=sys.stderr)
        own, swapped = [r["own"] for r in runs], [r["swapped"] for r in runs]
        gaps = [o - s for o, s in zip(own, swapped)]
        per_seed = [" / ".join(f"{g:.3f}" for g in gaps)] if len(seeds) > 1 else []
        rows.append([variant.name, variant.steps, mean_sd(own), mean_sd(swapped), mean_sd(gaps), *per_seed])
    columns = ["variant", "steps", "own hit@1", "swapped hit@1", "own - swapped", *(["gap per seed"] if len(seeds) > 1 else [])]
    return markdown_table(columns, rows, align="l" + "r" * (len(columns) - 1))


def main(argv: list[str] | None = None) -> None:
    parser = SettingsParser(description=__doc__.split("\n\n")[0])  # one-line usage errors
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--quick", action="store_true", help="seed 0 only")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    seeds = [0] if args.quick else list(range(args.seeds))
    world = FeatureWorld()
    print(f"{world.candidates} candidates, {world.events} events a video, {world.dim}-dim features (noise {world.noise}); "
          f"a selector 64 wide with 2 layers; batch 32, AdamW lr 1e-3, one-cycle; 256 held-out videos; "
          f"seeds {', '.join(map(str, seeds))}; {args.threads} torch threads\n")
    print(study(seeds))


if __name__ == "__main__":
    main()


__all__ = ["OLD_INIT", "VARIANTS", "Variant", "mean_sd", "run", "study"]
