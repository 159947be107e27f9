"""The demo's labellers at tiny size: trained on a labeller split, saved, loaded only by path
through the label job's own classes, and measured on another split."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from eval.needle.labellers import (
    BACKGROUND_CAPTION,
    LabellerSettings,
    build_text_llm,
    build_vlm,
    helpful,
    labeller_quality,
    load_videos,
    temporal_reply,
    temporal_target,
    train_labellers,
)
from eval.needle.planning import WorldSettings
from eval.needle.world import build_world
from pseudolabel.hf_scorers import HFSpatialScorer
from pseudolabel.hf_temporal import HFTemporalSelector

WORLD = WorldSettings(videos=2, min_seconds=24, max_seconds=26, seed=5, questions_per_video=4)
TINY = LabellerSettings(candidates=24, vlm_steps=3, vlm_batch=4, llm_steps=3, llm_batch=1,
                        vlm={"text_hidden": 32, "text_layers": 1, "vision_dim": 32, "vision_depth": 1, "patch_size": 14},
                        llm={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                             "num_attention_heads": 2, "num_key_value_heads": 1})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("labellers")
    manifest = build_world(root / "world", WORLD, "labeller", progress=False)
    held_out = build_world(root / "world", WorldSettings(**{**WORLD.__dict__, "videos": 1}), "test", progress=False)
    return train_labellers(manifest, root / "models", TINY, progress=False), load_videos(held_out, TINY.candidates, False)


def test_targets_follow_the_needles(trained):
    _, videos = trained
    video = videos[0]
    assert len(video.frames) == len(video.captions) == len(video.needle_of) == 24
    assert all((n is None) == (c == BACKGROUND_CAPTION) for n, c in zip(video.needle_of, video.captions))
    for row in video.questions:
        chosen = temporal_target(video, row)
        good = helpful(video, row)
        assert chosen and all(good[i] for i in chosen)
        assert {video.needle_of[i] for i in chosen} == {n for n in row["needles"] if n in video.needle_of}
        assert json.loads(temporal_reply(chosen)) == {"frames": chosen}


def test_labellers_start_at_the_width_scaled_init():
    """At transformers' default std 0.02 the demo's VLM learned to detect needles and never which
    one a question names; both labellers start at 1/sqrt(width) instead, as the selector does."""
    vlm, _ = build_vlm(TINY, ["What colour is the star?"])
    llm, _ = build_text_llm(TINY, ["What colour is the star?"])
    for model, width in ((vlm, TINY.vlm["text_hidden"]), (llm, TINY.llm["hidden_size"])):
        linears = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear) and m.weight.numel() >= 512]
        assert linears and all(abs(float(w.detach().std()) - width ** -0.5) < 0.25 * width ** -0.5 for w in linears)
    assert vlm.config.text_config.initializer_range == vlm.config.vision_config.initializer_range == TINY.vlm["text_hidden"] ** -0.5


def test_labellers_load_by_path_and_are_measured(trained):
    paths, videos = trained
    for name in ("vlm", "text_llm"):
        assert (paths[name] / "config.json").is_file() and (paths[name] / "model.safetensors").is_file()
        assert json.loads((paths[name] / "training.json").read_text())["steps"] == 3
    spatial = HFSpatialScorer.from_pretrained(paths["vlm"], device="cpu", mode="direct")
    assert type(spatial.model).__name__ == "Qwen2VLForConditionalGeneration"
    scores = spatial.score(videos[0].frames[:3], "What colour is the star?")
    assert scores.shape == (3,) and np.isfinite(scores).all()
    temporal = HFTemporalSelector.from_pretrained(paths["text_llm"], device="cpu", max_new_tokens=4)
    assert type(temporal.model).__name__ == "Qwen2ForCausalLM"
    quality = labeller_quality(paths["vlm"], paths["text_llm"], videos, progress=False)
    assert set(quality) == {"spatial_auc", "caption_needle", "caption_background", "temporal_precision",
                            "temporal_recall", "temporal_frames_named"}
    assert 0 <= quality["spatial_auc"] <= 1 and 0 <= quality["temporal_recall"] <= 1


@pytest.mark.slow
def test_the_ablation_learns_from_labels_the_demos_own_models_made(tmp_path):
    """`demo --ablation` at tiny size: the demo on pseudo-labels (labellers trained, measured and
    used by path; the training label is the mean of spatial and temporal, the spans only stored
    beside it), then each label source as labels and as a trained selector, with its control."""
    from eval.needle.ablation import SOURCES, run_ablation_seeds
    from eval.needle.demo import DemoSettings
    from pseudolabel.store import read_rows

    settings = DemoSettings(labels="pseudo", train_videos=4, test_videos=2, harder_videos=0, labeller_videos=2, candidates=24,
                            ks=(2, 4), stage1_epochs=1, stage2_epochs=1, similarity_steps=2, labeller=TINY)
    text = run_ablation_seeds(tmp_path, settings, [0], progress=False, log=lambda line: None)
    out = tmp_path / "seed-0"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["labellers"]) >= {"spatial_auc", "temporal_recall"} and summary["spans_reference"] is None
    rows = [row for row in read_rows(out / "labels").to_pylist() if row["status"] == "ok"]
    assert rows and all(row["signals"] == ["spatial", "temporal"] for row in rows)
    np.testing.assert_allclose(rows[0]["label"], (np.array(rows[0]["spatial"]) + np.array(rows[0]["temporal"])) / 2, atol=1e-6)
    provenance = json.loads(rows[0]["provenance"])
    assert provenance["spatial"]["model"] == str(out / "labellers" / "vlm")
    assert provenance["temporal"]["model"] == str(out / "labellers" / "text-llm")
    table = json.loads((out / "ablation.json").read_text())
    for source in SOURCES:  # a 3-step text LLM may name no frame at all: training then refuses its labels
        trained = {f"selector: {source}", f"selector: {source}, control"} <= set(table)
        assert f"labels: {source}" in table and trained != (source in table["not trained"])
    assert "spans" not in table["not trained"]
    assert {"uniform", "similarity", "BOLT"} <= set(table)
    card = (out / "ablation" / "spans" / "stage2" / "final" / "README.md").read_text()
    assert "spans=1" in card  # the model card names what it learned from
    assert "the selector trained on spatial + temporal labels" in text and (tmp_path / "ablation.md").exists()
