"""Configuration of the frame selector: a SigLIP vision tower and a Qwen2 language model, plus the
few numbers that make them a selector (pooling grid, read-out layer, candidate budget, prompt)."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .score_names import SCORE_LOSSES, SCORE_READOUTS, ScoreLoss, ScoreReadout


@strict
class FrameSelectorConfig(PreTrainedConfig):
    r"""
    Args:
        vision_config: a `SiglipVisionConfig` (or dict); the tower stays frozen, so its pooled output
            can be cached per video.
        text_config: a `Qwen2Config` (or dict) for the language model.
        pool_size: side of the average-pooling grid per frame; 3 gives the paper's 9 tokens a frame.
        frame_pooling: "grid" (the paper): average the tower's patch tokens over a pool_size x
            pool_size grid. "head": one token a frame, the tower's own attention-pooling head
            (SigLIP's MAP head, the embedding its contrastive training shaped); a single average
            of the patch tokens loses much of what the head keeps (on the demo's tower, a linear
            probe reads a needle's colour and shape from it at 0.77 against 0.85 for the head).
        projector_hidden_act: activation of the two-layer projector (LLaVA convention).
        max_candidates: number of score outputs; a video with fewer candidates masks the rest.
        score_layer: index into the language model's hidden states (0 = embeddings, -1 = final
            normed output) at which the score query is read; the paper reads the penultimate block.
        score_head_hidden: hidden width of the score MLP (default: the language model's width).
        score_readout: how the score query's hidden state becomes one score per candidate.
            "query_mlp" (the paper): an MLP maps the query state to `max_candidates` logits, so
            the LLM must write every frame's position into that one vector. "frame_match": each
            candidate's score is the match between the query state and that frame's own hidden
            state (mean over its tokens, same layer), so no position has to be encoded and the
            head is the same for every candidate; the frame states are question-independent and
            are kept with the reusable frame prefix.
        score_loss: the training loss of the scores against soft labels. "bce" (the paper): each
            candidate on its own; most candidates are background, so a question-blind event
            detector is already near its optimum. "listwise": cross-entropy between a softmax over
            the real candidates and the label normalised to sum 1; it only rewards putting mass on
            the asked frames rather than on every event, which is what makes the question matter
            (docs/question-awareness.md). "bce+listwise": the sum.

    The text around frames and question and the pixel normalisation are not here: they belong to
    the checkpoint's processor (`selector.processing.FrameSelectorProcessor`).
    """

    model_type = "frame_selector"
    sub_configs_defaults = {
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="siglip_vision_model"),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="qwen2"),
    }

    vision_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    pool_size: int = 3
    frame_pooling: str = "grid"
    projector_hidden_act: str = "gelu"
    max_candidates: int = 128
    score_layer: int = -2
    score_head_hidden: int | None = None
    score_readout: str = "query_mlp"
    score_loss: str = "bce"

    def validate_architecture(self):
        super().validate_architecture()
        if self.pool_size < 1:
            raise ValueError(f"pool_size must be >= 1, got {self.pool_size}")
        if self.frame_pooling not in ("grid", "head"):
            raise ValueError(f"frame_pooling must be 'grid' or 'head', got {self.frame_pooling!r}")
        if self.frame_pooling == "head" and not getattr(self.vision_config, "vision_use_head", False):
            raise ValueError("frame_pooling='head' needs a vision tower with its pooling head (vision_use_head=True)")
        if self.max_candidates < 1:
            raise ValueError(f"max_candidates must be >= 1, got {self.max_candidates}")
        if self.score_readout not in SCORE_READOUTS:
            raise ValueError(f"score_readout must be {' or '.join(map(repr, SCORE_READOUTS))}, got {self.score_readout!r}")
        if self.score_loss not in SCORE_LOSSES:
            raise ValueError(f"score_loss must be one of {', '.join(SCORE_LOSSES)}, got {self.score_loss!r}")
        layers = self.text_config.num_hidden_layers
        if not -(layers + 1) <= self.score_layer <= layers:
            raise ValueError(f"score_layer {self.score_layer} is outside the {layers + 1} hidden states")

    @property
    def tokens_per_frame(self) -> int:
        return 1 if self.frame_pooling == "head" else self.pool_size * self.pool_size


# Every checkpoint whose config.json says "frame_selector" loads through AutoConfig once this module
# is imported (any use of the selector's classes imports it; `import selector` alone does not).
AutoConfig.register(FrameSelectorConfig.model_type, FrameSelectorConfig, exist_ok=True)

__all__ = ["FrameSelectorConfig", "SCORE_LOSSES", "SCORE_READOUTS", "ScoreLoss", "ScoreReadout"]
