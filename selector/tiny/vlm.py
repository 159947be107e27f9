"""Tiny random Qwen-VL models (Qwen2-VL, Qwen2.5-VL, Qwen3-VL) and their processors, built offline.

The pseudo-labellers load Qwen2-VL-family checkpoints through transformers' Auto classes, and the
hand-off and lmms-eval paths feed chosen frames to Qwen2.5-VL and Qwen3-VL. Tests, demos and
benchmarks cannot download one, so this builds the real classes at about 100k parameters, with the
tiny byte-level BPE of `selector.tiny` and Qwen2-VL's chat template, and can write a Qwen2-VL to a
directory that `from_pretrained` reads like a downloaded checkpoint. The weights are random:
outputs are well-formed but meaningless.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import (
    PreTrainedTokenizerBase,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    Qwen2VLVideoProcessor,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
)

from . import build_tiny_tokenizer

# Qwen2-VL-Instruct's chat template: string or multimodal (image / video / text parts) content.
QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Pixel budget of the tiny processor: at most 112x112 pixels = 16 patches of 28x28 after merging,
# so a frame costs 16 tokens and a whole test runs in seconds on a CPU.
TINY_MIN_PIXELS = 56 * 56
TINY_MAX_PIXELS = 112 * 112
# The same bounds as Qwen2-VL's image and video processors take them (`size`, in pixels).
TINY_PIXEL_BUDGET = {"shortest_edge": TINY_MIN_PIXELS, "longest_edge": TINY_MAX_PIXELS}


def _text_config(tokenizer: PreTrainedTokenizerBase, **extra) -> dict:
    """The tiny Qwen2 text stack every Qwen-VL here shares, with the tokenizer's special-token ids
    so generation stops and pads where the processor expects."""
    token_id = tokenizer.convert_tokens_to_ids
    return dict(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        bos_token_id=token_id("<|endoftext|>"),
        eos_token_id=token_id("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


def _mrope(**extra) -> dict:
    """M-RoPE over the 8-wide heads of the tiny text stack (sections [2, 1, 1] of time, height and
    width), fresh each call because configs keep the dict they are given."""
    return {"rope_type": "default", "mrope_section": [2, 1, 1], "rope_theta": 1e4, **extra}


def _vision_token_ids(tokenizer: PreTrainedTokenizerBase) -> dict:
    """The placeholder ids of the config, the tiny tokenizer's, so the processor's image and video
    placeholders reach the model."""
    token_id = tokenizer.convert_tokens_to_ids
    return dict(
        image_token_id=token_id("<|image_pad|>"),
        video_token_id=token_id("<|video_pad|>"),
        vision_start_token_id=token_id("<|vision_start|>"),
        vision_end_token_id=token_id("<|vision_end|>"),
    )


def _merged_vision_tower(**extra) -> dict:
    """The tiny vision tower of Qwen2.5-VL and Qwen3-VL (both project to the text width with
    `out_hidden_size`), 2x2 spatial and 2-frame temporal merges like the real ones."""
    return dict(
        depth=2,
        hidden_size=32,
        intermediate_size=37,
        num_heads=4,
        out_hidden_size=32,
        spatial_merge_size=2,
        temporal_patch_size=2,
        **extra,
    )


def _qwen2_vl_style_processor(
    processor_class: type[Qwen2VLProcessor] | type[Qwen2_5_VLProcessor], tokenizer: PreTrainedTokenizerBase | None,
    patch_size: int = 14,
) -> Qwen2VLProcessor | Qwen2_5_VLProcessor:
    """Qwen2-VL's and Qwen2.5-VL's processor from parts (they share the image and video processors):
    a small pixel budget and the tiny Qwen-style tokenizer (left padding, Qwen's special tokens)."""
    return processor_class(
        image_processor=Qwen2VLImageProcessor(patch_size=patch_size, size=TINY_PIXEL_BUDGET),
        tokenizer=tokenizer if tokenizer is not None else build_tiny_tokenizer(),
        video_processor=Qwen2VLVideoProcessor(patch_size=patch_size, size=TINY_PIXEL_BUDGET),
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )


def build_tiny_qwen2_vl_processor(tokenizer: PreTrainedTokenizerBase | None = None, patch_size: int = 14) -> Qwen2VLProcessor:
    """Qwen2-VL's processor from parts: image and video processors with a small pixel budget and
    a Qwen-style tokenizer (left padding, Qwen's special tokens), the tiny one by default.
    `patch_size` below Qwen2-VL's 14 gives a small frame more tokens (8: 36 for a 96-pixel frame)."""
    return _qwen2_vl_style_processor(Qwen2VLProcessor, tokenizer, patch_size)


def build_tiny_qwen2_vl(seed: int = 0) -> tuple[Qwen2VLForConditionalGeneration, Qwen2VLProcessor]:
    """A random tiny Qwen2-VL and its processor, the same for the same seed.

    Shapes follow transformers' own Qwen2-VL model tests (text hidden 32, 2 layers, vision depth 2,
    embed dim 32, 14-pixel patches merged 2x2, M-RoPE sections [2, 1, 1]); the special-token ids
    in the config are the tiny tokenizer's, so the processor's image placeholders reach the model.
    """
    processor = build_tiny_qwen2_vl_processor()
    tokenizer = processor.tokenizer
    config = Qwen2VLConfig(
        text_config=_text_config(tokenizer, rope_parameters=_mrope()),
        vision_config=dict(
            depth=2,
            embed_dim=32,
            hidden_size=32,
            num_heads=4,
            mlp_ratio=4,
            patch_size=processor.image_processor.patch_size,
            spatial_merge_size=processor.image_processor.merge_size,
            temporal_patch_size=processor.image_processor.temporal_patch_size,
        ),
        **_vision_token_ids(tokenizer),
    )
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).eval()
    return model, processor


