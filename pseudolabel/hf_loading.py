"""Loading a labeller checkpoint in-process: one revision for the model and its processor or
tokenizer, the device and dtype defaults of a labelling job, and the commit for provenance."""

from __future__ import annotations

import os
from typing import Any

import torch
from transformers.utils.hub import resolve_revision


def load_checkpoint(
    model_class: Any,
    processor_class: Any,
    model_id: str | os.PathLike,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    *,
    revision: str | None = None,
    attn_implementation: str | None = None,
) -> tuple[Any, Any, str | None]:
    """(model, processor or tokenizer, commit) of a hub id or local directory.

    Args:
        model_class, processor_class: transformers Auto classes (or concrete ones).
        device: defaults to CUDA when available, else the CPU.
        dtype: defaults to bfloat16 on CUDA (what the Qwen checkpoints ship in) and float32 on the
            CPU, where bfloat16 matmuls are slow and lose precision for nothing.
        revision: branch, tag or commit, resolved to a commit once so that the model and its
            processor are read at the same one, which provenance then records.
    """
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dtype is None:
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    resolved = resolve_revision(model_id, revision)
    processor = processor_class.from_pretrained(model_id, revision=resolved)
    model = model_class.from_pretrained(
        model_id, revision=resolved, dtype=dtype, device_map=device, attn_implementation=attn_implementation
    )
    return model, processor, getattr(resolved, "resolved", resolved)


__all__ = ["load_checkpoint"]
