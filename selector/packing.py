"""Several questions on one video as one token sequence after the video's cached frame prefix.

Each question attends to the frames and, causally, to its own tokens only (a block-diagonal mask),
so the prefix's keys and values are shared rather than copied per question
(`FrameSelectorForFrameScoring.score_with_prefix`); a compiled step pads the sequence to a few
fixed lengths (`selector.compiling`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

# Attention kernels that take the block-diagonal mask of packed questions (see `score_with_prefix`).
PACKED_ATTENTION = {"sdpa", "eager"}


@dataclass
class PackedQuestions:
    """B left-padded questions, each followed by its score query, as one token sequence.

    `ids` (T,): token ids, 0 at score-query and padding slots; `query` (T,): the score-query
    slots; `owner` (T,): the question of each token, -1 for padding; `local` (T,): its position
    within its question; `last` (B,): where each question's score query sits.
    """

    ids: torch.Tensor
    query: torch.Tensor
    owner: torch.Tensor
    local: torch.Tensor
    last: torch.Tensor

    def to(self, device: torch.device) -> PackedQuestions:
        return PackedQuestions(*(getattr(self, f.name).to(device) for f in fields(self)))


def pack_questions(input_ids: torch.Tensor, attention_mask: torch.Tensor, length: int | None = None) -> PackedQuestions:
    """The real tokens of (B, L) left-padded questions, a score query after each, packed into one
    sequence; `length` pads it at the end to that many tokens (a fixed shape for a compiled step).
    """
    batch = input_ids.shape[0]
    keep = torch.cat([attention_mask.bool(), attention_mask.new_ones(batch, 1, dtype=torch.bool)], dim=1)
    ids = torch.cat([input_ids, input_ids.new_zeros(batch, 1)], dim=1)[keep]
    query = torch.zeros_like(keep)
    query[:, -1] = True
    lengths = keep.sum(1)
    owner = torch.repeat_interleave(torch.arange(batch, device=ids.device), lengths)
    local = torch.arange(len(owner), device=ids.device) - (lengths.cumsum(0) - lengths)[owner]
    packed = PackedQuestions(ids, query[keep], owner, local, lengths.cumsum(0) - 1)
    if length is None:
        return packed
    pad = length - len(owner)
    if pad < 0:
        raise ValueError(f"{len(owner)} question tokens do not fit length {length}")
    fill = {"ids": 0, "query": False, "owner": -1, "local": 0}
    return PackedQuestions(**{name: torch.cat([getattr(packed, name), getattr(packed, name).new_full((pad,), value)])
                              for name, value in fill.items()}, last=packed.last)


__all__ = ["PACKED_ATTENTION", "PackedQuestions", "pack_questions"]
