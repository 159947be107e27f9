"""Training settings: one dataclass, filled from a YAML file and then from command-line
overrides, and written next to the outputs so every run can be reproduced."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from selector.label_store import SIGNAL_COLUMNS
from selector.score_names import SCORE_LOSSES
from selector.settings_file import load_settings


@dataclass
class TrainConfig:
    """Defaults follow the paper (stage 1: lr 1e-3, 3% warm-up, 2 epochs; stage 2: lr 1e-5, 3%
    warm-up, cosine, 5 epochs; effective batch 128)."""

    stage: Literal[1, 2] = 1
    init_from: str = ""  # selector checkpoint: `frame-selector init` output (stage 1), stage-1 output (stage 2)
    labels: str = ""  # label store folder or merged labels.parquet
    # Train on the store's signals recombined with these weights ({spatial: 1} alone, {spatial: 1,
    # temporal: 1} the paper's mean; a signal left out weighs 0); empty: the store's own `label`.
    label_weights: dict[str, float] = field(default_factory=dict)
    features: str = ""  # feature cache folder ("" = decode video and run the vision tower each step)
    instruct: str = ""  # stage 1 next-token data: JSONL of {video|image, conversations|messages}
    output_dir: str = "runs/selector"

    epochs: float = 2.0
    learning_rate: float = 1e-3
    warmup_ratio: float = 0.03
    scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    weight_decay: float = 0.0
    batch_size: int = 128  # effective: micro_batch_size x processes x accumulation
    micro_batch_size: int = 4
    max_grad_norm: float = 1.0
    lm_ratio: float = 1.0  # stage 1: next-token steps per score step (0 = score loss only)
    instruct_frames: int = 16  # candidates per instruction video
    train_llm: bool = False  # stage 1: train the whole language model too (tiny random models only: a
    # pretrained LLM stays frozen in the paper's stage 1)
    seed: int = 0
    # "bce" (the paper), "listwise" or "bce+listwise" (see FrameSelectorConfig.score_loss); "" keeps
    # the checkpoint's own. The choice is saved with the trained checkpoint.
    score_loss: str = ""
    also_without_options: bool = False  # train each multiple-choice question with and without its options

    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    train_head: bool = True  # stage 2: keep training score head and query
    train_projector: bool = False  # stage 2: keep training the projector
    merge: bool = True  # stage 2: also write a merged checkpoint

    val_fraction: float = 0.05
    eval_every: int = 50
    recall_k: int = 8
    save_every: int = 200
    save_total_limit: int = 3
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"  # auto: bf16 on GPU, fp32 on CPU
    cpu: bool = False  # force CPU (and gloo for several processes)
    num_workers: int = 2
    gradient_checkpointing: bool = False
    max_steps: int = 0  # stop after this many optimizer steps (0 = run the epochs)
    progress: bool = True

    @classmethod
    def load(cls, path: str | None = None, overrides: list[str] | None = None, **values: Any) -> TrainConfig:
        """YAML file, then `key=value` overrides (YAML-typed), then keyword values (`selector.settings_file`)."""
        config = load_settings(cls, path, overrides or (), what="training setting", **values)
        config.check()
        return config

    def check(self) -> None:
        if self.stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2, not {self.stage}")
        if not self.init_from:
            raise ValueError("init_from is required: a selector checkpoint to start from")
        if not self.labels:
            raise ValueError("labels is required: a label store folder or labels.parquet")
        for name in ("batch_size", "micro_batch_size", "recall_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if not 0 <= self.val_fraction < 1:
            raise ValueError("val_fraction must be in [0, 1)")
        if self.score_loss and self.score_loss not in SCORE_LOSSES:
            raise ValueError(f"score_loss must be one of {', '.join(SCORE_LOSSES)} (or empty for the checkpoint's), not {self.score_loss!r}")
        if self.lm_ratio < 0:
            raise ValueError("lm_ratio must be >= 0")
        self._check_label_weights()

    def _check_label_weights(self) -> None:
        """Known signal names and numbers >= 0, one above 0: a typo must not train on nothing."""
        if not isinstance(self.label_weights, dict):
            raise ValueError(f"label_weights must be a mapping like {{spatial: 1, temporal: 1}}, not {self.label_weights!r}")
        unknown = sorted(set(self.label_weights) - set(SIGNAL_COLUMNS))
        if unknown:
            raise ValueError(f"label_weights: unknown signal(s) {', '.join(map(str, unknown))}; use {', '.join(SIGNAL_COLUMNS)}")
        for name, weight in self.label_weights.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
                raise ValueError(f"label_weights: the weight of {name} must be a number >= 0, not {weight!r}")
        if self.label_weights and not any(self.label_weights.values()):
            raise ValueError("label_weights: every weight is 0, so no signal would be trained on")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


__all__ = ["TrainConfig"]
