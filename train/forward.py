"""The selector's forward pass on one collated batch, shared by the training step and validation:
the candidates' vision features (cached, or decoded frames through the frozen tower) and the
stage's loss."""

from __future__ import annotations

import torch

from selector.api import encode_frames
from selector.modeling import FrameSelectorModel
from selector.processing import FrameSelectorProcessor


def batch_features(
    batch: dict, base: FrameSelectorModel, processor: FrameSelectorProcessor, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """Cached features as they are, or decoded frames through the frozen tower."""
    frames = batch["frames"]
    if frames.dtype != torch.uint8:
        return frames.to(device, dtype)
    counts = batch["num_candidates"].tolist()
    encoded = [encode_frames(base, processor, frames[b, :n].cpu().numpy()) for b, n in enumerate(counts)]
    out = torch.zeros((len(encoded), frames.shape[1], *encoded[0].shape[1:]), device=device, dtype=dtype)
    for b, features in enumerate(encoded):
        out[b, : len(features)] = features.to(device, dtype)
    return out


def batch_loss(model, batch: dict, base: FrameSelectorModel, processor: FrameSelectorProcessor, device) -> torch.Tensor:
    """The score loss of a score batch, or the next-token loss of an instruction batch."""
    dtype = base.projector.linear_1.weight.dtype
    features = batch_features(batch, base, processor, dtype, device)
    common = dict(
        input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device),
        prefix_ids=processor.prefix_ids().to(device), vision_features=features, num_candidates=batch["num_candidates"],
    )
    if batch["kind"] == "score":
        return model(**common, labels=batch["labels"].to(device)).loss
    return model(**common, targets=batch["targets"].to(device)).loss


__all__ = ["batch_features", "batch_loss"]
