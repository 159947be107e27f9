"""The score query, the read-outs that turn its hidden state into one score per candidate, and the
loss those scores train with.

Everything that differs between read-outs lives in one `ScoreHead` subclass: its parameters, how
they are initialised, whether it reads each frame's own hidden state (`reads_frames`: the model
then keeps those states with the reusable frame prefix), and its arithmetic. Changing a read-out is
a change to its class; adding one is a class here and its name in
`selector.score_names.ScoreReadout`.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .configuration import SCORE_LOSSES, SCORE_READOUTS, FrameSelectorConfig


class ScoreHead(nn.Module):
    """The score query token and the read-out of its hidden state.

    The query lives inside this module (not on the model) so that peft's `modules_to_save` can
    train it together with the read-out in stage 2.
    """

    reads_frames: ClassVar[bool] = False

    def __init__(self, config: FrameSelectorConfig):
        super().__init__()
        self.query = nn.Parameter(torch.zeros(1, 1, config.text_config.hidden_size))

    @torch.no_grad()
    def initialize(self, std: float) -> None:
        """The parameters the default init does not cover. Without it, a checkpoint assembled
        from a SigLIP and a Qwen2 checkpoint would load the bare query parameter as uninitialised
        memory; `std` is the LLM's own token-embedding scale."""
        nn.init.normal_(self.query, std=std)

    def forward(self, query_state: torch.Tensor, frame_states: torch.Tensor | None = None) -> torch.Tensor:
        """query_state (B, W), with frame_states (B, n, W) when `reads_frames` -> logits (B, m),
        m >= the candidates scored (the model masks the rest)."""
        raise NotImplementedError


def _mlp(config: FrameSelectorConfig, outputs: int) -> nn.Sequential:
    width = config.text_config.hidden_size
    hidden = config.score_head_hidden or width
    return nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, outputs))


class QueryMLPHead(ScoreHead):
    """The paper's read-out: an MLP maps the query state to `max_candidates` logits, one per
    candidate position."""

    def __init__(self, config: FrameSelectorConfig):
        super().__init__(config)
        self.mlp = _mlp(config, config.max_candidates)

    def forward(self, query_state: torch.Tensor, frame_states: torch.Tensor | None = None) -> torch.Tensor:
        return self.mlp(query_state)


class FrameMatchHead(ScoreHead):
    """Each candidate scored by how well the query state matches that frame's own hidden state,
    so no position has to be written into the query (see `FrameSelectorConfig.score_readout`)."""

    reads_frames = True

    def __init__(self, config: FrameSelectorConfig):
        super().__init__(config)
        hidden = config.score_head_hidden or config.text_config.hidden_size
        self.mlp = _mlp(config, hidden)
        self.frame_proj = nn.Linear(config.text_config.hidden_size, hidden)
        self.bias = nn.Parameter(torch.zeros(1))

    @torch.no_grad()
    def initialize(self, std: float) -> None:
        super().initialize(std)
        nn.init.zeros_(self.bias)

    def forward(self, query_state: torch.Tensor, frame_states: torch.Tensor | None = None) -> torch.Tensor:
        query = self.mlp(query_state)
        frames = self.frame_proj(frame_states.to(query.dtype))
        return torch.einsum("bd,bnd->bn", query, frames) / query.shape[-1] ** 0.5 + self.bias


READOUTS: dict[str, type[ScoreHead]] = {"query_mlp": QueryMLPHead, "frame_match": FrameMatchHead}
if set(READOUTS) != set(SCORE_READOUTS):  # a name added on one side only
    raise ImportError(f"read-outs {sorted(READOUTS)} do not match ScoreReadout {sorted(SCORE_READOUTS)}")


def score_head_for(config: FrameSelectorConfig) -> ScoreHead:
    """A fresh head of the read-out `config` names."""
    return READOUTS[config.score_readout](config)



def score_loss(logits: torch.Tensor, labels: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """The score loss over the real candidates (finite logits) against soft labels in [0, 1].

    "bce": mean binary cross-entropy over every (item, candidate). "listwise": per item, the
    cross-entropy between a softmax over its candidates and its labels normalised to sum 1,
    averaged over the items with any positive label. "bce+listwise": their sum. See
    `FrameSelectorConfig.score_loss` for why the listwise part matters.
    """
    if kind not in SCORE_LOSSES:
        raise ValueError(f"score_loss must be one of {', '.join(SCORE_LOSSES)}, got {kind!r}")
    width = min(logits.shape[1], labels.shape[1])
    logits, labels = logits[:, :width], labels[:, :width].to(logits)
    valid = torch.isfinite(logits) & torch.isfinite(labels)
    if not valid.any():
        raise ValueError("no candidate has both a score and a label")
    loss = logits.new_zeros(())
    if kind in ("bce", "bce+listwise"):
        loss = loss + F.binary_cross_entropy_with_logits(logits[valid], labels[valid])
    if kind in ("listwise", "bce+listwise"):
        target = torch.where(valid, labels.clamp(min=0), torch.zeros_like(labels))
        mass = target.sum(1)
        rows = (mass > 0).to(logits.dtype)  # an item with no positive label adds nothing
        log_p = torch.log_softmax(torch.where(valid, logits, torch.full_like(logits, float("-inf"))), dim=1)
        terms = torch.where(target > 0, target * log_p, torch.zeros_like(log_p))  # 0 * -inf stays 0
        per_item = -terms.sum(1) / mass.clamp(min=torch.finfo(mass.dtype).tiny)
        loss = loss + (per_item * rows).sum() / rows.sum().clamp(min=1)
    return loss


__all__ = ["FrameMatchHead", "QueryMLPHead", "READOUTS", "ScoreHead", "score_head_for", "score_loss"]
