"""Assemble an untrained selector from a pretrained vision checkpoint and a pretrained LLM.

This is where training starts: the SigLIP tower and the Qwen2.5 decoder keep their weights, the
projector, score query and head are freshly initialised, and the result is one checkpoint that
later stages and `FrameSelector.from_pretrained` load directly.
"""

from __future__ import annotations

import logging
import os

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from transformers.models.auto.modeling_auto import MODEL_MAPPING

from .configuration import FrameSelectorConfig
from .modeling import FrameSelectorForFrameScoring, Projector
from .processing import FrameSelectorProcessor, processor_for
from .score_head import score_head_for

logger = logging.getLogger(__name__)


def _vision_config(vision: str | os.PathLike, use_head: bool):
    """The vision sub-config, whether the checkpoint is a whole SigLIP (text + vision) or a tower.
    The pooling head is kept only when frames are read through it (`frame_pooling="head"`)."""
    config = AutoConfig.from_pretrained(vision)
    vision_config = getattr(config, "vision_config", None) or config
    vision_config.vision_use_head = use_head
    return vision_config


def assemble_selector(
    vision: str | os.PathLike,
    llm: str | os.PathLike,
    dtype: torch.dtype = torch.bfloat16,
    **config_overrides,
) -> tuple[FrameSelectorForFrameScoring, FrameSelectorProcessor]:
    """Build a selector and its processor around pretrained parts (hub ids or local paths): the
    vision checkpoint's image processor, the LLM's tokenizer.

    The parts are loaded once and moved into the composite, not copied, so peak memory is one
    copy of each.
    """
    vision_config = _vision_config(vision, use_head=config_overrides.get("frame_pooling") == "head")
    tower_class = MODEL_MAPPING[type(vision_config)]  # e.g. SiglipVisionConfig -> SiglipVisionModel
    tower = tower_class.from_pretrained(vision, config=vision_config, dtype=dtype)
    language_model = AutoModelForCausalLM.from_pretrained(llm, dtype=dtype)
    processor = processor_for(vision, llm, tower.config.image_size)
    config = FrameSelectorConfig(vision_config=tower.config, text_config=language_model.config, **config_overrides)
    with torch.device("meta"):
        model = FrameSelectorForFrameScoring(config)
    model.backbone.vision_tower = tower
    model.backbone.language_model = language_model
    model.backbone.projector = Projector(config)
    model.score_head = score_head_for(config)
    for module in (*model.projector.modules(), *model.score_head.modules()):
        model._init_weights(module)
    model.projector.to(dtype)
    model.score_head.to(dtype)
    model.config.dtype = dtype
    logger.info("assembled selector from %s and %s", vision, llm)
    return model.eval(), processor


__all__ = ["assemble_selector"]
