"""The selector's forward pass on one collated batch, shared by the training step and validation:
the candidates' vision features (cached, or decoded frames through the frozen tower), the model's
keyword arguments, and the stage's loss."""

from __future__ import annotations

import torch

from selector.api import encode_pixel_values
from selector.modeling import FrameSelectorForFrameScoring


def batch_features(batch: dict, base: FrameSelectorForFrameScoring, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Cached features as they are, or decoded frames through the frozen tower, item by item."""
    if "vision_features" in batch:
        return batch["vision_features"].to(device, dtype)
    pixels = batch["pixel_values"]
    encoded = [encode_pixel_values(base, pixels[b, :n].cpu()) for b, n in enumerate(batch["num_candidates"].tolist())]
    out = torch.zeros((len(encoded), pixels.shape[1], *encoded[0].shape[1:]), device=device, dtype=dtype)
    for b, features in enumerate(encoded):
        out[b, : len(features)] = features.to(device, dtype)
    return out


def batch_inputs(batch: dict, base: FrameSelectorForFrameScoring, device: torch.device) -> dict:
    """The model's keyword arguments from a collated batch (the processor's output), on `device`,
    with decoded frames encoded by the frozen tower."""
    inputs = {name: batch[name].to(device) for name in ("input_ids", "attention_mask", "prefix_ids", "labels", "targets") if name in batch}
    return {**inputs, "vision_features": batch_features(batch, base, base.projector.linear_1.weight.dtype, device),
            "num_candidates": batch["num_candidates"]}


def batch_loss(model, batch: dict, base: FrameSelectorForFrameScoring, device: torch.device) -> torch.Tensor:
    """The score loss of a score batch, or the next-token loss of an instruction batch (the batch
    carries `labels` or `targets`, and the model's forward picks the loss from which it gets)."""
    return model(**batch_inputs(batch, base, device)).loss


__all__ = ["batch_features", "batch_inputs", "batch_loss"]
