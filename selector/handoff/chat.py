"""OpenAI-compatible chat servers (vLLM, SGLang, hosted APIs): request messages.

Two routes:

* ``openai_request``: any server that takes images. One user message: an optional header, then
  for every frame ``Frame at 12.3 s:`` and the frame as a ``data:image/jpeg;base64,...``
  ``image_url`` part, then the question. The times are the frames' true presentation times; the
  model needs nothing else to know when each frame was shown. This is the route for Qwen2/2.5-VL
  on vLLM too (their video path would assume evenly spaced frames).
* ``vllm_video_request``: the newer vLLM route for pre-selected frames: all frames as one
  ``video_url`` ``data:video/jpeg;base64,<f1>,<f2>,...`` and, in ``extra_body``, the source clock
  ``{"media_io_kwargs": {"video": {"fps", "frames_indices", "total_num_frames", "duration",
  "num_frames"}}}`` (vLLM's ``VideoMediaIO`` reads these for ``video/jpeg`` data; older servers
  ignore them and assume 2 fps and indices 0..k-1). Qwen3-VL served this way prints
  ``<t seconds>`` from ``frames_indices / fps``, so the clock is the same as in
  ``qwen_inputs`` (true indices and fps, or a 1 kHz presentation-time clock on VFR video).
  ``num_frames`` is k, since vLLM keeps only the first 32 frames of such a video by default.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from .clip import Clip, fit_size, fmt_seconds, frame_clock, time_decimals
from .inputs import ChatRequest
from .target import Target


def jpeg_base64(frame: np.ndarray, quality: int = 90) -> str:
    """An RGB ``uint8 (H, W, 3)`` frame as base64 JPEG (no data-URL prefix)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame), "RGB").save(buffer, format="JPEG", quality=int(quality))
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _decode(clip: Clip, max_side: int | None, max_pixels: int | None) -> np.ndarray:
    return clip.decode(fit_size(clip.info.width, clip.info.height, max_side, max_pixels))


def _messages(system: str | None, content: list[dict]) -> list[dict]:
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]


def openai_request(
    clip: Clip,
    *,
    question: str | None = None,
    max_side: int | None = 768,
    max_pixels: int | None = None,
    jpeg_quality: int = 90,
    detail: str | None = None,
    header: bool = True,
    system: str | None = None,
) -> ChatRequest:
    """Frames as images, each after its true time, for any OpenAI-compatible chat server.

    ``max_side`` / ``max_pixels`` bound the decoded frame size (aspect ratio kept, never upscaled);
    ``detail`` (``"low"``, ``"high"``, ``"auto"``) is passed on for OpenAI's hosted models.
    """
    frames = _decode(clip, max_side, max_pixels)
    decimals = time_decimals(clip.seconds)
    times = [fmt_seconds(t, decimals) for t in clip.seconds]
    content: list[dict] = []
    if header:
        duration = fmt_seconds(clip.info.duration, 1)
        text = f"{clip.k} frames selected from a {duration}-second video, in time order, each labelled with its time."
        content.append({"type": "text", "text": text})
    for t, frame in zip(times, frames):
        image_url = {"url": "data:image/jpeg;base64," + jpeg_base64(frame, jpeg_quality)}
        if detail:
            image_url["detail"] = detail
        content.append({"type": "text", "text": f"Frame at {t} s:"})
        content.append({"type": "image_url", "image_url": image_url})
    content.append({"type": "text", "text": clip.question if question is None else question})
    record = {
        "target": "openai",
        "mode": "images",
        **clip.record(),
        "frame_size": [int(frames.shape[2]), int(frames.shape[1])],
        "jpeg_quality": int(jpeg_quality),
        "prompt_times": times,
    }
    return ChatRequest(_messages(system, content), None, record)


def vllm_video_request(
    clip: Clip,
    *,
    question: str | None = None,
    max_side: int | None = 768,
    max_pixels: int | None = None,
    jpeg_quality: int = 90,
    clock: str = "auto",
    system: str | None = None,
) -> ChatRequest:
    """Frames as one ``video/jpeg`` data URL plus their source clock in ``extra_body`` (newer vLLM)."""
    frames = _decode(clip, max_side, max_pixels)
    url = "data:video/jpeg;base64," + ",".join(jpeg_base64(f, jpeg_quality) for f in frames)
    source = frame_clock(clip, clock)
    video_kwargs = {
        "fps": source["fps"],
        "frames_indices": [int(i) for i in source["frames_indices"]],
        "total_num_frames": int(source["total_num_frames"]),
        "duration": float(source["duration"]),
        "num_frames": clip.k,
    }
    content = [
        {"type": "video_url", "video_url": {"url": url}},
        {"type": "text", "text": clip.question if question is None else question},
    ]
    record = {
        "target": "vllm_video",
        "mode": "video",
        **clip.record(),
        "frame_size": [int(frames.shape[2]), int(frames.shape[1])],
        "jpeg_quality": int(jpeg_quality),
        "video_metadata": source,
    }
    return ChatRequest(_messages(system, content), {"media_io_kwargs": {"video": video_kwargs}}, record)


HANDOFF = (Target("openai", openai_request), Target("vllm_video", vllm_video_request))

__all__ = ["HANDOFF", "jpeg_base64", "openai_request", "vllm_video_request"]
