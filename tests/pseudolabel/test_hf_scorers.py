"""The in-process Qwen2-VL labellers on a tiny random Qwen2-VL saved to disk and loaded through
the real `from_pretrained` path, with frames decoded from a bundled video."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pseudolabel.base import Captioner, SpatialScorer
from pseudolabel.hf_scorers import (
    DIRECT_PROMPT,
    PROMPT_VERSION,
    REASON_PROMPT,
    HFCaptioner,
    HFSpatialScorer,
)
from selector import read_frames
from selector.tiny.vlm import save_tiny_qwen2_vl
from tests.support.paths import VIDEOS

VIDEO = VIDEOS / "moviepy__big_buck_bunny_0_30.webm"
QUESTION = "When does the bunny come out of its burrow?"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_tiny_qwen2_vl(tmp_path_factory.mktemp("tiny-qwen2-vl"), seed=0)


@pytest.fixture(scope="module")
def direct(checkpoint) -> HFSpatialScorer:
    return HFSpatialScorer.from_pretrained(str(checkpoint), device="cpu", mode="direct", batch_size=4)


@pytest.fixture(scope="module")
def reason(direct) -> HFSpatialScorer:
    with pytest.warns(UserWarning, match="share their first token"):  # " True" = "Ġ" "T" ... in the tiny BPE
        return HFSpatialScorer(direct.model, direct.processor, mode="reason", batch_size=4, max_new_tokens=6,
                               model_id=direct.model_id)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """Frames at two sizes (16 and 4 image tokens), so the rows of a batch have different lengths
    and the left padding matters."""
    wide = read_frames(VIDEO, [0, 150, 300, 450], size=(160, 90))
    small = read_frames(VIDEO, [600, 700], size=(64, 64))
    return [wide[0], small[0], wide[1], wide[2], small[1], wide[3]]


def test_loads_through_from_pretrained(direct):
    assert isinstance(direct, SpatialScorer)
    assert direct.model.dtype == torch.float32 and direct.model.device.type == "cpu"
    assert type(direct.model).__name__ == "Qwen2VLForConditionalGeneration"


def test_direct_scores_are_probabilities_and_batching_does_not_change_them(direct, frames):
    assert (direct._encode(["<|vision_start|><|image_pad|><|vision_end|>"] * 4, frames[:4])["attention_mask"] == 0).any()
    scores = direct.score(frames, QUESTION)
    assert scores.shape == (len(frames),) and scores.dtype == np.float32
    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
    one_by_one = HFSpatialScorer(direct.model, direct.processor, batch_size=1).score(frames, QUESTION)
    np.testing.assert_allclose(scores, one_by_one, atol=1e-5, rtol=0)
    assert direct.score([], QUESTION).shape == (0,)


def _ratio_from_softmax(scorer: HFSpatialScorer, text: str, frame: np.ndarray, answer_context: list[int],
                        true_id: int, false_id: int) -> float:
    """p(True) / (p(True) + p(False)) the long way: full logits, softmax over the vocabulary."""
    inputs = scorer.processor(text=[text], images=[frame], return_tensors="pt",
                              size={"shortest_edge": scorer.min_pixels, "longest_edge": scorer.max_pixels})
    tail = torch.tensor([answer_context], dtype=torch.long)
    inputs["input_ids"] = torch.cat([inputs["input_ids"], tail], dim=1)
    inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
    inputs["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], torch.zeros_like(tail)], dim=1)
    with torch.no_grad():
        probs = torch.softmax(scorer.model(**inputs).logits[0, -1].double(), dim=-1)
    return float(probs[true_id] / (probs[true_id] + probs[false_id]))


def test_direct_score_matches_manual_softmax_ratio(direct, frames):
    tokenizer = direct.processor.tokenizer
    true_id, false_id = tokenizer.encode("True")[0], tokenizer.encode("False")[0]
    assert (direct.true_id, direct.false_id) == (true_id, false_id) and direct.shared_answer_ids == []
    text = direct._prompt(DIRECT_PROMPT.format(question=QUESTION))
    expected = _ratio_from_softmax(direct, text, frames[1], [], true_id, false_id)
    assert direct.score([frames[1]], QUESTION)[0] == pytest.approx(expected, abs=1e-6)


def test_reason_mode_reads_the_token_after_evaluation(reason, frames):
    scores, explanations = reason.score_with_explanations(frames, QUESTION)
    assert scores.shape == (len(frames),) and scores.dtype == np.float32
    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
    assert all(text.endswith("Evaluation:") for text in explanations)
    assert reason._as_plain_text("a<|vision_start|><|image_pad|>b") == "ab"  # never fed back as a placeholder
    again = reason.score(frames, QUESTION)
    np.testing.assert_array_equal(scores, again)

    # After "Evaluation:" the model writes " True": in the tiny BPE that is "Ġ" "T" "r" "u" "e" and
    # " False" is "Ġ" "F" ..., so the shared space is fed and "T" is compared with "F".
    tokenizer = reason.processor.tokenizer
    space, true_id = tokenizer.encode(" True")[:2]
    false_id = tokenizer.encode(" False")[1]
    assert (reason.shared_answer_ids, reason.true_id, reason.false_id) == ([space], true_id, false_id)
    text = reason._prompt(REASON_PROMPT.format(question=QUESTION)) + explanations[2]
    expected = _ratio_from_softmax(reason, text, frames[2], [space], true_id, false_id)
    assert scores[2] == pytest.approx(expected, abs=1e-6)


def test_captions_one_per_frame_and_batching_does_not_change_them(direct, frames):
    captioner = HFCaptioner(direct.model, direct.processor, batch_size=4, max_new_tokens=6)
    assert isinstance(captioner, Captioner)
    captions = captioner.caption(frames)
    assert len(captions) == len(frames) and all(isinstance(c, str) for c in captions)
    assert all(c == " ".join(c.split()) for c in captions)
    assert captions == HFCaptioner(direct.model, direct.processor, batch_size=1, max_new_tokens=6).caption(frames)


def test_provenance(direct, reason, checkpoint):
    record = reason.provenance()
    json.dumps(record)
    assert record["model"] == str(checkpoint)
    assert record["mode"] == "reason" and record["max_new_tokens"] == 6
    assert record["prompt_version"] == PROMPT_VERSION
    assert record["batch_size"] == 4 and record["min_pixels"] <= record["max_pixels"]
    assert direct.provenance()["mode"] == "direct"
    caption_record = HFCaptioner(direct.model, direct.processor, model_id="m").provenance()
    assert caption_record["model"] == "m" and caption_record["prompt_version"] == PROMPT_VERSION
    for key in (*record, *caption_record):
        assert not any(word in key.lower() for word in ("key", "secret", "password", "auth")) and key != "token"
    assert "hf_" not in json.dumps([record, caption_record])


def test_rejects_bad_settings(direct):
    with pytest.raises(ValueError, match="mode"):
        HFSpatialScorer(direct.model, direct.processor, mode="vote")
    with pytest.raises(ValueError, match="batch_size"):
        HFCaptioner(direct.model, direct.processor, batch_size=0)
    with pytest.raises(ValueError, match="RGB"):
        direct.score([np.zeros((8, 8), dtype=np.uint8)], QUESTION)
    with pytest.raises(ValueError, match="RGB"):
        direct.score([np.zeros((8, 8, 3), dtype=np.float32)], QUESTION)


@pytest.mark.filterwarnings("ignore:True and False share")
def test_reason_batched_equals_one_by_one(reason, frames):
    one_by_one = HFSpatialScorer(reason.model, reason.processor, mode="reason", batch_size=1, max_new_tokens=6)
    np.testing.assert_allclose(reason.score(frames, QUESTION), one_by_one.score(frames, QUESTION), atol=1e-5, rtol=0)


@pytest.mark.parametrize("mode", ["direct", pytest.param("reason", marks=pytest.mark.slow)])
def test_a_videos_questions_together_score_as_one_by_one(mode, request, frames):
    """`score_many` runs the vision tower once for every question; the scores do not change.
    (Reason mode generates for every frame and question: the slow tier.)"""
    scorer = request.getfixturevalue(mode)
    questions = [QUESTION, "What colour is the sky?", "Is anyone there?\nOptions: (A) yes (B) no"]
    assert scorer.batches_questions
    together = scorer.score_many(frames, questions)
    for question, scores in zip(questions, together):
        np.testing.assert_allclose(scores, scorer.score(frames, question), atol=1e-5, rtol=0)
    assert [s.shape for s in scorer.score_many([], questions)] == [(0,)] * 3
