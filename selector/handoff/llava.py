"""LLaVA-OneVision and LLaVA-Video through transformers (``LlavaOnevisionProcessor``).

LLaVA-Video was trained with a time instruction that states the frames' times in text
(LLaVA-NeXT, ``add_time_instruction``), and its prompt is ``<video>\\n{instruction}\\n{question}``:

    The video lasts for 30.00 seconds, and 8 frames are uniformly sampled from it. These frames
    are located at 0.00s,4.29s,....Please answer the following questions related to this video.

For a selection that is not uniform in time this module writes "are selected from it" instead of
"are uniformly sampled from it", with the frames' true times; everything else (two decimals,
commas without spaces, no space before "Please") is kept as in training. The model has no other
notion of time: frames are pooled per frame and followed by one newline token. The video
processor squashes every frame to a fixed size (384x384 by default); frames are decoded once at
that size by the decoder's scaler.
"""

from __future__ import annotations

from .clip import UNIFORM_TOLERANCE, Clip
from .inputs import HandoffInputs
from .prompt import render_prompt
from .target import Target

TIME_INSTRUCTION = (
    "The video lasts for {duration:.2f} seconds, and {n} frames are {how} from it. "
    "These frames are located at {times}.Please answer the following questions related to this video."
)


def llava_time_instruction(seconds: list[float], duration: float, uniform: bool) -> str:
    """LLaVA-Video's time instruction, with "selected" instead of "uniformly sampled" when the
    frames are not evenly spaced."""
    return TIME_INSTRUCTION.format(
        duration=duration,
        n=len(seconds),
        how="uniformly sampled" if uniform else "selected",
        times=",".join(f"{t:.2f}s" for t in seconds),
    )


def llava_frame_size(video_processor, width: int, height: int) -> tuple[int, int] | None:
    """``(w, h)`` the video processor resizes every frame to, or ``None`` when that depends on
    more than the size setting (the processor then resizes the display-size frames itself)."""
    size = video_processor.size
    get = size.get if isinstance(size, dict) else (lambda key: getattr(size, key, None))
    if not getattr(video_processor, "do_resize", True):
        return width, height
    if get("height") and get("width"):
        return int(get("width")), int(get("height"))
    return None


def llava_inputs(
    clip: Clip,
    processor,
    *,
    time_instruction: bool = True,
    uniform_tolerance: float = UNIFORM_TOLERANCE,
    max_frames: int | None = None,
    system: str | None = None,
    question: str | None = None,
    return_tensors: str = "pt",
) -> HandoffInputs:
    """Messages and processor inputs for LLaVA-OneVision / LLaVA-Video: one video of the k
    selected frames, and the time instruction rewritten for the selection."""
    if max_frames is not None and clip.k > max_frames:
        raise ValueError(f"k={clip.k} frames exceed max_frames={max_frames}; select fewer frames")
    info = clip.info
    uniform = clip.uniform(uniform_tolerance)
    question = clip.question if question is None else question
    text = question
    instruction = None
    if time_instruction:
        instruction = llava_time_instruction(clip.seconds, info.duration, uniform)
        text = f"{instruction}\n{question}"
    size = llava_frame_size(processor.video_processor, info.width, info.height)
    frames = clip.decode(size)
    messages = ([{"role": "system", "content": [{"type": "text", "text": system}]}] if system else []) + [
        {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": text}]}
    ]
    placeholders = {"image": processor.image_token, "video": processor.video_token}
    prompt = render_prompt(processor, messages, placeholders, layout="media_first")
    out = processor(text=[prompt], videos=[frames], return_tensors=return_tensors, do_sample_frames=False)
    record = {
        "target": "llava_onevision",
        "mode": "video",
        "uniform": uniform,
        **clip.record(),
        "frame_size": [int(frames.shape[2]), int(frames.shape[1])],
        "time_instruction": instruction,
        "prompt_times": [f"{t:.2f}" for t in clip.seconds],
    }
    if getattr(processor, "num_image_tokens", None):
        from math import ceil, isqrt

        side = ceil(isqrt(processor.num_image_tokens) / 2)
        record["visual_tokens"] = clip.k * side * side + 1
    return HandoffInputs(out, handoff=record, messages=messages, prompt=prompt)


HANDOFF = Target("llava_onevision", llava_inputs, processor="LlavaOnevisionProcessor")

__all__ = ["HANDOFF", "TIME_INSTRUCTION", "llava_frame_size", "llava_inputs", "llava_time_instruction"]
