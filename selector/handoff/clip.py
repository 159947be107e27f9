"""A selection joined to its video (`Clip`): what every hand-off builds on. Its frames' true times
and the clock a downstream model is told, one decode of the chosen frames, the record of what was
handed over, and the size frames are sent at.

A hand-off never re-derives a frame's time from ``index / fps``: the selection's ``seconds`` are
the container's presentation times, and every target is checked against them. Nor does it hand
over a stand-in silently: a chosen frame that does not decode is listed in the record's
``substituted``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..api import Selection, round_score
from ..video import VideoInfo, decode_frames, probe

# A selection counts as uniform in time when every gap is within this fraction of the mean gap
# (and never stricter than one source frame period).
UNIFORM_TOLERANCE = 0.1
# The "source" clock (true indices and average fps) is used for Qwen3-VL-style metadata when it
# reproduces every presentation time to within this many seconds; otherwise the "pts" clock.
CLOCK_TOLERANCE = 0.01


@dataclass(frozen=True)
class Clip:
    """A selection together with the probe of its video: the frames' true indices and times and
    what a downstream model's metadata needs about the source (fps, frame count, duration, size)."""

    selection: Selection
    info: VideoInfo

    @property
    def k(self) -> int:
        return len(self.selection.frames)

    @property
    def indices(self) -> list[int]:
        return [int(i) for i in self.selection.indices]

    @property
    def seconds(self) -> list[float]:
        return [float(s) for s in self.selection.seconds]

    @property
    def question(self) -> str:
        return self.selection.question

    @property
    def substituted(self) -> list[int]:
        """Chosen frames the file does not hold intact (the frame shown before each stands in),
        as the selection's ``notes["substituted"]`` knows them from its own decode or ``decode``."""
        known = set(self.selection.notes.get("substituted", ()))
        return [i for i in self.indices if i in known]

    def decode(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """The chosen frames, ``uint8 (k, h, w, 3)`` RGB, scaled by the decoder to ``size=(w, h)``.

        A frame that does not decode is replaced by the frame shown before it and added to the
        selection's ``notes["substituted"]``, so the selection and ``record`` say so.
        """
        decoded = decode_frames(self.info, self.indices, size=size)
        if decoded.substituted:
            notes = self.selection.notes
            notes["substituted"] = sorted({*notes.get("substituted", ()), *decoded.substituted})
        return decoded.frames

    def uniform(self, tolerance: float = UNIFORM_TOLERANCE) -> bool:
        return is_uniform(self.seconds, self.info.fps, tolerance)

    def record(self) -> dict:
        """Everything needed to reproduce and audit the hand-off (pitfall 6): the selection's
        settings, k, rule, indices, seconds, scores, the chosen frames that are stand-ins
        (``substituted``, known once decoded), and the source video's clock."""
        sel = self.selection
        return {
            "video": str(sel.video),
            "question": sel.question,
            "k": sel.k,
            "rule": sel.settings.get("rule"),
            "indices": self.indices,
            "seconds": [round(s, 6) for s in self.seconds],
            "candidates": [int(f.candidate) for f in sel.frames],
            "scores": [round_score(f.score) for f in sel.frames],
            "substituted": self.substituted,
            "fps": round(float(self.info.fps), 6),
            "duration": round(float(self.info.duration), 6),
            "total_num_frames": int(self.info.num_frames),
            "width": int(self.info.width),
            "height": int(self.info.height),
            "settings": dict(sel.settings),
        }


def clip_of(selection: Selection, info: VideoInfo | None = None) -> Clip:
    """Join a selection to its video's probe (probing the file unless ``info`` is given)."""
    if not selection.frames:
        raise ValueError("the selection has no frames")
    if info is None:
        info = probe(selection.video)
    elif os.path.realpath(info.path) != os.path.realpath(selection.video):
        raise ValueError(f"info is for {info.path}, the selection for {selection.video}")
    seconds = np.asarray(selection.seconds, dtype=float)
    if len(seconds) > 1 and np.any(np.diff(seconds) <= 0):
        raise ValueError("the selection's frames must be distinct and in time order")
    bad = [i for i in selection.indices if not 0 <= i < info.num_frames]
    if bad:
        raise ValueError(f"frame index {bad[0]} out of range for {info.path} ({info.num_frames} frames)")
    return Clip(selection, info)


def is_uniform(seconds: Sequence[float], fps: float, tolerance: float = UNIFORM_TOLERANCE) -> bool:
    """True when consecutive times are evenly spaced: every gap within ``tolerance`` times the mean
    gap of it, or within one source frame period. One or two frames are trivially uniform."""
    if len(seconds) < 3:
        return True
    gaps = np.diff(np.asarray(seconds, dtype=float))
    mean = float(gaps.mean())
    slack = max(tolerance * mean, 1.0 / fps if fps > 0 else 0.0) + 1e-9
    return bool(np.all(np.abs(gaps - mean) <= slack))


def time_decimals(seconds: Sequence[float]) -> int:
    """Decimals that keep the frames' printed times distinct: 1, or more for frames < 0.1 s apart."""
    if len(seconds) < 2:
        return 1
    gap = float(np.min(np.diff(np.asarray(seconds, dtype=float))))
    for decimals in (1, 2):
        if gap >= 10.0**-decimals:
            return decimals
    return 3


def fmt_seconds(t: float, decimals: int) -> str:
    return f"{t:.{decimals}f}"


def source_clock_error(clip: Clip) -> float:
    """Largest gap between ``index / fps`` and the true time over the chosen frames."""
    fps = clip.info.fps
    return float(max(abs(i / fps - s) for i, s in zip(clip.indices, clip.seconds)))


def frame_clock(clip: Clip, clock: str = "auto", tolerance: float = CLOCK_TOLERANCE) -> dict:
    """``fps``, ``frames_indices``, ``total_num_frames``, ``duration`` for consumers that print
    ``frames_indices[i] / fps`` as a frame's time (Qwen3-VL in transformers and vLLM).

    ``"source"``: the true source indices and the stream's average fps: right on constant-rate
    video that starts at 0. ``"pts"``: a 1 kHz clock whose "indices" are the presentation times in
    milliseconds, right on variable frame rate and on streams that start late. ``"auto"`` takes
    ``"source"`` when it reproduces every chosen frame's time within ``tolerance`` seconds.
    """
    if clock not in ("auto", "source", "pts"):
        raise ValueError(f"clock must be 'auto', 'source' or 'pts', not {clock!r}")
    error = source_clock_error(clip)
    if clock == "auto":
        clock = "source" if error <= tolerance else "pts"
    info = clip.info
    if clock == "source":
        return {
            "clock": "source",
            "fps": float(info.fps),
            "frames_indices": clip.indices,
            "total_num_frames": int(info.num_frames),
            "duration": float(info.duration),
            "source_clock_error": round(error, 6),
        }
    ms = [int(round(s * 1000)) for s in clip.seconds]
    return {
        "clock": "pts",
        "fps": 1000.0,
        "frames_indices": ms,
        "total_num_frames": max(int(math.ceil(info.duration * 1000)), ms[-1] + 1),
        "duration": float(info.duration),
        "source_clock_error": round(error, 6),
    }


def fit_size(width: int, height: int, max_side: int | None = None, max_pixels: int | None = None) -> tuple[int, int]:
    """``(w, h)`` no larger than the source, its longer side <= ``max_side`` and area <=
    ``max_pixels``, aspect ratio kept, even sides (what JPEG encoders and scalers like)."""
    scale = 1.0
    if max_side:
        scale = min(scale, max_side / max(width, height))
    if max_pixels:
        scale = min(scale, math.sqrt(max_pixels / (width * height)))
    if scale >= 1.0:
        return width, height
    w = max(2, int(width * scale) // 2 * 2)
    h = max(2, int(height * scale) // 2 * 2)
    return w, h


__all__ = [
    "CLOCK_TOLERANCE",
    "UNIFORM_TOLERANCE",
    "Clip",
    "clip_of",
    "fit_size",
    "fmt_seconds",
    "frame_clock",
    "is_uniform",
    "source_clock_error",
    "time_decimals",
]
