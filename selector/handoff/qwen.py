"""Qwen2-VL, Qwen2.5-VL and Qwen3-VL through transformers: messages and processor inputs.

How each model is told when a frame was shown, and what this module does about it:

* **Qwen3-VL** (also Qwen3.5, whose processor is ``Qwen3VLProcessor``) writes a text timestamp
  before every *temporal patch*: ``<t seconds><|vision_start|>...<|vision_end|>``. The vision
  encoder merges ``temporal_patch_size = 2`` consecutive frames into one patch, so k frames give
  ceil(k / 2) timestamps, and the processor prints, with one decimal, the mean of the first and
  last frame time of each pair, where a frame's time is ``frames_indices[i] / fps`` from the
  ``VideoMetadata`` (an odd last frame is paired with itself). This module passes the true source
  indices and the stream's fps (``clock="source"``), so the printed times are the true times; on
  variable-frame-rate video, or a stream that starts late, ``index / fps`` is wrong, and the
  metadata then carries a 1 kHz clock whose "indices" are the presentation times in milliseconds
  (``clock="pts"``; ``"auto"`` picks). With ``mode="repeat"`` every frame is sent twice, so each
  temporal patch is one frame and each timestamp is that frame's own time (and no patch blends two
  distant moments); the frames are then downscaled so the visual tokens stay within the budget of
  the plain video. Without metadata the processor would assume 24 fps and indices 0..k-1.
* **Qwen2.5-VL** puts time into M-RoPE with one scalar per video, ``second_per_grid_ts``
  (= temporal_patch_size / sampled fps): it assumes evenly spaced frames. A selection that is
  uniform in time (every gap within ``uniform_tolerance`` of the mean gap) goes the native video
  path with true ``VideoMetadata``, and ``second_per_grid_ts`` is set to temporal_patch_size x the
  true gap (the processor's value, from the metadata's average sampled fps, is right only when
  the frames span the whole video); a text line gives the absolute start, gap and duration, which
  the relative M-RoPE time does not carry. A non-uniform selection goes as separate images, each
  after its time in the text (``Frame at 12.3 s: <image>``), never as a video.
* **Qwen2-VL** has no time in its position encoding (one position step per temporal patch), so
  it is handled like Qwen2.5-VL: time only as text.

Pixel budget (pitfall 5): the visual budget is what the model's own video path would spend on
these k frames, from the video processor's settings (``size``, ``cap_pixels_per_frame``,
``max_video_tokens``, ``max_frames``) unless a ``PixelBudget`` overrides them. The video path
decodes frames at exactly the size the processor would choose; frames sent as images (or
repeated) are decoded smaller, so that their visual tokens do not exceed the video path's. Frames
are decoded once, by the decoder's scaler, at the final size, and the processor is pinned to that
size (it resizes nothing).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import partial

import torch
from transformers.models.qwen2_vl.video_processing_qwen2_vl import smart_resize as _frame_resize
from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor
from transformers.models.qwen3_vl.video_processing_qwen3_vl import smart_resize as _clip_resize
from transformers.video_utils import VideoMetadata

from .clip import UNIFORM_TOLERANCE, Clip, fmt_seconds, frame_clock, time_decimals
from .inputs import HandoffInputs
from .prompt import render_prompt
from .target import Target, detect

MODES = ("auto", "video", "images", "repeat")
_QWEN_PLACEHOLDERS = {
    "image": "<|vision_start|><|image_pad|><|vision_end|>",
    "video": "<|vision_start|><|video_pad|><|vision_end|>",
}


@dataclass(frozen=True)
class PixelBudget:
    """Overrides of the visual budget, in qwen-vl-utils' terms; ``None`` keeps the processor's.

    Attributes:
        min_pixels: lower bound of a frame's pixels.
        max_pixels: upper bound of a frame's pixels.
        total_pixels: bound on the whole video: each frame gets at most
            ``total_pixels * temporal_patch_size / k`` pixels (qwen-vl-utils' ``total_pixels``;
            ``total_pixels / (patch * merge)**2`` is the visual token budget).
        max_frames: the most frames the model takes; a larger k is an error, never a silent cut.
    """

    min_pixels: int | None = None
    max_pixels: int | None = None
    total_pixels: int | None = None
    max_frames: int | None = None

    @classmethod
    def of(cls, budget: PixelBudget | dict | None) -> PixelBudget:
        if budget is None:
            return cls()
        return budget if isinstance(budget, cls) else cls(**budget)


def qwen_target(processor) -> str | None:
    """``"qwen3_vl"``, ``"qwen2_5_vl"`` or ``"qwen2_vl"`` for those processors, else ``None``."""
    found = detect(processor, HANDOFF)
    return found.name if found is not None else None


def _edges(part) -> tuple[int, int]:
    size = part.size
    get = size.get if isinstance(size, dict) else (lambda key: getattr(size, key, None))
    return int(get("shortest_edge")), int(get("longest_edge"))


def video_plan(video_processor, k: int, width: int, height: int, budget: PixelBudget | None = None) -> dict:
    """The size at which the video processor would encode these k frames of a ``width x height``
    video, and the visual tokens that costs: the budget every other route must stay within.

    Mirrors ``Qwen2VLVideoProcessor.resize`` (per-frame bounds, optional cap on the whole video)
    and ``Qwen3VLVideoProcessor.resize`` (bounds on the sum over frames, optional per-frame cap).
    """
    budget = PixelBudget.of(budget)
    vp = video_processor
    f = vp.patch_size * vp.merge_size
    tp = vp.temporal_patch_size
    shortest, longest = _edges(vp)
    cap = bool(getattr(vp, "cap_pixels_per_frame", None))
    max_video_tokens = getattr(vp, "max_video_tokens", None)
    max_frames = budget.max_frames or getattr(vp, "max_frames", None)
    if max_frames and k > max_frames:
        raise ValueError(f"k={k} frames exceed the model's max_frames={max_frames}; select fewer frames")
    if isinstance(vp, Qwen3VLVideoProcessor):
        n = max(k, tp)
        total = budget.total_pixels * tp if budget.total_pixels else longest
        frame_cap = budget.max_pixels or (max_video_tokens * f * f if cap and max_video_tokens else None)
        min_total = budget.min_pixels * n if budget.min_pixels else shortest
        max_total = total
        if frame_cap:
            max_total = max(min(frame_cap, total // n), int((budget.min_pixels or shortest) * 1.05)) * n
        h, w = _clip_resize(n, height, width, temporal_factor=tp, factor=f, min_pixels=min_total, max_pixels=max_total)
        resolved = {"min_pixels": math.ceil(min_total / n), "max_pixels": max_total // n, "total_pixels": max_total // tp}
    else:
        lo = budget.min_pixels or shortest
        hi = budget.max_pixels or longest
        total = budget.total_pixels or (int(max_video_tokens * f * f * 0.9) if cap and max_video_tokens else None)
        if total:
            hi = max(min(hi, total * tp // k), int(lo * 1.05))
        h, w = _frame_resize(height, width, factor=f, min_pixels=lo, max_pixels=hi)
        resolved = {"min_pixels": lo, "max_pixels": hi, "total_pixels": total}
    tokens = math.ceil(k / tp) * (h // f) * (w // f)
    return {"frame_size": [w, h], "tokens": tokens, "factor": f, "budget": {**resolved, "max_frames": max_frames}}


def frame_size_within(width: int, height: int, factor: int, max_tokens: int,
                      max_pixels: int | None = None) -> tuple[int, int]:
    """``(w, h)``, multiples of ``factor``, at most ``max_tokens`` merged patches (and
    ``max_pixels``), trading tokens against aspect-ratio error (score: tokens x exp(-2 |log
    error|)). The processor's ``smart_resize`` floors both sides and can waste half the budget
    or distort 16:9 to 3:1 at small sizes."""
    cap = max(1, max_tokens)
    if max_pixels:
        cap = max(1, min(cap, max_pixels // (factor * factor)))
    aspect = width / height
    best = (-1.0, 1, 1)
    for gh in range(1, cap + 1):
        gw = min(cap // gh, max(1, round(gh * aspect)))
        score = gh * gw * math.exp(-2 * abs(math.log(gw / gh / aspect)))
        if score > best[0]:
            best = (score, gw, gh)
    return best[1] * factor, best[2] * factor


def qwen3_prompt_times(frames_indices: list[int], fps: float, temporal_patch_size: int = 2) -> list[float]:
    """The times Qwen3VLProcessor prints: per temporal patch, the mean of its first and last
    frame's ``index / fps`` (an incomplete last patch is padded with the last frame)."""
    idx = list(frames_indices)
    while len(idx) % temporal_patch_size:
        idx.append(idx[-1])
    t = [i / fps for i in idx]
    return [(t[i] + t[i + temporal_patch_size - 1]) / 2 for i in range(0, len(t), temporal_patch_size)]


