"""Rendering the needle world's plans as real H.264 videos.

Every video is a busy, drifting background (a smooth colour field that pans like a hand-held
camera, per-pixel colour noise, grey distractor shapes that wander and bounce) with its planned
*needle* events: a saturated shape of one of four colours, or a white card that shows a colour as
a symbol (a disc) and as text (its name). The files are the same bytes on every machine, and are
read back through the same decoder as any other video, so the timestamps the evaluation checks
are the container's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from tqdm.auto import tqdm

from selector.atomic import atomic_path

from .planning import COLOURS, SHAPES, VideoPlan, WorldSettings

def _mask(shape: str, side: int) -> np.ndarray:
    """Boolean (side, side) mask of a shape filling its box."""
    img = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(img)
    m = side - 1
    if shape == "circle":
        draw.ellipse([0, 0, m, m], fill=255)
    elif shape == "square":
        draw.rectangle([side * 0.08, side * 0.08, m - side * 0.08, m - side * 0.08], fill=255)
    elif shape == "triangle":
        draw.polygon([(m / 2, 0), (m, m), (0, m)], fill=255)
    elif shape == "star":
        angles = np.linspace(-np.pi / 2, 1.5 * np.pi, 11)[:-1]
        radii = np.where(np.arange(10) % 2 == 0, m / 2, m / 5)
        draw.polygon([(m / 2 + r * np.cos(a), m / 2 + r * np.sin(a)) for r, a in zip(radii, angles)], fill=255)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return np.asarray(img) > 127


def _card(colour: str, side: int) -> np.ndarray:
    """RGB card: a white tile with a disc of the colour and the colour's name under it."""
    img = Image.new("RGB", (side, side), (250, 250, 250))
    draw = ImageDraw.Draw(img)
    disc = side * 0.55
    draw.ellipse([(side - disc) / 2, side * 0.06, (side + disc) / 2, side * 0.06 + disc], fill=COLOURS[colour], outline=(0, 0, 0))
    font = ImageFont.load_default(size=max(8, side // 5))
    draw.text((side / 2, side * 0.8), colour.upper(), fill=(0, 0, 0), font=font, anchor="mm")
    return np.asarray(img)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth colour field twice the frame size, panned over by the camera drift."""
    coarse = rng.uniform(40, 200, size=(6, 6, 3)).astype(np.uint8)
    field_ = Image.fromarray(coarse).resize((2 * size, 2 * size), Image.BICUBIC)
    return np.asarray(field_).astype(np.float32) * 0.7  # muted, so needles stand out by saturation


def render_frames(plan: VideoPlan, settings: WorldSettings) -> np.ndarray:
    """(frames, size, size, 3) uint8: background, distractors, needles, noise."""
    rng = np.random.default_rng(plan.seed + 7_919)
    size = settings.size
    base = _background(rng, size)
    # Camera drift: a slow random walk of the crop window over the field.
    steps = rng.normal(0, 0.6, size=(plan.frames, 2)).cumsum(axis=0) + rng.uniform(0.5 * size - 8, 0.5 * size + 8, size=2)
    offsets = np.clip(np.round(steps), 0, size).astype(int)
    side_d = max(6, size // 7)
    distractors = [
        {
            "mask": _mask(SHAPES[int(rng.integers(len(SHAPES)))], side_d),
            "pos": rng.uniform(0, size - side_d, size=2),
            "vel": rng.normal(0, 1.5, size=2),
            "grey": float(rng.uniform(60, 190)),
        }
        for _ in range(settings.distractors)
    ]
    side_n = int(size * 0.42)
    sprites = []
    for needle in plan.needles:
        if needle.shape == "card":
            sprite, mask = _card(needle.colour, side_n).astype(np.float32), np.ones((side_n, side_n), bool)
        else:
            mask = _mask(needle.shape, side_n)
            sprite = np.broadcast_to(np.asarray(COLOURS[needle.colour], np.float32), (side_n, side_n, 3))
        top = int(round(needle.y * size - side_n / 2))
        left = int(round(needle.x * size - side_n / 2))
        sprites.append((needle, sprite, mask, np.clip(top, 0, size - side_n), np.clip(left, 0, size - side_n)))
    video = np.empty((plan.frames, size, size, 3), np.uint8)
    for t in range(plan.frames):
        oy, ox = offsets[t]
        frame = base[oy : oy + size, ox : ox + size].copy()
        for d in distractors:
            d["pos"] += d["vel"]
            for axis in (0, 1):
                if not 0 <= d["pos"][axis] <= size - side_d:
                    d["vel"][axis] *= -1
                    d["pos"][axis] = np.clip(d["pos"][axis], 0, size - side_d)
            y, x = np.round(d["pos"]).astype(int)
            frame[y : y + side_d, x : x + side_d][d["mask"]] = d["grey"]
        for needle, sprite, mask, top, left in sprites:
            if needle.first <= t <= needle.last:
                frame[top : top + side_n, left : left + side_n][mask] = sprite[mask]
        frame += rng.normal(0, settings.noise, size=frame.shape).astype(np.float32)
        video[t] = np.clip(frame, 0, 255).astype(np.uint8)
    return video


def rgb_to_yuv420p(image: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 RGB to the (3h/2, w) planar yuv420p array `av.VideoFrame` takes.

    BT.601 limited range in integer arithmetic, chroma from each 2x2 block's mean colour. Done
    here rather than by the encoder's colour conversion, whose SIMD code is picked per CPU: a
    world must be the same bytes on every machine, not only on the one that rendered it.
    """
    rgb = image.astype(np.int32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    h, w = image.shape[:2]
    block = (rgb.reshape(h // 2, 2, w // 2, 2, 3).sum(axis=(1, 3)) + 2) >> 2
    r, g, b = block[..., 0], block[..., 1], block[..., 2]
    u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128
    v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128
    planes = [y.ravel(), u.ravel(), v.ravel()]
    return np.clip(np.concatenate(planes), 0, 255).astype(np.uint8).reshape(h * 3 // 2, w)


def write_video(frames: np.ndarray, path: Path, fps: float) -> None:
    """H.264 in MP4, constant frame rate, written to a temporary name and renamed when complete.

    The encoder runs on one thread, so the file is a function of the frames alone, whatever the
    machine's core count or load (the world renders videos in parallel processes instead).
    """
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=int(fps) if float(fps).is_integer() else fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        stream.options = {"crf": "18", "preset": "veryfast", "threads": "1"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb_to_yuv420p(image), format="yuv420p")))
        container.mux(stream.encode())


def _render(args: tuple[VideoPlan, WorldSettings, str]) -> None:
    plan, settings, folder = args
    write_video(render_frames(plan, settings), Path(folder) / f"{plan.name}.mp4", plan.fps)


def render(plans: Sequence[VideoPlan], settings: WorldSettings, folder: Path, workers: int = 0, progress: bool = True) -> None:
    """Write every planned video that is not there yet (a re-run renders only what is missing)."""
    todo = [p for p in plans if not (folder / f"{p.name}.mp4").exists()]
    folder.mkdir(parents=True, exist_ok=True)
    workers = workers or min(len(todo), os.cpu_count() or 1)
    jobs = [(p, settings, str(folder)) for p in todo]
    bar = tqdm(total=len(todo), desc="rendering videos", disable=not progress or not todo)
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for _ in pool.map(_render, jobs):
                bar.update(1)
    else:
        for job in jobs:
            _render(job)
            bar.update(1)
    bar.close()


__all__ = ["render_frames", "render", "rgb_to_yuv420p", "write_video"]
