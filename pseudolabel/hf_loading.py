"""What every in-process labeller shares: loading a checkpoint (one revision for the model and its
processor or tokenizer, the device and dtype defaults of a labelling job, the commit for
provenance), greedy decoding, and the provenance of the loaded model."""

from __future__ import annotations

import os
from typing import Any

import torch
import transformers
from transformers.utils.hub import resolve_revision

from selector.hardware import default_device, default_dtype


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
    device = torch.device(device or default_device())
    if dtype is None:
        dtype = default_dtype(device)
    resolved = resolve_revision(model_id, revision)
    processor = processor_class.from_pretrained(model_id, revision=resolved)
    model = model_class.from_pretrained(
        model_id, revision=resolved, dtype=dtype, device_map=device, attn_implementation=attn_implementation
    )
    return model, processor, getattr(resolved, "resolved", resolved)


# Generation settings of every labeller: greedy, the checkpoint's sampling settings switched off,
# so labels are reproducible (a repetition penalty still applies and is recorded).
GREEDY = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}


def model_provenance(labeller: object, model: Any, model_id: str, revision: str | None) -> dict[str, Any]:
    """The loaded model's part of a labeller's provenance: backend, class, model, revision, dtype
    and the generation setting that still shapes its output."""
    return {
        "backend": "transformers",
        "transformers_version": transformers.__version__,
        "class": type(labeller).__name__,
        "model": model_id,
        "revision": revision,
        "dtype": str(model.dtype).removeprefix("torch."),
        "repetition_penalty": getattr(model.generation_config, "repetition_penalty", None),
    }


__all__ = ["GREEDY", "load_checkpoint", "model_provenance"]
