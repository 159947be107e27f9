import json
import os

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel, AutoTokenizer, Qwen2Config, Qwen2ForCausalLM, SiglipModel

from selector import FrameSelectorConfig, FrameSelectorForFrameScoring, FrameSelectorModel
from selector.assembly import assemble_selector
from selector.score_head import score_loss
from selector.tiny import build_tiny_selector


@pytest.fixture(scope="module", params=["query_mlp", "frame_match"])
def tiny(request):
    model, processor = build_tiny_selector(seed=1, max_candidates=16, score_readout=request.param)
    # Random heads give near-constant scores; a larger head init makes differences visible.
    with torch.no_grad():
        for p in model.score_head.parameters():
            p.normal_(0, 0.5)
    return model, processor


def questions(processor, texts):
    batch = processor(questions=texts)
    return batch["input_ids"], batch["attention_mask"]


def prefix_ids(model, processor):
    return processor.prefix_ids()


def test_reusing_the_frame_prefix_gives_the_same_scores(tiny):
    model, processor = tiny
    torch.manual_seed(0)
    pixels = torch.randn(1, 7, 3, 24, 24)
    texts = ["When does the bunny come out?", "What colour is the car?", "Why?"]
    ids, mask = questions(processor, texts)
    prefix = model.frame_prefix(model.vision_features(pixels[0]), prefix_ids(model, processor))
    reused = model.score_with_prefix(prefix, ids, mask)
    for row, text in enumerate(texts):
        one_ids, one_mask = questions(processor, [text])
        full = model(input_ids=one_ids, attention_mask=one_mask, prefix_ids=prefix_ids(model, processor), pixel_values=pixels).logits
        torch.testing.assert_close(reused[row, :7], full[0, :7], rtol=1e-5, atol=1e-5)
        assert torch.isinf(reused[row, 7:]).all() and torch.isinf(full[0, 7:]).all()
    # The prefix is not consumed: a second call gives the same answer.
    torch.testing.assert_close(model.score_with_prefix(prefix, ids, mask), reused)
    # Different questions give different scores.
    assert not torch.allclose(reused[0, :7], reused[1, :7])


def test_padded_batch_equals_items_alone(tiny):
    model, processor = tiny
    torch.manual_seed(0)
    pixels = torch.randn(2, 6, 3, 24, 24)
    ids, mask = questions(processor, ["a short one", "a much longer question about the bunny"])
    pre = prefix_ids(model, processor)
    batch = model(input_ids=ids, attention_mask=mask, prefix_ids=pre, pixel_values=pixels, num_candidates=torch.tensor([6, 4])).logits
    alone_ids, alone_mask = questions(processor, ["a much longer question about the bunny"])
    alone = model(input_ids=alone_ids, attention_mask=alone_mask, prefix_ids=pre, pixel_values=pixels[1:, :4]).logits
    torch.testing.assert_close(batch[1, :4], alone[0, :4], rtol=1e-5, atol=1e-5)
    assert torch.isinf(batch[1, 4:]).all() and torch.isfinite(batch[0, :6]).all()


def test_cached_vision_features_give_the_same_scores(tiny):
    model, processor = tiny
    pixels = torch.randn(1, 5, 3, 24, 24)
    ids, mask = questions(processor, ["what happens?"])
    pre = prefix_ids(model, processor)
    features = model.vision_features(pixels[0])
    assert features.shape == (5, 9, model.config.vision_config.hidden_size)
    a = model(input_ids=ids, attention_mask=mask, prefix_ids=pre, pixel_values=pixels).logits
    b = model(input_ids=ids, attention_mask=mask, prefix_ids=pre, vision_features=features[None]).logits
    torch.testing.assert_close(a, b)


def test_too_many_candidates_is_an_error(tiny):
    model, processor = tiny
    ids, mask = questions(processor, ["q"])
    with pytest.raises(ValueError, match="max_candidates"):
        model(input_ids=ids, attention_mask=mask, prefix_ids=prefix_ids(model, processor), vision_features=torch.randn(1, 17, 9, 32))