def _patch_means(values: list[float], tp: int) -> list[float]:
    """Per temporal patch, the mean of its first and last value (the last one padded)."""
    return [(values[i] + values[min(i + tp - 1, len(values) - 1)]) / 2 for i in range(0, len(values), tp)]


_TIME_RE = re.compile(r"<(\d+(?:\.\d+)?) seconds>")


def printed_times(text: str) -> list[float]:
    """The ``<t seconds>`` timestamps in a decoded Qwen3-VL prompt."""
    return [float(m) for m in _TIME_RE.findall(text)]


def _text(text: str) -> dict:
    return {"type": "text", "text": text}


def qwen_inputs(
    clip: Clip,
    processor,
    *,
    target: str | None = None,
    mode: str = "auto",
    budget: PixelBudget | dict | None = None,
    clock: str = "auto",
    uniform_tolerance: float = UNIFORM_TOLERANCE,
    header: bool | None = None,
    system: str | None = None,
    question: str | None = None,
    return_tensors: str = "pt",
) -> HandoffInputs:
    """Messages and processor inputs for a Qwen2-VL / Qwen2.5-VL / Qwen3-VL processor.

    ``mode``: ``"auto"`` (Qwen3-VL: ``"video"``, or ``"repeat"`` for one frame; Qwen2/2.5-VL:
    ``"video"`` when the selection is uniform in time, else ``"images"``), ``"video"``,
    ``"images"`` (each frame an image after ``Frame at t s:``), ``"repeat"`` (Qwen3-VL only:
    every frame twice, so every timestamp is one frame's). ``"video"`` on a non-uniform selection
    is refused for Qwen2/2.5-VL. See the module docstring for the time handling.

    ``budget`` overrides the video processor's pixel budget; ``clock`` picks the metadata clock
    (``"auto"``, ``"source"``, ``"pts"``; Qwen3-VL only, the others get the source clock);
    ``header`` (default: on, except for Qwen3-VL's video path, whose prompt already has the
    times) adds a line with the duration, and for Qwen2/2.5-VL video the start, end and spacing;
    ``question`` replaces the selection's question in the prompt (e.g. with answer options).
    """
    target = target or qwen_target(processor)
    if target not in TARGETS:
        raise TypeError(f"not a Qwen2/2.5/3-VL processor: {type(processor).__name__}; pass target= one of {TARGETS}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    budget = PixelBudget.of(budget)
    vp, ip = processor.video_processor, processor.image_processor
    tp = vp.temporal_patch_size
    k, info = clip.k, clip.info
    uniform = clip.uniform(uniform_tolerance)
    if mode == "auto":
        if target == "qwen3_vl":
            mode = "video" if k >= tp else "repeat"
        else:
            mode = "video" if uniform and k >= 2 else "images"
    if mode == "video" and target != "qwen3_vl" and not uniform:
        raise ValueError(
            f"{target} encodes a video's time with one scalar (second_per_grid_ts), which mis-times a selection "
            "that is not uniform in time; use mode='images' (the default for such selections)"
        )
    if mode == "repeat" and target != "qwen3_vl":
        raise ValueError("mode='repeat' is for Qwen3-VL, whose timestamps come from the video metadata")
    if mode == "video" and k < tp:
        raise ValueError(f"the video path needs at least {tp} frames; use mode='images' or 'repeat'")

    plan = video_plan(vp, k, info.width, info.height, budget)
    factor = plan["factor"]
    decimals = time_decimals(clip.seconds)
    duration = fmt_seconds(info.duration, 1)
    question = clip.question if question is None else question
    record = {"target": target, "mode": mode, "uniform": uniform, **clip.record()}
    record["budget"] = {**plan["budget"], "video_frame_size": plan["frame_size"], "video_tokens": plan["tokens"]}
    videos_kwargs: dict = {"do_sample_frames": False}
    if hasattr(vp, "cap_pixels_per_frame"):
        videos_kwargs["cap_pixels_per_frame"] = False  # the size below already applies the budget
    call: dict = {}
    content: list[dict] = []

    if mode == "images":
        ip_factor = ip.patch_size * ip.merge_size
        w, h = frame_size_within(info.width, info.height, ip_factor, plan["tokens"] // k, _edges(ip)[1])
        frames = clip.decode((w, h))
        times = [fmt_seconds(t, decimals) for t in clip.seconds]
        head = f"{k} frames selected from a {duration}-second video, in time order, each labelled with its time.\n"
        content.append(_text((head if header is not False else "") + f"Frame at {times[0]} s: "))
        for i in range(k):
            content.append({"type": "image"})
            content.append(_text(f"\nFrame at {times[i + 1]} s: " if i + 1 < k else "\n" + question))
        call = {"images": list(frames), "images_kwargs": {"size": {"shortest_edge": w * h, "longest_edge": w * h}}}
        record.update(frame_size=[w, h], prompt_times=times, visual_tokens=k * (h // ip_factor) * (w // ip_factor))
    else:
        n = k if mode == "video" else 2 * k
        if mode == "video":
            w, h = plan["frame_size"]
        else:
            w, h = frame_size_within(info.width, info.height, factor, plan["tokens"] // k)
        frames = clip.decode((w, h))
        if mode == "repeat":
            frames = frames.repeat(2, axis=0)
        metadata_clock = frame_clock(clip, clock if target == "qwen3_vl" else "source")
        frames_indices = [i for i in metadata_clock["frames_indices"] for _ in range(n // k)]
        metadata = VideoMetadata(
            total_num_frames=metadata_clock["total_num_frames"],
            fps=metadata_clock["fps"],
            width=info.width,
            height=info.height,
            duration=info.duration,
            frames_indices=list(frames_indices),
            video_backend="pyav",
        )
        if isinstance(vp, Qwen3VLVideoProcessor):
            pixels = round(n / tp) * tp * h * w  # the processor bounds the sum over (rounded) frames
        else:
            pixels = h * w
        videos_kwargs["size"] = {"shortest_edge": pixels, "longest_edge": pixels}
        call = {"videos": [frames], "video_metadata": [metadata]}
        record.update(
            frame_size=[w, h],
            visual_tokens=math.ceil(n / tp) * (h // factor) * (w // factor),
            video_metadata={**metadata_clock, "frames_indices": frames_indices},
        )
        if target == "qwen3_vl":
            printed = qwen3_prompt_times(frames_indices, metadata_clock["fps"], tp)
            true_seconds = [s for s in clip.seconds for _ in range(n // k)]
            record["prompt_times"] = [fmt_seconds(t, 1) for t in printed]
            record["patch_true_times"] = [round(t, 6) for t in _patch_means(true_seconds, tp)]
            if header:
                content.append(_text(f"{k} frames selected from a {duration}-second video.\n"))
            content += [{"type": "video"}, _text(question)]
        else:
            gap = (clip.seconds[-1] - clip.seconds[0]) / (k - 1)
            times = [fmt_seconds(clip.seconds[0], decimals), fmt_seconds(clip.seconds[-1], decimals)]
            if header is not False:
                content.append(
                    _text(
                        f"The video lasts {duration} seconds. These {k} frames are evenly spaced from {times[0]} s "
                        f"to {times[1]} s, one every {fmt_seconds(gap, max(decimals, 2))} s.\n"
                    )
                )
            content += [{"type": "video"}, _text(question)]
            record["prompt_times"] = times
            record["seconds_per_frame"] = round(gap, 6)
    record["substituted"] = clip.substituted  # the record above was made before decoding

    messages = ([{"role": "system", "content": [_text(system)]}] if system else []) + [{"role": "user", "content": content}]
    prompt = render_prompt(processor, messages, _QWEN_PLACEHOLDERS, layout="inline")
    if "videos" in call:
        call["videos_kwargs"] = videos_kwargs
    out = processor(text=[prompt], return_tensors=return_tensors, **call)
    if target == "qwen2_5_vl" and mode == "video":
        # One scalar per video: the true spacing of these (uniform) frames, not the average
        # sampled fps over the whole video that the processor derives from the metadata.
        given = out["second_per_grid_ts"]
        record["processor_second_per_grid_ts"] = [round(float(x), 6) for x in given]
        value = tp * record["seconds_per_frame"]
        out["second_per_grid_ts"] = torch.tensor([value], dtype=torch.float32) if torch.is_tensor(given) else [value]
        record["second_per_grid_ts"] = round(value, 6)
    return HandoffInputs(out, handoff=record, messages=messages, prompt=prompt)


HANDOFF = (
    Target("qwen2_vl", partial(qwen_inputs, target="qwen2_vl"), processor="Qwen2VLProcessor"),
    Target("qwen2_5_vl", partial(qwen_inputs, target="qwen2_5_vl"), processor="Qwen2_5_VLProcessor",
           lmms_eval="lmms_eval.models.chat.qwen2_5_vl.Qwen2_5_VL"),
    # Qwen3.5 too, whose processor is Qwen3VLProcessor. Its lmms-eval wrapper adds its own system prompt.
    Target("qwen3_vl", partial(qwen_inputs, target="qwen3_vl"), processor="Qwen3VLProcessor",
           lmms_eval="lmms_eval.models.chat.qwen3_vl.Qwen3_VL", lmms_system_prompt=True),
)
TARGETS = tuple(target.name for target in HANDOFF)

__all__ = [
    "HANDOFF",
    "MODES",
    "TARGETS",
    "PixelBudget",
    "frame_size_within",
    "printed_times",
    "qwen3_prompt_times",
    "qwen_inputs",
    "qwen_target",
    "video_plan",
]
