"""`FrameSelectorProcessor.__call__`: one `BatchFeature` the model takes as it is."""

import numpy as np
import pytest
import torch

from selector import VideoQuestion
from selector.tiny import build_tiny_selector


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_selector(seed=1, max_candidates=8)


def test_questions_and_frames_are_everything_forward_takes(tiny):
    model, processor = tiny
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (n, 24, 24, 3), dtype=np.uint8) for n in (5, 3)]
    questions = [VideoQuestion("a", "v.mp4", "Which colour?", ["red", "green"]), "Why?"]
    batch = processor(questions=questions, frames=frames)
    assert set(batch) == {"input_ids", "attention_mask", "pixel_values", "num_candidates", "prefix_ids"}
    assert batch["pixel_values"].shape == (2, 5, 3, 24, 24) and batch["num_candidates"].tolist() == [5, 3]
    assert not batch["pixel_values"][1, 3:].any()  # padding candidates are zeros, and masked by num_candidates
    torch.testing.assert_close(batch["pixel_values"][1, :3], processor.pixel_values(frames[1]), rtol=0, atol=0)
    assert torch.equal(batch["prefix_ids"], processor.prefix_ids())
    # left-padded: every row ends with its question, so the score query sits last
    for row, mask, question in zip(batch["input_ids"], batch["attention_mask"], questions):
        assert row[mask.bool()].tolist() == processor.record_ids(question)
        assert mask[-1] == 1
    assert batch["attention_mask"][1, 0] == 0
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, 8) and torch.isinf(logits[1, 3:]).all()


def test_a_record_reads_as_its_text_with_its_options(tiny):
    _, processor = tiny
    record = VideoQuestion("a", "v.mp4", "Which colour?", ["red", "green"])
    assert processor.record_ids(record) == processor.question_ids("Which colour?", ["red", "green"])
    assert processor.record_ids(VideoQuestion("b", "v.mp4", "Why?")) == processor.question_ids("Why?")
    assert torch.equal(processor(questions=record)["input_ids"], processor(questions=[record])["input_ids"])


def test_cached_features_and_conversations(tiny):
    _, processor = tiny
    features = [torch.randn(4, 9, 32), torch.randn(2, 9, 32)]
    turns = [[("Describe the video.", "A bunny.")], [("Why?", "No."), ("And then?", "Yes.")]]
    batch = processor(conversations=turns, features=features)
    assert set(batch) == {"input_ids", "attention_mask", "targets", "vision_features", "num_candidates", "prefix_ids"}
    assert batch["vision_features"].shape == (2, 4, 9, 32) and batch["num_candidates"].tolist() == [4, 2]
    for row, mask, targets, conversation in zip(batch["input_ids"], batch["attention_mask"], batch["targets"], turns):
        ids, want = processor.conversation_ids(conversation)
        assert mask[0] == 1 and row[mask.bool()].tolist() == ids  # right-padded
        assert targets.tolist() == want + [-100] * (len(row) - len(want))
    with pytest.raises(ValueError, match="not both"):
        processor(questions=["Why?"], conversations=turns)
