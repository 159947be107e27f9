"""Generic output for anything else: the frames as arrays, or as image files with a JSON sidecar."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import write_atomic
from .clip import Clip, fit_size
from .target import Target

FORMATS = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png"}
SIDECAR = "frames.json"


@dataclass
class FrameBundle:
    """The chosen frames, ``uint8 (k, h, w, 3)`` RGB in time order, with their source indices and
    presentation times, and the record of the selection that chose them."""

    frames: np.ndarray
    indices: list[int]
    seconds: list[float]
    handoff: dict = field(default_factory=dict)

    def save(self, directory: str | os.PathLike, format: str = "jpeg", quality: int = 95) -> Path:
        """Write one image per frame and a JSON sidecar (``frames.json``); returns the sidecar path.

        File names carry the order, the source index and the time: ``00_f000210_8.753s.jpg``.
        """
        format = format.lower()
        if format not in FORMATS:
            raise ValueError(f"format must be one of {sorted(FORMATS)}, not {format!r}")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        width = max(2, len(str(len(self.frames) - 1)))
        files = []
        for i, (frame, index, seconds) in enumerate(zip(self.frames, self.indices, self.seconds)):
            name = f"{i:0{width}d}_f{index:06d}_{seconds:.3f}s{FORMATS[format]}"
            image = Image.fromarray(np.ascontiguousarray(frame), "RGB")
            if FORMATS[format] == ".jpg":
                image.save(directory / name, format="JPEG", quality=int(quality))
            else:
                image.save(directory / name, format="PNG")
            files.append({"file": name, "index": int(index), "seconds": round(float(seconds), 6)})
        sidecar = {
            **self.handoff,
            "format": "jpeg" if FORMATS[format] == ".jpg" else "png",
            "quality": int(quality) if FORMATS[format] == ".jpg" else None,
            "files": files,
        }
        return write_atomic(directory / SIDECAR, json.dumps(sidecar, indent=2))


def frame_bundle(clip: Clip, *, size: tuple[int, int] | None = None, max_side: int | None = None,
                 max_pixels: int | None = None) -> FrameBundle:
    """Decode the chosen frames once: at ``size=(w, h)``, or the display size bounded by
    ``max_side`` / ``max_pixels`` (aspect ratio kept, never upscaled)."""
    if size is None:
        size = fit_size(clip.info.width, clip.info.height, max_side, max_pixels)
    frames = clip.decode(size)
    record = {"target": "frames", **clip.record(), "frame_size": [int(frames.shape[2]), int(frames.shape[1])]}
    return FrameBundle(frames, clip.indices, clip.seconds, record)


def load_sidecar(path: str | os.PathLike) -> dict:
    """The sidecar of ``FrameBundle.save`` (a directory or the JSON file itself)."""
    path = Path(path)
    return json.loads((path / SIDECAR if path.is_dir() else path).read_text())


HANDOFF = Target("frames", frame_bundle)

__all__ = ["FORMATS", "HANDOFF", "SIDECAR", "FrameBundle", "frame_bundle", "load_sidecar"]
