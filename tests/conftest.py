"""Shared fixtures: the bundled test videos, a tiny random selector saved to disk once, and tiny
downstream models (Qwen2-VL, Qwen2.5-VL, Qwen3-VL) sharing one tiny tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.paths import VIDEOS


@pytest.fixture(params=[1, 2, 8], ids=lambda w: f"workers{w}")
def decode_workers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Each parallel-decoding worker count in turn (8: more workers than most reads have runs):
    the frames a read returns must not depend on it."""
    from selector.video import WORKERS_ENV

    monkeypatch.setenv(WORKERS_ENV, str(request.param))
    return request.param


@pytest.fixture(scope="session")
def videos() -> Path:
    return VIDEOS


@pytest.fixture(scope="session")
def tiny_selector_dir(tmp_path_factory) -> Path:
    """A tiny selector written the way `frame-selector init --tiny` writes it."""
    from selector.tiny import build_tiny_selector

    out = tmp_path_factory.mktemp("tiny-selector")
    model, processor = build_tiny_selector(seed=0)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_selector(tiny_selector_dir):
    from selector import FrameSelector

    return FrameSelector.from_pretrained(tiny_selector_dir, device="cpu")


@pytest.fixture(scope="session")
def pretrained_parts(tmp_path_factory) -> tuple[Path, Path]:
    """Local stand-ins for the hub checkpoints `init` assembles from: a whole SigLIP model (text and
    vision towers, with a preprocessor config) and a Qwen2 causal LM with its tokenizer."""
    from transformers import Qwen2Config, Qwen2ForCausalLM, SiglipConfig, SiglipModel

    from selector.tiny import build_tiny_tokenizer

    root = tmp_path_factory.mktemp("parts")
    siglip = SiglipModel(
        SiglipConfig(
            vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=24, patch_size=4),
            text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4, vocab_size=99, bos_token_id=1, eos_token_id=2, pad_token_id=0),
        )
    )
    siglip.save_pretrained(root / "siglip")
    (root / "siglip" / "preprocessor_config.json").write_text(
        json.dumps({"image_mean": [0.4, 0.5, 0.6], "image_std": [0.2, 0.3, 0.4]})
    )
    tokenizer = build_tiny_tokenizer()
    llm = Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
        )
    )
    llm.save_pretrained(root / "llm")
    tokenizer.save_pretrained(root / "llm")
    return root / "siglip", root / "llm"


# Tiny downstream models built from parts, once per test module (as the hand-off and lmms-eval
# tests each built them): Qwen2.5-VL and Qwen3-VL share the module's tokenizer.


@pytest.fixture(scope="module")
def tokenizer():
    from selector.tiny import build_tiny_tokenizer

    return build_tiny_tokenizer()


@pytest.fixture(scope="module")
def qwen2():
    from selector.tiny.vlm import build_tiny_qwen2_vl

    return build_tiny_qwen2_vl(seed=0)


@pytest.fixture(scope="module")
def qwen25(tokenizer):
    from selector.tiny.vlm import build_tiny_qwen2_5_vl

    return build_tiny_qwen2_5_vl(tokenizer)


@pytest.fixture(scope="module")
def qwen3(tokenizer):
    from selector.tiny.vlm import build_tiny_qwen3_vl

    return build_tiny_qwen3_vl(tokenizer)