def build_tiny_qwen2_5_vl(
    tokenizer: PreTrainedTokenizerBase | None = None, seed: int = 0
) -> tuple[Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor]:
    """A random tiny Qwen2.5-VL and its processor, the same for the same seed.

    Qwen2.5-VL differs from Qwen2-VL in its vision tower (windowed attention, an MLP merger), which
    the hand-off must feed the same way; `tokenizer` lets several tiny models share one tokenizer
    (the tiny one by default)."""
    processor = _qwen2_vl_style_processor(Qwen2_5_VLProcessor, tokenizer)
    tokenizer = processor.tokenizer
    config = Qwen2_5_VLConfig(
        text_config=_text_config(tokenizer, rope_parameters=_mrope()),
        vision_config=_merged_vision_tower(
            patch_size=14, window_size=56, fullatt_block_indexes=[1], tokens_per_second=2
        ),
        **_vision_token_ids(tokenizer),
    )
    torch.manual_seed(seed)
    return Qwen2_5_VLForConditionalGeneration(config).eval(), processor


def build_tiny_qwen3_vl(
    tokenizer: PreTrainedTokenizerBase | None = None, seed: int = 0
) -> tuple[Qwen3VLForConditionalGeneration, Qwen3VLProcessor]:
    """A random tiny Qwen3-VL and its processor, the same for the same seed.

    Qwen3-VL prints a time per temporal patch and bounds the video's pixels summed over frames:
    16-pixel patches merged 2x2 (a 32-pixel factor), and a video budget of 8 frames of at most
    96x64 pixels (6 tokens per temporal patch). `tokenizer` as in `build_tiny_qwen2_5_vl`."""
    tokenizer = tokenizer if tokenizer is not None else build_tiny_tokenizer()
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(patch_size=16, size={"shortest_edge": 32 * 32, "longest_edge": 96 * 64}),
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(patch_size=16, size={"shortest_edge": 32 * 32, "longest_edge": 8 * 96 * 64}),
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )
    config = Qwen3VLConfig(
        text_config=_text_config(tokenizer, head_dim=8, rope_parameters=_mrope(mrope_interleaved=True)),
        vision_config=_merged_vision_tower(patch_size=16, num_position_embeddings=16, deepstack_visual_indexes=[1]),
        **_vision_token_ids(tokenizer),
    )
    torch.manual_seed(seed)
    return Qwen3VLForConditionalGeneration(config).eval(), processor


def save_tiny_qwen2_vl(directory: str | os.PathLike, seed: int = 0) -> Path:
    """Write a tiny Qwen2-VL checkpoint (weights, config, processor, chat template) that
    `AutoModelForImageTextToText.from_pretrained` and `AutoProcessor.from_pretrained` load."""
    directory = Path(directory)
    model, processor = build_tiny_qwen2_vl(seed)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


__all__ = [
    "QWEN2_VL_CHAT_TEMPLATE",
    "TINY_MAX_PIXELS",
    "TINY_MIN_PIXELS",
    "TINY_PIXEL_BUDGET",
    "build_tiny_qwen2_5_vl",
    "build_tiny_qwen2_vl",
    "build_tiny_qwen2_vl_processor",
    "build_tiny_qwen3_vl",
    "save_tiny_qwen2_vl",
]