def test_loss_only_counts_real_candidates():
    logits = torch.tensor([[2.0, -1.0, float("-inf")]])
    labels = torch.tensor([[1.0, 0.0, 1.0]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[0, :2], labels[0, :2])
    torch.testing.assert_close(score_loss(logits, labels), expected)


def test_listwise_loss_is_cross_entropy_against_the_normalised_label():
    logits = torch.tensor([[2.0, -1.0, 0.5, float("-inf")], [0.0, 0.0, 0.0, 0.0]])
    labels = torch.tensor([[1.0, 0.0, 0.5, 1.0], [0.0, 0.0, 0.0, 0.0]])  # row 2 has no positive: left out
    log_p = torch.log_softmax(logits[0, :3], dim=0)
    expected = -(log_p[0] * 1.0 + log_p[2] * 0.5) / 1.5
    torch.testing.assert_close(score_loss(logits, labels, "listwise"), expected)
    both = score_loss(logits, labels, "bce") + expected
    torch.testing.assert_close(score_loss(logits, labels, "bce+listwise"), both)
    with pytest.raises(ValueError, match="score_loss"):
        score_loss(logits, labels, "hinge")


def test_config_checks_the_score_loss():
    with pytest.raises(Exception, match="score_loss"):
        FrameSelectorConfig(score_loss="hinge")


def test_tiny_init_scales_with_width():
    for width in (32, 128):
        model, _ = build_tiny_selector(text={"hidden_size": width, "intermediate_size": 2 * width}, max_candidates=8)
        assert model.config.text_config.initializer_range == width ** -0.5
        for weight in (model.projector.linear_2.weight, model.score_head.mlp[0].weight,
                       model.language_model.model.layers[0].self_attn.q_proj.weight, model.score_head.query):
            assert abs(weight.std().item() - width ** -0.5) < 0.25 * width ** -0.5


def test_training_gradients_reach_projector_query_and_head(tiny):
    model, processor = tiny
    ids, mask = questions(processor, ["what happens?"])
    out = model(
        input_ids=ids, attention_mask=mask, prefix_ids=prefix_ids(model, processor),
        vision_features=torch.randn(1, 5, 9, 32), labels=torch.rand(1, 16),
    )
    model.zero_grad()
    out.loss.backward()
    names = ["backbone.projector.linear_1.weight", "score_head.query", "score_head.mlp.2.weight"]
    if model.config.score_readout == "frame_match":
        names += ["score_head.frame_proj.weight", "score_head.bias"]
    for name in names:
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    model.zero_grad()


def test_save_and_load_round_trip_in_safetensors(tiny, tmp_path):
    model, processor = tiny
    model.save_pretrained(tmp_path)
    files = set(os.listdir(tmp_path))
    assert "model.safetensors" in files and not any(f.endswith(".bin") for f in files)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "frame_selector"
    assert isinstance(AutoModel.from_pretrained(tmp_path), FrameSelectorModel)  # the backbone, as for transformers' models
    loaded = FrameSelectorForFrameScoring.from_pretrained(tmp_path)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)
    ids, mask = questions(processor, ["what happens?"])
    features = torch.randn(1, 5, 9, 32)
    pre = prefix_ids(model, processor)
    torch.testing.assert_close(
        loaded(input_ids=ids, attention_mask=mask, prefix_ids=pre, vision_features=features).logits,
        model(input_ids=ids, attention_mask=mask, prefix_ids=pre, vision_features=features).logits,
    )


def test_a_checkpoint_without_the_query_gets_a_sane_init(tiny, tmp_path):
    model, _ = tiny
    model.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    del weights["score_head.query"]
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    query = FrameSelectorForFrameScoring.from_pretrained(tmp_path).score_head.query
    scale = model.config.text_config.initializer_range  # the token embeddings' scale
    assert torch.isfinite(query).all() and 0.5 * scale < query.std() < 2 * scale


def test_frame_match_read_out_follows_the_frames_not_their_positions():
    """Permuting the frame states permutes the scores: no output is tied to a position."""
    model, _ = build_tiny_selector(seed=2, max_candidates=8, score_readout="frame_match")
    query, frames = torch.randn(2, 32), torch.randn(2, 5, 32)
    order = torch.tensor([3, 0, 4, 1, 2])
    torch.testing.assert_close(model.score_head(query, frames[:, order]), model.score_head(query, frames)[:, order])


def test_config_rejects_bad_values():
    with pytest.raises(Exception, match="pool_size"):
        FrameSelectorConfig(pool_size=0)
    with pytest.raises(Exception, match="score_layer"):
        FrameSelectorConfig(text_config=Qwen2Config(num_hidden_layers=2), score_layer=5)
    with pytest.raises(Exception, match="score_readout"):
        FrameSelectorConfig(score_readout="attention")


