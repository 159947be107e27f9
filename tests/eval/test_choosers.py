"""Frame choosers: same candidates, exactly k distinct frames, every setting recorded; the
SigLIP/CLIP ones run tiny random checkpoints built offline, the oracle reads a real label store."""

import json

import av
import numpy as np
import pytest
import torch
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, SiglipConfig, SiglipImageProcessor, SiglipModel

import eval.choosers.similarity as similarity
from eval.choosers import CHOOSER_NAMES, BoltChooser, Chooser, OracleChooser, SimilarityChooser, inverse_transform_sample, make_chooser
from pseudolabel.store import ShardWriter, merge
from selector import CandidatePlan, FrameSelector, VideoQuestion, candidate_frames, greedy_nms, probe, topk
from selector.handoff import frames_for
from selector.tiny import build_tiny_tokenizer

BUNNY = "moviepy__big_buck_bunny_0_30.webm"
PLAN = CandidatePlan(n=16)


@pytest.fixture(scope="module")
def bunny(videos):
    return probe(videos / BUNNY)


def tiny_vision(**extra) -> dict:
    return dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=24, patch_size=8, **extra)


def tiny_text(vocab: int, **extra) -> dict:
    return dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, vocab_size=vocab, max_position_embeddings=32, **extra)


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory):
    """A random tiny SigLIP checkpoint with a tokenizer and image processor, as on the hub."""
    out = tmp_path_factory.mktemp("siglip")
    tokenizer = build_tiny_tokenizer()
    torch.manual_seed(0)
    SiglipModel(SiglipConfig(vision_config=tiny_vision(), text_config=tiny_text(len(tokenizer)))).save_pretrained(out)
    tokenizer.save_pretrained(out)
    SiglipImageProcessor(size={"height": 24, "width": 24}).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("clip")
    tokenizer = build_tiny_tokenizer()
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    torch.manual_seed(0)
    config = CLIPConfig(vision_config=tiny_vision(), text_config=tiny_text(len(tokenizer), eos_token_id=eos), projection_dim=16)
    CLIPModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    CLIPImageProcessor(size={"shortest_edge": 24}, crop_size={"height": 24, "width": 24}).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def siglip(siglip_dir):
    return SimilarityChooser(str(siglip_dir), device="cpu")


def check_exact(chosen, k, candidates):
    assert len(chosen.positions) == k == len(set(chosen.positions)) and chosen.positions == sorted(chosen.positions)
    assert chosen.indices == [candidates[p].index for p in chosen.positions]
    assert chosen.seconds == [candidates[p].seconds for p in chosen.positions]
    assert chosen.settings["k"] == k and chosen.settings["plan"] == PLAN.to_dict()


# --------------------------------------------------------------------------------------------


def test_uniform(bunny):
    chooser = make_chooser("uniform")
    candidates = candidate_frames(bunny, PLAN)
    chosen = chooser.choose(bunny, PLAN, "When does the bunny come out?", 4)
    check_exact(chosen, 4, candidates)
    assert chosen.positions == [2, 6, 10, 14] and chosen.scores == [] and all(f.score is None for f in chosen.frames)
    assert chosen.settings["chooser"] == chosen.settings["rule"] == "uniform"
    bundle = frames_for(chosen, info=bunny, size=(32, 18))  # what a runner hands to a model
    assert bundle.frames.shape == (4, 18, 32, 3) and bundle.seconds == chosen.seconds
    assert bundle.handoff["settings"]["plan"] == PLAN.to_dict() and bundle.handoff["scores"] == [None] * 4
    record = json.loads(json.dumps(chosen.to_dict()))  # no scores: none are made up
    assert [f["index"] for f in record["frames"]] == chosen.indices and record["scores"] == [] and record["frames"][0]["score"] is None
    assert chooser.choose(bunny, PLAN, "q", 16).positions == list(range(16))
    for k in (0, 17):
        with pytest.raises(ValueError, match="between 1 and the number of candidates"):
            chooser.choose(bunny, PLAN, "q", k)


