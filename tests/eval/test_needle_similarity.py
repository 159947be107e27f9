"""The needle world's similarity baseline: a tiny SigLIP trained on the world's training split,
loaded by the evaluation's own similarity chooser."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from eval.choosers import SimilarityChooser, make_chooser
from eval.needle.planning import SHAPES, WorldSettings
from eval.needle.similarity import TEXT_LENGTH, train_similarity_model
from eval.needle.world import build_world, read_questions
from selector import CandidatePlan, candidate_frames, probe


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Six videos of about 25 s (two questions each) and their manifest."""
    out = tmp_path_factory.mktemp("needle-world")
    return build_world(out, WorldSettings(videos=6, min_seconds=24, max_seconds=26, seed=3), "train", progress=False)


@pytest.fixture(scope="module")
def quick(world, tmp_path_factory) -> Path:
    """A few steps only: enough to check the checkpoint's interface."""
    return train_similarity_model(world, tmp_path_factory.mktemp("quick"), steps=3, batch_size=16, progress=False)


def test_checkpoint_loads_in_the_similarity_chooser(world, quick):
    chooser = make_chooser("siglip:" + str(quick), device="cpu")
    assert isinstance(chooser, SimilarityChooser) and chooser.family == "siglip"
    rows = read_questions(world)
    video = rows[0]["video"]
    questions = [r["question"] for r in rows if r["video"] == video]
    for k in (1, 8):
        chosen = chooser.choose_many(video, CandidatePlan(n=32), questions, k)
        assert len(chosen) == len(questions)
        for c in chosen:
            assert len(c.positions) == k == len(set(c.indices)) and len(c.scores) == 32

    # The saved processor prepares frames exactly as training did, and SigLIP text is padded on
    # the right to the model's full length.
    assert chooser.processor.size == {"height": 32, "width": 32}
    assert chooser.model.config.vision_config.image_size == 32 and chooser.model.config.vision_config.patch_size == 4
    encoded = chooser.tokenizer(["the star"], padding="max_length", max_length=TEXT_LENGTH)
    ids = encoded["input_ids"][0]
    assert len(ids) == TEXT_LENGTH and ids[-1] == chooser.tokenizer.pad_token_id != ids[0]
    assert (quick / "model.safetensors").is_file()
    record = json.loads((quick / "training.json").read_text())
    assert record["videos"] == 6 and record["skipped"] == [] and record["needle_frames"] * 2 == record["frames"]


def test_same_seed_same_model_and_bad_videos_are_skipped(world, quick, tmp_path):
    rows = [json.loads(line) for line in world.read_text().splitlines()]
    broken = dict(rows[0], id="broken", video="videos/broken.mp4")
    (world.parent / "videos" / "broken.mp4").write_bytes(b"not a video")
    manifest = world.parent / "with-broken.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in [*rows, broken]))
    out = train_similarity_model(manifest, tmp_path / "again", steps=3, batch_size=16, progress=False)
    record = json.loads((out / "training.json").read_text())
    assert record["videos"] == 6 and [Path(s["video"]).name for s in record["skipped"]] == ["broken.mp4"]
    # The broken video is skipped before any random draw of the good ones, so the model is the
    # same as without it.
    first, second = load_file(quick / "model.safetensors"), load_file(out / "model.safetensors")
    assert first.keys() == second.keys() and all((first[k] == second[k]).all() for k in first)


@pytest.mark.slow
def test_it_learns_which_frames_show_a_shape(world, tmp_path):
    """Trained longer on its own training videos, "the SHAPE" is clearly more similar to frames
    showing that shape than to frames showing no needle, for every shape (training is
    deterministic for the seed; the margins were 0.46-0.76 in cosine similarity)."""
    path = train_similarity_model(world, tmp_path / "trained", steps=150, batch_size=32, frames_per_video=32, progress=False)
    chooser = SimilarityChooser(path, device="cpu")
    events = {r["video"]: r["needle_events"] for r in read_questions(world)}
    shown: dict[str, list[float]] = {s: [] for s in SHAPES}
    background: dict[str, list[float]] = {s: [] for s in SHAPES}
    for video, needles in sorted(events.items()):
        info = probe(video)
        candidates = candidate_frames(info, CandidatePlan(n=48))
        sims = chooser.similarities(info, candidates, [f"the {s}" for s in SHAPES])
        for j, c in enumerate(candidates):
            inside = [e["shape"] for e in needles if e["first"] <= c.index <= e["last"]]
            for shape, row in zip(SHAPES, sims):
                if not inside:
                    background[shape].append(row[j])
                elif inside[0] == shape:
                    shown[shape].append(row[j])
    tested = [s for s in SHAPES if len(shown[s]) >= 5]
    assert len(tested) >= 3 and len(background[SHAPES[0]]) >= 100
    for shape in tested:
        assert np.mean(shown[shape]) > np.mean(background[shape]) + 0.2, shape


def test_the_tower_probe_scores_every_held_out_needle(world, quick):
    """`eval.needle.probe`: linear probes fit on training needles, scored on the held-out ones."""
    from eval.needle.probe import TARGETS, probe_tower

    root = world.parent.parent
    held_out = build_world(root, WorldSettings(videos=2, min_seconds=24, max_seconds=26, seed=3), "test", progress=False)
    scores = probe_tower(quick, root)
    assert scores["held-out needles"] == sum(len(r["needle_events"]) for r in {r["video"]: r for r in read_questions(held_out)}.values())
    assert set(scores) == {*TARGETS, "held-out needles"} and all(0 <= scores[t] <= 1 for t in TARGETS)
