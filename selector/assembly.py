"""Assemble an untrained selector from a pretrained vision checkpoint and a pretrained LLM.

This is where training starts: the SigLIP tower and the Qwen2.5 decoder keep their weights, the
projector, score query and head are freshly initialised, and the result is one checkpoint that
later stages and `FrameSelector.from_pretrained` load directly.
"""

from __future__ import annotations

import json
import logging
import os

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from transformers.models.auto.modeling_auto import MODEL_MAPPING

from .configuration import FrameSelectorConfig
from .modeling import FrameSelectorModel, Projector, ScoreHead

logger = logging.getLogger(__name__)


def _vision_config(vision: str | os.PathLike, use_head: bool):
    """The vision sub-config, whether the checkpoint is a whole SigLIP (text + vision) or a tower.
    The pooling head is kept only when frames are read through it (`frame_pooling="head"`)."""
    config = AutoConfig.from_pretrained(vision)
    vision_config = getattr(config, "vision_config", None) or config
    vision_config.vision_use_head = use_head
    return vision_config


def _image_normalisation(vision: str | os.PathLike) -> dict:
    """Mean and std from the checkpoint's preprocessor config; SigLIP's 0.5/0.5 when it has none."""
    try:
        from transformers.utils import cached_file

        path = cached_file(str(vision), "preprocessor_config.json", _raise_exceptions_for_missing_entries=False)
    except OSError:
        path = None
    if not path:
        return {}
    with open(path) as handle:
        data = json.load(handle)
    return {key: list(data[key]) for key in ("image_mean", "image_std") if key in data}


def assemble_selector(
    vision: str | os.PathLike,
    llm: str | os.PathLike,
    dtype: torch.dtype = torch.bfloat16,
    **config_overrides,
) -> tuple[FrameSelectorModel, PreTrainedTokenizerBase]:
    """Build a selector around pretrained parts (hub ids or local paths).

    The parts are loaded once and moved into the composite, not copied, so peak memory is one
    copy of each.
    """
    vision_config = _vision_config(vision, use_head=config_overrides.get("frame_pooling") == "head")
    tower_class = MODEL_MAPPING[type(vision_config)]  # e.g. SiglipVisionConfig -> SiglipVisionModel
    tower = tower_class.from_pretrained(vision, config=vision_config, dtype=dtype)
    language_model = AutoModelForCausalLM.from_pretrained(llm, dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(llm)
    overrides = {**_image_normalisation(vision), **config_overrides}
    config = FrameSelectorConfig(vision_config=tower.config, text_config=language_model.config, **overrides)
    with torch.device("meta"):
        model = FrameSelectorModel(config)
    model.vision_tower = tower
    model.language_model = language_model
    model.projector = Projector(config)
    model.score_head = ScoreHead(config)
    for module in (*model.projector.modules(), *model.score_head.modules()):
        model._init_weights(module)
    model.projector.to(dtype)
    model.score_head.to(dtype)
    model.config.dtype = dtype
    logger.info("assembled selector from %s and %s", vision, llm)
    return model.eval(), tokenizer


__all__ = ["assemble_selector"]
