"""Questions packed into one sequence after the frame prefix score exactly like a batch of
questions over a per-question copy of the prefix cache (the path other attention kernels take)."""

import pytest
import torch

from selector.api import FrameSelector
from selector.tiny import build_tiny_selector


@pytest.fixture(scope="module", params=[("sdpa", "query_mlp"), ("eager", "query_mlp"), ("sdpa", "frame_match")],
                ids=lambda p: "-".join(p))
def tiny(request):
    attn, readout = request.param
    model, processor = build_tiny_selector(seed=3, max_candidates=12, score_readout=readout)
    for config in (model.config, model.config.text_config, model.config.vision_config):
        config._attn_implementation = attn
    with torch.no_grad():
        for p in model.score_head.parameters():
            p.normal_(0, 0.5)
    # float64, so the two paths' summation orders stay below the tolerance (eager attention still
    # takes its softmax in float32)
    return model.double().eval(), processor


def _scores(model, processor, texts, packed: bool):
    batch = processor(questions=texts)
    input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
    torch.manual_seed(0)
    pixels = torch.randn(9, 3, 24, 24, dtype=torch.float64)
    prefix = model.frame_prefix(model.vision_features(pixels), processor.prefix_ids())
    keys = [k.clone() for k, *_ in prefix.cache]
    logits = model.score_with_prefix(prefix, input_ids, attention_mask, packed=packed)
    assert all(torch.equal(k, before) for (k, *_), before in zip(prefix.cache, keys))  # the prefix is left as it was
    return logits


@pytest.mark.parametrize("texts", [
    ["Why?"],
    ["When does the bunny come out of its burrow?", "Why?", "What colour is the sky in the opening shot?"],
])
def test_packed_questions_score_like_a_batch(tiny, texts):
    model, processor = tiny
    packed = _scores(model, processor, texts, True)
    expanded = _scores(model, processor, texts, False)
    assert packed.shape == expanded.shape == (len(texts), 12)
    torch.testing.assert_close(packed[:, :9], expanded[:, :9], rtol=1e-5, atol=1e-5)
    assert torch.isinf(packed[:, 9:]).all()
    if len(texts) > 1:  # questions do not see each other: different questions, different scores
        assert not torch.allclose(packed[0, :9], packed[1, :9])


def test_a_selector_scores_unpacked_on_request(tiny):
    # `packed=False`: the path before packing, which `bench questions` measures packing against.
    model, processor = tiny
    video = "tests/data/videos/moviepy__big_buck_bunny_432_433.webm"
    questions = ["When does the bunny come out of its burrow?", "Why?"]
    chosen = [[s.indices for s in FrameSelector(model, processor, packed=packed).select_many(video, questions, k=3, candidates=9)]
              for packed in (True, False)]
    assert chosen[0] == chosen[1]
    with pytest.raises(ValueError, match="needs packed questions"):
        FrameSelector(model, processor, compile="on", packed=False)
