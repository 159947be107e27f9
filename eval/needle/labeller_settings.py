"""Sizes and training budgets of the demo's two labellers (`labellers.py` trains them).

Apart from `labellers.py`, which imports torch and transformers' Qwen2 models, because
`DemoSettings` holds these settings and `frame-selector demo --help` reads `DemoSettings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LabellerSettings:
    """Sizes and training budgets of the two labellers."""

    candidates: int = 128
    seed: int = 0
    vlm_steps: int = 2000
    vlm_lr: float = 3e-3
    vlm_batch: int = 32
    vlm: dict = field(default_factory=lambda: {"text_hidden": 64, "text_layers": 2, "vision_dim": 96, "vision_depth": 3, "patch_size": 8})
    # The text LLM, trained from scratch here, does not learn which caption lines a question names
    # at any budget measured (held-out recall 0.03 after 400 steps, 0.04 to 0.09 after 1,500, 0.14
    # with 20,000 prompts: docs/demo.md); 400 steps cost a quarter of 1,500 for the same result.
    llm_steps: int = 400
    llm_lr: float = 3e-3
    llm_batch: int = 8
    # Caption counts of the text LLM's training prompts (besides the full candidate count).
    llm_lengths: tuple[int, ...] = (8, 16, 32, 64)
    # Init std of both labellers' weights; None: 1/sqrt(width) (`selector.tiny.from_scratch_init`).
    init: float | None = None

    def prompt_lengths(self) -> tuple[int, ...]:
        """Caption counts of the text LLM's training prompts: the shorter ones and the full one."""
        return tuple(sorted({*self.llm_lengths, self.candidates}))
    llm: dict = field(default_factory=lambda: {"hidden_size": 96, "intermediate_size": 192, "num_hidden_layers": 3,
                                               "num_attention_heads": 4, "num_key_value_heads": 2})


__all__ = ["LabellerSettings"]
