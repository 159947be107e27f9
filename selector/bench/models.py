"""Random-weight selectors of known shapes, built offline: speed does not depend on the weights.

`real` is the paper's selector: SigLIP-L/16 at 256 px (google/siglip-large-patch16-256's vision
tower) and Qwen2.5-1.5B (Qwen/Qwen2.5-1.5B-Instruct's decoder), with the shapes copied from their
published configs. `small` keeps a 2-core CPU run to seconds; `tiny` is the test-suite model.
The tokenizer is always the tiny offline one (its questions are about as many tokens as Qwen's).
"""

from __future__ import annotations

import time

import torch
from transformers import Qwen2Config, SiglipVisionConfig

from ..api import FrameSelector
from ..configuration import FrameSelectorConfig
from ..modeling import FrameSelectorForFrameScoring
from ..processing import processor_for
from ..tiny import build_tiny_tokenizer

PRESETS = {
    "tiny": dict(
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=24, patch_size=4),
        text=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                  tie_word_embeddings=True),
    ),
    "small": dict(
        vision=dict(hidden_size=192, intermediate_size=768, num_hidden_layers=4, num_attention_heads=3, image_size=64, patch_size=8),
        text=dict(hidden_size=512, intermediate_size=2816, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=2,
                  tie_word_embeddings=True),
    ),
    # google/siglip-large-patch16-256 (vision) + Qwen/Qwen2.5-1.5B-Instruct
    "real": dict(
        vision=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, image_size=256,
                    patch_size=16, layer_norm_eps=1e-6, hidden_act="gelu_pytorch_tanh"),
        text=dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                  vocab_size=151936, max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1e6, tie_word_embeddings=True),
    ),
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def selector_config(preset: str, max_candidates: int = 128, vocab_size: int = 512) -> FrameSelectorConfig:
    shapes = PRESETS[preset]
    text = {"vocab_size": vocab_size, "max_position_embeddings": 4096, "bos_token_id": None, "eos_token_id": None,
            "pad_token_id": None, **shapes["text"]}
    rope_theta = text.pop("rope_theta", None)
    if rope_theta is not None:
        text["rope_parameters"] = {"rope_type": "default", "rope_theta": rope_theta}
    return FrameSelectorConfig(
        vision_config=SiglipVisionConfig(vision_use_head=False, **shapes["vision"]),
        text_config=Qwen2Config(**text),
        max_candidates=max_candidates,
    )


def build_selector(
    preset: str, device: str = "cpu", dtype: torch.dtype = torch.float32, attn: str = "sdpa", max_candidates: int = 128,
    seed: int = 0,
) -> tuple[FrameSelector, float]:
    """(selector, seconds to build): random weights initialised directly in `dtype` on `device`.
    Its questions run eager on every device, so a benchmark's figures do not change with the
    `compile` default; benchmarks time the compiled step beside eager where they name it."""
    start = time.perf_counter()
    tokenizer = build_tiny_tokenizer()
    config = selector_config(preset, max_candidates, vocab_size=max(len(tokenizer), PRESETS[preset]["text"].get("vocab_size", 0)))
    config._attn_implementation = attn
    for sub in (config.vision_config, config.text_config):
        sub._attn_implementation = attn
    torch.manual_seed(seed)
    with torch.device(device):
        model = FrameSelectorForFrameScoring._from_config(config, dtype=dtype)
    processor = processor_for(None, tokenizer, config.vision_config.image_size)
    selector = FrameSelector(model.eval(), processor, name=f"random-{preset}", compile="off")
    return selector, time.perf_counter() - start


def describe(selector: FrameSelector) -> str:
    model = selector.model
    params = sum(p.numel() for p in model.parameters())
    vision = model.vision_tower.config
    text = model.language_model.config
    return (f"{params / 1e6:.1f}M parameters ({str(model.dtype).removeprefix('torch.')}, attention "
            f"{text._attn_implementation}): vision {vision.num_hidden_layers}x{vision.hidden_size} at "
            f"{vision.image_size}px/{vision.patch_size}, LLM {text.num_hidden_layers}x{text.hidden_size} "
            f"({text.num_attention_heads} heads, {text.num_key_value_heads} kv)")


__all__ = ["PRESETS", "DTYPES", "build_selector", "selector_config", "describe"]
