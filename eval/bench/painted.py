"""Generated test clips whose every frame carries its own index, so that a benchmark (or a test)
checks each decoded frame is the one asked for, at any output size."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from selector.atomic import atomic_path

BITS = 16  # frame index painted into the top row as 16 black/white blocks


def default_cache() -> Path:
    """Where generated clips are kept between runs: ~/.cache/frame-selector/bench (or under $XDG_CACHE_HOME)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "frame-selector" / "bench"


def _block(width: int, height: int) -> tuple[int, int]:
    return width // BITS, max(8, height // 15)


def painted_video(
    seconds: float,
    width: int = 1280,
    height: int = 720,
    fps: int = 30,
    options: dict[str, str] | None = None,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
    seed: int = 0,
    codec: str = "libx264",
) -> Path:
    """An mp4 clip (H.264 by PyAV's libx264, or another encoder: ``codec="libsvtav1"`` for AV1)
    whose frames carry their own index, cached by its parameters.

    A blocky random texture drifts sideways under a changing grain (so P and B frames carry
    motion and residuals, at a camera-like bitrate of a few Mbit/s) and the top row holds the frame index as 16 black/white
    blocks, which `painted_index` reads back from a decoded frame of any size. Generated once
    per parameter set (a tqdm bar shows progress); the same call later returns the cached file.
    Different seeds give different textures (distinct videos for caches keyed by content).
    """
    if not options:
        options = {"preset": "superfast", "g": "250", "bf": "2"} if codec == "libx264" else {}
    # H.264 clips keep the key they had before other codecs, so existing caches stay valid.
    key = json.dumps([float(seconds), width, height, fps, sorted(options.items()), seed, 2]
                     + ([] if codec == "libx264" else [codec]))
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    folder = Path(cache) if cache else default_cache()
    path = folder / f"painted_{width}x{height}_{fps}fps_{seconds:g}s_seed{seed}_{digest}.mp4"
    if path.is_file():
        return path
    import av
    from tqdm.auto import tqdm

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 16 + 1, 2 * width // 16 + 1, 3), dtype=np.uint8)
    base = np.repeat(np.repeat(coarse, 16, axis=0), 16, axis=1)[:height, : 2 * width]
    # Grain that changes every frame (cycled from a few patterns): a camera-like bitrate.
    grain = rng.integers(-6, 7, (7, height, width, 3), dtype=np.int16)
    block_w, block_h = _block(width, height)
    frames = int(round(seconds * fps))
    with atomic_path(path) as partial, av.open(str(partial), "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = dict(options)
        for i in tqdm(range(frames), desc=f"generating {path.name}", unit="frame", disable=not progress, mininterval=1.0):
            shift = (i * 4) % width
            img = np.clip(base[:, shift : shift + width] + grain[i % len(grain)], 0, 255).astype(np.uint8)
            for bit in range(BITS):
                img[:block_h, bit * block_w : (bit + 1) * block_w] = 255 if i >> bit & 1 else 0
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode())
    return path


def painted_index(img: np.ndarray, width: int, height: int) -> int:
    """The index `painted_video(width=..., height=...)` painted, read from a frame of any size."""
    h, w = img.shape[:2]
    block_w, block_h = _block(width, height)
    y = int(block_h / 2 / height * h)
    value = 0
    for bit in range(BITS):
        x = int((bit + 0.5) * block_w / width * w)
        if img[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].mean() > 128:
            value |= 1 << bit
    return value


__all__ = ["BITS", "default_cache", "painted_index", "painted_video"]
