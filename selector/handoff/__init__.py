"""Hand-off: turn a `Selection` into exactly what a frozen downstream model needs, with true times.

Targets:

* transformers processors: ``Qwen2VLProcessor``, ``Qwen2_5_VLProcessor``, ``Qwen3VLProcessor``
  (also Qwen3.5) and ``LlavaOnevisionProcessor`` (LLaVA-OneVision, LLaVA-Video): ``to_inputs``
  returns a ``HandoffInputs`` (a ``BatchFeature``) for ``model.generate(**inputs)``;
* OpenAI-compatible chat servers: ``openai_messages`` (images, each after its time) and
  ``vllm_video_messages`` (one ``video/jpeg`` data URL and the source clock, newer vLLM);
* anything else: ``frames_for`` (arrays with indices and seconds) and ``export_frames`` (image
  files and a JSON sidecar).

Each target is one module of this package defining ``HANDOFF`` (a ``Target``: how to know the
model from its processor, how to build its inputs, how lmms-eval runs it); ``registry.HANDOFFS``
collects them, and ``to_inputs``, ``hand_off``, ``eval``, the lmms-eval plug-in and ``serve`` all
read that table. A new downstream model is one such module plus its test.

Every result carries a JSON-ready ``handoff`` record: the selection's settings (k, rule, delta,
candidate plan, model), indices, seconds, scores, the source clock, the mode, frame size, visual
tokens and the times written into the prompt, to be stored next to each output (pitfall 6).
Frames are decoded once, with ``selector.read_frames``, at the size the target needs.

The one-line change in existing transformers code::

    from selector import FrameSelector
    from selector.handoff import prepare_inputs

    selector = FrameSelector.from_pretrained("path/to/selector")
    processor = AutoProcessor.from_pretrained("Qwen/Qwen2.5-VL-7B-Instruct")
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained("Qwen/Qwen2.5-VL-7B-Instruct")

    # before: the processor samples frames uniformly
    # inputs = processor.apply_chat_template(
    #     [{"role": "user", "content": [{"type": "video", "video": "video.mp4"}, {"type": "text", "text": question}]}],
    #     tokenize=True, add_generation_prompt=True, return_dict=True, return_tensors="pt")
    # after: the selector's 8 frames, with their true times
    inputs = prepare_inputs(selector, "video.mp4", question, processor, k=8)

    out = model.generate(**inputs.to(model.device), max_new_tokens=128)
    record = inputs.handoff          # store next to the answer
"""

from __future__ import annotations

import os
from pathlib import Path

from ..api import FrameSelector, Selection
from ..candidates import CandidatePlan
from ..video import VideoInfo, probe
from .chat import jpeg_base64, openai_request, vllm_video_request
from .clip import Clip, clip_of, frame_clock, is_uniform
from .files import FrameBundle, frame_bundle, load_sidecar
from .inputs import ChatRequest, HandoffInputs
from .llava import llava_time_instruction
from .qwen import PixelBudget, printed_times, qwen3_prompt_times, video_plan
from .registry import HANDOFFS, ROUTES, TARGETS, target_of
from .target import Target, detect


def to_inputs(selection: Selection, processor, *, info: VideoInfo | None = None, target: str | None = None,
              **kwargs) -> HandoffInputs:
    """Processor inputs (``model.generate(**inputs)``) for a selection, by the processor's class.

    Args:
        selection: from ``FrameSelector.select`` or built by hand (true indices and seconds).
        processor: the processor of a target in ``TARGETS``: ``Qwen2VLProcessor``,
            ``Qwen2_5_VLProcessor``, ``Qwen3VLProcessor`` or ``LlavaOnevisionProcessor``
            (subclasses too).
        info: the video's ``probe`` result, to skip probing again.
        target: force a target of ``TARGETS`` (``"qwen2_vl"``, ``"qwen2_5_vl"``, ``"qwen3_vl"``,
            ``"llava_onevision"``) for a processor of another class that works the same way.
        **kwargs: for Qwen: ``mode``, ``budget`` (``PixelBudget`` or dict), ``clock``,
            ``uniform_tolerance``, ``header``, ``system``, ``question``, ``return_tensors``; for
            LLaVA: ``time_instruction``, ``uniform_tolerance``, ``max_frames``, ``system``,
            ``question``, ``return_tensors``.
    """
    found = HANDOFFS.get(target) if target else detect(processor, HANDOFFS.values())
    if found is None or found.processor is None:
        supported = ", ".join(t.processor for t in HANDOFFS.values() if t.processor is not None)
        raise TypeError(f"no hand-off for {type(processor).__name__}; supported: {supported} (or pass target=...)")
    return found.build(clip_of(selection, info), processor, **kwargs)


