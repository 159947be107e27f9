"""The lmms-eval plug-in models: one per hand-off target that names lmms-eval's stock chat wrapper
for its model (`selector.handoff.Target.lmms_eval`). Their ids and class paths are read here
without lmms-eval, for the entry point (`eval.lmms.manifests`); `eval.lmms.models` builds the
classes. A new plug-in is a line in the hand-off module of its model, nothing here.
"""

from __future__ import annotations

from selector.handoff import HANDOFFS, Target

# lmms-eval model id (`--model`) -> the hand-off target it answers through.
PLUGINS: dict[str, Target] = {f"frame_selector_{t.name}": t for t in HANDOFFS.values() if t.lmms_eval is not None}


def class_name(target: Target) -> str:
    """The plug-in class of a target in `eval.lmms.models`: ``FrameSelector`` and the stock
    wrapper's class name (``FrameSelectorQwen2_5_VL``)."""
    return "FrameSelector" + str(target.lmms_eval).rpartition(".")[2]


# model id -> class in eval.lmms.models (imported by lmms-eval only when the model is asked for)
MODELS = {model_id: f"eval.lmms.models.{class_name(target)}" for model_id, target in PLUGINS.items()}

__all__ = ["MODELS", "PLUGINS", "class_name"]
