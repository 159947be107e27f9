"""Checkpoints written before the model was split into a backbone and a scoring class still load,
score as they did, and new saves keep their format.

tests/data/old_selector holds two tiny selectors (one per read-out) saved by the single
`FrameSelectorModel` class of the pre-split code, with the logits that code gave on the inputs in
their expected.json (pixels: `torch.manual_seed(1); torch.randn(1, 4, 3, 8, 8)`).
"""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel

from selector import FrameSelectorForFrameScoring, FrameSelectorModel

OLD = Path(__file__).parents[1] / "data" / "old_selector"


def inputs(folder: Path) -> tuple[dict, dict]:
    expected = json.loads((folder / "expected.json").read_text())
    torch.manual_seed(1)
    pixels = torch.randn(1, 4, 3, 8, 8)
    tensors = {name: torch.tensor(expected[name]) for name in ("input_ids", "attention_mask", "prefix_ids")}
    return {**tensors, "pixels": pixels}, expected


def scores(model: FrameSelectorForFrameScoring, x: dict) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        full = model(input_ids=x["input_ids"], attention_mask=x["attention_mask"], prefix_ids=x["prefix_ids"],
                     pixel_values=x["pixels"].expand(2, -1, -1, -1, -1)).logits
        prefix = model.frame_prefix(model.vision_features(x["pixels"][0]), x["prefix_ids"])
        cached = model.score_with_prefix(prefix, x["input_ids"], x["attention_mask"])
    return full[:, :4], cached[:, :4]


@pytest.fixture(params=["query_mlp", "frame_match"])
def old(request) -> Path:
    return OLD / request.param


def test_an_old_checkpoint_loads_and_scores_as_before(old):
    config = json.loads((old / "config.json").read_text())
    assert config["architectures"] == ["FrameSelectorModel"]  # written by the single class
    model = FrameSelectorForFrameScoring.from_pretrained(old).eval()
    x, expected = inputs(old)
    full, cached = scores(model, x)
    torch.testing.assert_close(full, torch.tensor(expected["logits"]), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(cached, torch.tensor(expected["cached_logits"]), rtol=1e-6, atol=1e-6)


def test_new_saves_keep_the_old_names_and_load_back(old, tmp_path):
    model = FrameSelectorForFrameScoring.from_pretrained(old).eval()
    model.save_pretrained(tmp_path)
    assert load_file(tmp_path / "model.safetensors").keys() == load_file(old / "model.safetensors").keys()
    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == ["FrameSelectorForFrameScoring"]
    x, _ = inputs(old)
    reloaded = FrameSelectorForFrameScoring.from_pretrained(tmp_path).eval()
    for a, b in zip(scores(reloaded, x), scores(model, x)):
        assert torch.equal(a, b)


def test_auto_model_gives_the_backbone_with_the_checkpoints_weights(old):
    backbone = AutoModel.from_pretrained(old)
    assert type(backbone) is FrameSelectorModel
    weights = load_file(old / "model.safetensors")
    for name, tensor in backbone.state_dict().items():
        if name in weights:
            assert torch.equal(tensor, weights[name]), name
    assert "projector.linear_1.weight" in weights and "projector.linear_1.weight" in backbone.state_dict()