def test_a_chooser_that_returns_fewer_frames_is_refused(bunny):
    class Short(Chooser):
        name = "short"

        def _choose(self, info, plan, candidates, questions, k, item_ids, options):
            return [([0, 0, 1], None, {}, {}) for _ in questions]

    with pytest.raises(RuntimeError, match="exactly k=3 distinct"):
        Short().choose(bunny, PLAN, "q", 3)


def test_siglip_top_k_and_nms(siglip, siglip_dir, bunny, monkeypatch):
    candidates = candidate_frames(bunny, PLAN)
    decodes = []
    real_read = similarity.read_frames
    monkeypatch.setattr(similarity, "read_frames", lambda *a, **kw: decodes.append(kw.get("size")) or real_read(*a, **kw))
    questions = ["When does the bunny come out?", "What colour is the sky?"]
    first = siglip.choose(bunny, PLAN, questions[0], 4)
    second = siglip.choose(bunny, PLAN, questions[1], 4)
    assert len(decodes) == 1  # one video decoded once for both questions
    assert decodes[0] == (43, 24)  # shorter side at the processor's size, aspect ratio kept (16:9)
    batched = siglip.choose_many(bunny, PLAN, questions, 4)
    for one, many in zip((first, second), batched):
        check_exact(one, 4, candidates)
        assert np.allclose(one.scores, many.scores, atol=1e-5)
        assert one.positions == topk(one.scores, 4)
    assert first.settings["chooser"] == "siglip" and first.settings["model"] == str(siglip_dir) and first.settings["rule"] == "topk"
    assert all(-1 <= s <= 1 for s in first.scores)

    nms = make_chooser(f"siglip:{siglip_dir},nms=1", device="cpu").choose(bunny, PLAN, questions[0], 4)
    check_exact(nms, 4, candidates)
    assert np.allclose(nms.scores, first.scores, atol=1e-5)
    assert nms.positions == greedy_nms(nms.scores, 4, 1) and nms.settings.items() >= {"rule": "nms", "delta": 1}.items()


def test_clip(clip_dir, siglip_dir, bunny):
    chooser = make_chooser(f"clip:{clip_dir},delta=2,nms=yes", device="cpu")
    chosen = chooser.choose(bunny, PLAN, "Where is the bird?", 3)
    check_exact(chosen, 3, candidate_frames(bunny, PLAN))
    assert chosen.settings["chooser"] == "clip" and chosen.settings["delta"] == 2
    assert chosen.positions == greedy_nms(chosen.scores, 3, 2)
    with pytest.raises(ValueError, match="is a siglip checkpoint, not clip"):
        make_chooser(f"clip:{siglip_dir}", device="cpu")