def test_pool_size_sets_tokens_per_frame():
    model, _ = build_tiny_selector(pool_size=2, max_candidates=8)
    assert model.vision_features(torch.randn(3, 3, 24, 24)).shape == (3, 4, 32)


def test_assemble_from_pretrained_parts(pretrained_parts, tmp_path):
    """The real loading path: a whole SigLIP checkpoint (text + vision) and a Qwen2 causal LM,
    both saved locally, as `init --vision/--llm` loads them from the hub."""
    siglip_dir, llm_dir = pretrained_parts
    siglip = SiglipModel.from_pretrained(siglip_dir)
    llm = Qwen2ForCausalLM.from_pretrained(llm_dir)
    tokenizer = AutoTokenizer.from_pretrained(llm_dir)

    model, processor = assemble_selector(siglip_dir, llm_dir, dtype=torch.float32, max_candidates=32)
    assert processor.tokenizer.convert_tokens_to_ids("<|im_start|>") == tokenizer.convert_tokens_to_ids("<|im_start|>")
    image = processor.image_processor  # the vision checkpoint's own preprocessing travels with the selector
    assert list(image.image_mean) == [0.4, 0.5, 0.6] and list(image.image_std) == [0.2, 0.3, 0.4]
    tower = model.vision_tower.state_dict()
    vision_keys = [k for k in siglip.state_dict() if k.startswith("vision_model.") and ".head." not in k]
    assert len(vision_keys) == len(tower)
    for key in vision_keys:
        torch.testing.assert_close(tower[key.removeprefix("vision_model.")], siglip.state_dict()[key], rtol=0, atol=0)
    for key, value in llm.state_dict().items():
        torch.testing.assert_close(model.language_model.state_dict()[key], value, rtol=0, atol=0)
    assert 0.005 < model.score_head.query.std() < 0.05
    assert all(torch.isfinite(p).all() for p in model.parameters())

    model.save_pretrained(tmp_path / "selector")
    reloaded = FrameSelectorForFrameScoring.from_pretrained(tmp_path / "selector")
    for key, value in model.state_dict().items():
        torch.testing.assert_close(reloaded.state_dict()[key], value, rtol=0, atol=0)


def test_head_pooling_reads_the_towers_own_pooled_embedding(pretrained_parts, tmp_path):
    siglip_dir, llm_dir = pretrained_parts
    siglip = SiglipModel.from_pretrained(siglip_dir).eval()
    model, _ = assemble_selector(siglip_dir, llm_dir, dtype=torch.float32, max_candidates=8, frame_pooling="head")
    head_keys = [k for k in siglip.state_dict() if k.startswith("vision_model.head.")]
    assert head_keys and all(k.removeprefix("vision_model.") in model.vision_tower.state_dict() for k in head_keys)
    pixels = torch.randn(3, 3, 24, 24)
    features = model.vision_features(pixels)
    assert features.shape == (3, 1, 32) and model.config.tokens_per_frame == 1
    torch.testing.assert_close(features[:, 0], siglip.vision_model(pixel_values=pixels).pooler_output)
    model.save_pretrained(tmp_path / "selector")
    torch.testing.assert_close(FrameSelectorForFrameScoring.from_pretrained(tmp_path / "selector").vision_features(pixels), features)
    with pytest.raises(Exception, match="pooling head"):
        FrameSelectorConfig(frame_pooling="head", vision_config={"model_type": "siglip_vision_model", "vision_use_head": False})


def test_listwise_scores_keep_the_order_of_far_drifted_logits():
    """A listwise head is defined up to a shift: logits of 40 and 39 must not both read 1.0."""
    logits = torch.tensor([[40.0, 39.0, 0.0]])
    listwise, _ = build_tiny_selector(max_candidates=3, score_loss="listwise")
    scores = listwise.candidate_scores(logits)
    assert scores.dtype == torch.float64 and scores[0, 0] > scores[0, 1] > scores[0, 2]
    torch.testing.assert_close(scores.sum(-1), torch.ones(1, dtype=torch.float64))
    bce, _ = build_tiny_selector(max_candidates=3, score_loss="bce")
    torch.testing.assert_close(bce.candidate_scores(torch.tensor([[2.0, -1.0]])), torch.sigmoid(torch.tensor([[2.0, -1.0]], dtype=torch.float64)))
