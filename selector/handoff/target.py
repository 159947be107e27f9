"""What a downstream model is to the hand-off: one `Target`, defined as `HANDOFF` in the module that
builds its inputs and collected by `registry`.

A target is either a model family reached through its transformers processor (detected from the
processor's class) or a route asked for by name (an OpenAI-compatible server, plain frames). A
model family also says how lmms-eval runs it, so `eval.lmms` builds its plug-in model from this
object and names no model itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    """One way to hand a selection to a downstream model.

    Attributes:
        name: the target's name (``"qwen2_5_vl"``, ``"openai"``): ``to_inputs(target=...)``, a
            route of ``prepare_inputs`` / ``hand_off``, and the ``target`` of the hand-off record.
        build: ``(clip, processor, **options)`` for a model family, ``(clip, **options)`` for a
            route; returns what the model takes (``HandoffInputs``, ``ChatRequest``,
            ``FrameBundle``), its hand-off record included.
        processor: the transformers processor class (its name in ``transformers``) that
            identifies the model family, subclasses included; None for a route.
        lmms_eval: the dotted path of lmms-eval's stock chat wrapper for this family; the plug-in
            model ``frame_selector_<name>`` (`eval.lmms.models`) subclasses it. None: no plug-in.
        lmms_system_prompt: that wrapper writes its own ``system_prompt`` into the messages, so
            the plug-in passes it on with the selected frames.
    """

    name: str
    build: Callable[..., Any]
    processor: str | None = None
    lmms_eval: str | None = None
    lmms_system_prompt: bool = False

    def distance(self, processor: Any) -> int | None:
        """How far up the processor's class hierarchy this target's processor class is (0: its
        very class), or None when the processor is not one of its kind."""
        if self.processor is None:
            return None
        import transformers  # a lazy module: only the named class is loaded

        mro = type(processor).__mro__
        cls = getattr(transformers, self.processor)
        return mro.index(cls) if cls in mro else None


def detect(processor: Any, targets: Iterable[Target]) -> Target | None:
    """The target of a processor: the one whose processor class is nearest in its class
    hierarchy, so a subclass registered on its own wins over its parent."""
    found = [(d, t) for t in targets if (d := t.distance(processor)) is not None]
    return min(found, key=lambda pair: pair[0])[1] if found else None


__all__ = ["Target", "detect"]