def write_colour_video(path, colours, frames_each=20, size=64):
    """Solid colour shots: the cuts are known exactly."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=20)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for colour in colours:
            image = np.broadcast_to(np.array(colour, dtype=np.uint8), (size, size, 3)).copy()
            for _ in range(frames_each):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def test_scene_changes(tmp_path, bunny):
    path = tmp_path / "shots.mp4"
    write_colour_video(path, [(208, 48, 48), (48, 208, 48), (48, 48, 208)])  # colours at histogram bin centres
    info = probe(path)
    plan = CandidatePlan(n=12)
    chooser = make_chooser("scene:bins=8,size=32")
    changes = chooser.changes(info, candidate_frames(info, plan))
    assert np.flatnonzero(changes > 0.5).tolist() == [0, 4, 8] and changes.max() == 1.0
    assert np.allclose(np.delete(changes, [0, 4, 8]), 0, atol=0.05)
    three = chooser.choose(info, plan, "any question", 3)
    assert three.positions == [0, 4, 8] and three.notes == {} and three.settings["bins"] == 8
    five = chooser.choose(info, plan, "any question", 5)  # only three shots: two frames spread over the rest, and said so
    assert five.positions == [0, 3, 4, 8, 9] and five.notes == {"filled_uniformly": 2}
    real = chooser.choose(bunny, PLAN, "q", 6)
    check_exact(real, 6, candidate_frames(bunny, PLAN))
    assert real.positions[0] == 0  # the first candidate opens the first shot


@pytest.mark.parametrize(
    "scores,k,power,expected",
    [
        (np.ones(8), 4, 1.0, [1, 3, 5, 7]),  # flat scores: evenly spread
        (np.arange(10.0), 5, 0.0, [1, 3, 5, 7, 9]),  # power 0: the uniform chooser's frames, whatever the scores
        (np.arange(128.0)[::-1], 8, 0.0, [8, 24, 40, 56, 72, 88, 104, 120]),
        ([0, 0, 0, 10, 0, 0, 0, 0], 3, 1.0, [2, 3, 4]),  # all mass on one: neighbours fill in, exactly k
        ([0, 0, 0, 0, 0, 0, 0, 10], 3, 1.0, [5, 6, 7]),  # at the edge
    ],
)
def test_inverse_transform_sampling(scores, k, power, expected):
    assert inverse_transform_sample(scores, k, power) == expected


def test_inverse_transform_sampling_concentrates_with_power():
    rng = np.random.default_rng(0)
    scores = rng.random(64) + 3 * np.exp(-0.5 * ((np.arange(64) - 40) / 4) ** 2)
    spread = {p: np.abs(np.array(inverse_transform_sample(scores, 8, p)) - 40).mean() for p in (0.0, 1.0, 4.0)}
    assert spread[4.0] < spread[1.0] < spread[0.0]
    for k in range(1, 65):
        assert len(set(inverse_transform_sample(scores, k, 8.0))) == k
    for bad in ([1.0, float("nan")], [[1.0]]):
        with pytest.raises(ValueError):
            inverse_transform_sample(bad, 1)
    with pytest.raises(ValueError, match="power"):
        inverse_transform_sample([1, 2], 1, -1)


def test_bolt(siglip_dir, siglip, bunny):
    chooser = make_chooser(f"bolt:{siglip_dir},power=2", device="cpu")
    assert isinstance(chooser, BoltChooser)
    chosen = chooser.choose(bunny, PLAN, "When does the bunny come out?", 5)
    check_exact(chosen, 5, candidate_frames(bunny, PLAN))
    assert chosen.positions == inverse_transform_sample(chosen.scores, 5, 2.0)
    assert chosen.settings["chooser"] == "bolt" and chosen.settings.items() >= {"model": str(siglip_dir), "power": 2.0}.items()


def test_trained_selector(tiny_selector_dir, bunny):
    chooser = make_chooser(f"selector:{tiny_selector_dir},rule=topk", device="cpu")
    chosen = chooser.choose(bunny, PLAN, "When does the bunny come out?", 4)
    check_exact(chosen, 4, candidate_frames(bunny, PLAN))
    reference = FrameSelector.from_pretrained(tiny_selector_dir, device="cpu").select(bunny, "When does the bunny come out?", 4, PLAN, rule="topk")
    assert chosen.indices == reference.indices
    assert np.allclose(chosen.scores, reference.scores, atol=1e-6)
    assert chosen.settings.items() >= {"model": str(tiny_selector_dir), "rule": "topk"}.items()
    nms = make_chooser(f"selector:{tiny_selector_dir}", device="cpu").choose(bunny, PLAN, "q?", 4)
    assert nms.settings["rule"] == "nms" and nms.settings["delta"] == 1


def label_row(item_id, info, plan, label, status="ok"):
    frames = [f.to_dict() for f in candidate_frames(info, plan)]
    return {"id": item_id, "video": info.path, "question": "q", "status": status, "error": None if status == "ok" else "scorer failed",
            "frames": frames if status == "ok" else None, "label": label, "spatial": list(reversed(label)) if label else None}


def test_label_oracle(tmp_path, bunny):
    rng = np.random.default_rng(1)
    labels = {f"item-{i}": rng.random(16).round(4).tolist() for i in range(3)}
    store = tmp_path / "labels-store"
    writer = ShardWriter(store, 0, 1)
    writer.write([label_row(i, bunny, PLAN, labels[i]) for i in ("item-0", "item-1")])
    writer.write([label_row("item-2", bunny, PLAN, labels["item-2"]), label_row("bad", bunny, PLAN, None, status="failed")])
    newer = rng.random(16).round(4).tolist()
    writer.write([label_row("item-0", bunny, PLAN, newer)])  # a later part supersedes the earlier row
    oracle = make_chooser(f"oracle:{store}")
    chosen = oracle.choose_many(bunny, PLAN, ["q0", "q1"], 4, item_ids=["item-0", "item-1"])
    assert chosen[0].positions == topk(newer, 4) and chosen[1].positions == topk(labels["item-1"], 4)
    assert np.allclose(chosen[0].scores, newer, atol=1e-6)
    assert chosen[0].settings.items() >= {"labels": str(store), "signal": "label", "rule": "topk", "item_id": "item-0"}.items()
    spatial = make_chooser(f"oracle:{store},signal=spatial,rule=nms").choose(bunny, PLAN, "q", 4, item_id="item-1")
    assert spatial.positions == greedy_nms(list(reversed(labels["item-1"])), 4, 1)

    # VideoQuestion records bring their ids (and options): the same choice as the parallel lists
    records = [VideoQuestion(f"item-{i}", bunny, f"q{i}", ["yes", "no"]) for i in (0, 1)]
    assert [c.positions for c in oracle.choose_many(bunny, PLAN, records, 4)] == [c.positions for c in chosen]
    assert oracle.choose(bunny, PLAN, records[1], 4).options == ["yes", "no"]
    with pytest.raises(ValueError, match="carry their own ids and options"):
        oracle.choose_many(bunny, PLAN, records, 4, item_ids=["item-0", "item-1"])
    with pytest.raises(TypeError, match="all texts or all VideoQuestion records"):
        oracle.choose_many(bunny, PLAN, [records[0], "q1"], 4)

    merged, _ = merge(store)
    from_file = OracleChooser(merged).choose(bunny, PLAN, "q", 4, item_id="item-2")
    assert from_file.positions == topk(labels["item-2"], 4)

    with pytest.raises(ValueError, match="failed: scorer failed"):
        oracle.choose(bunny, PLAN, "q", 4, item_id="bad")
    with pytest.raises(ValueError, match="no labels for item 'nope'"):
        oracle.choose(bunny, PLAN, "q", 4, item_id="nope")
    with pytest.raises(ValueError, match="needs each question's item id"):
        oracle.choose(bunny, PLAN, "q", 4)
    with pytest.raises(ValueError, match="same candidate plan"):
        oracle.choose(bunny, CandidatePlan(n=12), "q", 4, item_id="item-1")
    with pytest.raises(FileNotFoundError):
        OracleChooser(tmp_path / "empty").choose(bunny, PLAN, "q", 4, item_id="item-1")


@pytest.mark.parametrize(
    "spec,message",
    [
        ("random", "unknown chooser"),
        ("uniform:5", "takes no arguments"),
        ("scene:power=2", "takes"),
        ("siglip:a,b", "at most one positional"),
        ("selector", "needs a path"),
        ("oracle:/x,signal=magic", "unknown label signal"),
        ("siglip:x,nms=maybe", "yes/no"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        make_chooser(spec, device="cpu")


def test_unknown_chooser_lists_the_known_ones():
    with pytest.raises(ValueError) as error:
        make_chooser("random")
    message = str(error.value)
    assert "\n" not in message and message.startswith("unknown chooser 'random'")
    assert all(name in message for name in CHOOSER_NAMES)
    assert set(CHOOSER_NAMES) == {"uniform", "siglip", "clip", "scene", "bolt", "selector", "oracle"}


def test_choice_scores_are_the_chosen_candidates(siglip, bunny):
    chosen = siglip.choose(bunny, PLAN, "When does the bunny come out?", 4)
    assert [f.score for f in chosen.frames] == [chosen.scores[p] for p in chosen.positions]
    assert chosen.to_dict()["frames"][0]["score"] == round(chosen.scores[chosen.positions[0]], 6)