def hand_off(selection: Selection, to, *, info: VideoInfo | None = None,
             **kwargs) -> HandoffInputs | ChatRequest | FrameBundle:
    """What a downstream model takes for a selection: ``to`` is a transformers processor (as
    ``to_inputs``) or the name of a route in ``ROUTES`` (``"openai"`` and ``"vllm_video"``: a
    ``ChatRequest``; ``"frames"``: a ``FrameBundle``). ``kwargs`` go to the target's builder."""
    if not isinstance(to, str):
        return to_inputs(selection, to, info=info, **kwargs)
    route = HANDOFFS.get(to)
    if route is None or route.processor is not None:
        raise ValueError(f"processor must be a transformers processor or one of {ROUTES}, not {to!r}")
    return route.build(clip_of(selection, info), **kwargs)


def openai_messages(selection: Selection, *, info: VideoInfo | None = None, **kwargs) -> ChatRequest:
    """Chat messages for any OpenAI-compatible server: each frame as a JPEG ``image_url`` after
    ``Frame at t s:``. Options: ``question``, ``max_side`` (768), ``max_pixels``,
    ``jpeg_quality`` (90), ``detail``, ``header``, ``system``.

    ``client.chat.completions.create(model=..., **request.kwargs())``
    """
    return openai_request(clip_of(selection, info), **kwargs)


def vllm_video_messages(selection: Selection, *, info: VideoInfo | None = None, **kwargs) -> ChatRequest:
    """The newer vLLM route: one ``data:video/jpeg;base64,f1,f2,...`` ``video_url`` and
    ``extra_body={"media_io_kwargs": {"video": {fps, frames_indices, total_num_frames, duration,
    num_frames}}}``. Options: ``question``, ``max_side``, ``max_pixels``, ``jpeg_quality``,
    ``clock``, ``system``. For models that print times from the metadata (Qwen3-VL); Qwen2/2.5-VL
    take ``openai_messages``."""
    return vllm_video_request(clip_of(selection, info), **kwargs)


def frames_for(selection: Selection, *, info: VideoInfo | None = None, size: tuple[int, int] | None = None,
               max_side: int | None = None, max_pixels: int | None = None) -> FrameBundle:
    """The chosen frames as ``uint8 (k, h, w, 3)`` with their indices, seconds and record."""
    return frame_bundle(clip_of(selection, info), size=size, max_side=max_side, max_pixels=max_pixels)


def export_frames(selection: Selection, directory: str | os.PathLike, *, format: str = "jpeg", quality: int = 95,
                  info: VideoInfo | None = None, size: tuple[int, int] | None = None, max_side: int | None = None,
                  max_pixels: int | None = None) -> Path:
    """Write the chosen frames as JPEG/PNG files plus ``frames.json``; returns the sidecar path."""
    bundle = frames_for(selection, info=info, size=size, max_side=max_side, max_pixels=max_pixels)
    return bundle.save(directory, format=format, quality=quality)


def prepare_inputs(selector: FrameSelector, video: str | os.PathLike | VideoInfo, question: str, processor,
                   k: int = 8, *, candidates: CandidatePlan | int = 128, rule: str = "nms", delta: int | None = None,
                   **kwargs):
    """Select k frames for the question and return what the downstream model takes, in one call.

    ``processor`` is a transformers processor (returns ``HandoffInputs`` for
    ``model.generate(**inputs)``), or one of ``"openai"``, ``"vllm_video"`` (a ``ChatRequest``),
    ``"frames"`` (a ``FrameBundle``). ``kwargs`` go to ``hand_off``, so to ``to_inputs`` /
    ``openai_messages`` / ``vllm_video_messages`` / ``frames_for``. The video is probed once. See
    the module docstring for the one-line change in existing code.
    """
    info = video if isinstance(video, VideoInfo) else probe(video)
    selection = selector.select(info, question, k=k, candidates=candidates, rule=rule, delta=delta)
    return hand_off(selection, processor, info=info, **kwargs)


__all__ = [
    "HANDOFFS",
    "ROUTES",
    "TARGETS",
    "ChatRequest",
    "Clip",
    "FrameBundle",
    "HandoffInputs",
    "PixelBudget",
    "Target",
    "clip_of",
    "export_frames",
    "frame_clock",
    "frames_for",
    "hand_off",
    "is_uniform",
    "jpeg_base64",
    "llava_time_instruction",
    "load_sidecar",
    "openai_messages",
    "prepare_inputs",
    "printed_times",
    "qwen3_prompt_times",
    "target_of",
    "to_inputs",
    "video_plan",
    "vllm_video_messages",
]
