"""Random-weight selectors of known shapes, built offline: speed does not depend on the weights.

`real` is the paper's selector: SigLIP-L/16 at 256 px (google/siglip-large-patch16-256's vision
tower) and Qwen2.5-1.5B (Qwen/Qwen2.5-1.5B-Instruct's decoder), with the shapes copied from their
published configs. `small` keeps a 2-core CPU run to seconds; `tiny` is the test-suite model.
The tokenizer is always the tiny offline one (its questions are about as many tokens as Qwen's).
Also the variants of a selector the benchmarks compare: questions unpacked (`unpacked`), and
decoding timed inside `select` (`DecodeTimedSelector`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from selector.api import FrameSelector
from selector.configuration import FrameSelectorConfig
from selector.frames import Frame
from selector.modeling import FrameSelectorForFrameScoring
from selector.processing import processor_for
from selector.tiny import build_tiny_tokenizer, tiny_config
from selector.video import DecodedFrames, VideoInfo

# Each preset is a set of overrides of `selector.tiny.tiny_config`, the test suite's selector:
# `tiny` is that model as it is.
PRESETS = {
    "tiny": dict(vision={}, text={}),
    "small": dict(
        vision=dict(hidden_size=192, intermediate_size=768, num_hidden_layers=4, num_attention_heads=3, image_size=64, patch_size=8),
        text=dict(hidden_size=512, intermediate_size=2816, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=2),
    ),
    # google/siglip-large-patch16-256 (vision) + Qwen/Qwen2.5-1.5B-Instruct
    "real": dict(
        vision=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, image_size=256,
                    patch_size=16, layer_norm_eps=1e-6, hidden_act="gelu_pytorch_tanh"),
        text=dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                  vocab_size=151936, max_position_embeddings=32768, rms_norm_eps=1e-6,
                  rope_parameters={"rope_type": "default", "rope_theta": 1e6}),
    ),
}


def selector_config(preset: str, max_candidates: int = 128, vocab_size: int = 512) -> FrameSelectorConfig:
    """The preset's config: the tiny selector's with the preset's shapes."""
    shapes = PRESETS[preset]
    return tiny_config(vocab_size, max_candidates, vision=shapes["vision"], text=shapes["text"])


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


def unpacked(selector: FrameSelector) -> FrameSelector:
    """The same model and processor scoring questions as before they were packed: the prefix
    cache expanded (and, for grouped-query attention, repeated) per question of a batch."""
    return FrameSelector(selector.model, selector.processor, question_batch_size=selector.question_batch_size,
                         vision_batch_size=selector.vision_batch_size, name=selector.name, packed=False)


class DecodeTimedSelector(FrameSelector):
    """A selector that adds up the seconds its `select` spends decoding candidates (its
    `read_candidates`), so that decoding's share is measured inside the real selection."""

    decode_seconds = 0.0

    def read_candidates(self, info: VideoInfo, frames: Sequence[Frame]) -> DecodedFrames:
        start = time.perf_counter()
        try:
            return super().read_candidates(info, frames)
        finally:
            self.decode_seconds += time.perf_counter() - start


__all__ = ["PRESETS", "DecodeTimedSelector", "build_selector", "describe", "selector_config", "unpacked"]
