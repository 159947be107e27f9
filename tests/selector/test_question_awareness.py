"""The selector's defining property: the same video with another question gets other frames.

A tiny selector, built by `selector.tiny` with its shipped init, is trained briefly on the
feature-space task of `feature_world.py` and must then find the asked event far more often than
the same video's other event when asked about that one. It fails whenever the question stops
mattering (a blind event detector reads own == swapped), whatever else changes.
"""

from __future__ import annotations

import pytest
import torch

from selector.tiny import build_tiny_selector
from tests.support.feature_world import FeatureWorld, hit_rates, train


@pytest.mark.parametrize("loss", ["listwise", "bce+listwise"])
def test_a_briefly_trained_selector_reads_the_question(loss):
    torch.set_num_threads(2)
    world = FeatureWorld(candidates=32, dim=16, events=5, seed=0)
    model, processor = build_tiny_selector(
        seed=0, max_candidates=world.candidates, vision={"hidden_size": world.dim},
        text={"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2},
        pool_size=1, score_readout="frame_match", score_layer=-1, score_loss=loss,
    )
    before = hit_rates(model, processor, world)
    train(model, processor, world, steps=200, seed=0)
    after = hit_rates(model, processor, world)
    assert after["own"] - after["swapped"] >= 0.5, (before, after)
    assert after["own"] >= 0.8, after
