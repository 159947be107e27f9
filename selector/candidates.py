"""Which frames of a video become candidates.

Candidates are spread uniformly in *time*, using the container's timestamps: index-uniform
sampling (what most loaders do) bunches candidates into the fast parts of a variable-frame-rate
video. Every candidate is a distinct source frame.

The `keyframes` plan trades exactness for speed: the keyframes nearest to the uniform times,
each decoded alone (no frames on the way). Its candidates sit up to half a GOP away from the
times asked for, so every plan record says `"exact": false`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from .frames import Frame
from .video import VideoInfo, probe


@dataclass(frozen=True)
class CandidatePlan:
    """How many candidates a video gets.

    `uniform`: `n` frames over the whole video. `keyframes`: the keyframes nearest to the `n`
    uniform times (approximate: see the module docstring). `fps`: a duration-aware count, `fps` frames a
    second up to `decay_after` seconds, then growing only with the square root of the duration
    (long videos need more candidates, but not proportionally more), clamped to
    [`min_frames`, `max_frames`]. A video with fewer frames than the count gives all its frames.
    """

    kind: Literal["uniform", "fps", "keyframes"] = "uniform"
    n: int = 128
    fps: float = 2.0
    min_frames: int = 8
    max_frames: int = 128
    decay_after: float = 32.0

    def __post_init__(self) -> None:
        if self.kind not in ("uniform", "fps", "keyframes"):
            raise ValueError(f"unknown candidate plan {self.kind!r}; choose 'uniform', 'fps' or 'keyframes'")
        if self.kind in ("uniform", "keyframes") and self.n < 1:
            raise ValueError(f"candidate count must be >= 1, got {self.n}")
        if self.kind == "fps" and not (self.fps > 0 and 1 <= self.min_frames <= self.max_frames and self.decay_after > 0):
            raise ValueError(f"invalid fps plan {self}")

    @classmethod
    def parse(cls, text: str) -> CandidatePlan:
        """`128` or `uniform:128`; `keyframes:128`; `fps`, `fps:2` or `fps:2:8:128` (rate, min, max frames)."""
        kind, _, rest = text.strip().partition(":")
        try:
            if kind.isdigit():
                return cls(kind="uniform", n=int(kind))
            if kind in ("uniform", "keyframes"):
                return cls(kind=kind, n=int(rest))
            if kind == "fps":
                parts = [p for p in rest.split(":") if p]
                values = dict(zip(("fps", "min_frames", "max_frames"), parts))
                return cls(
                    kind="fps",
                    fps=float(values.get("fps", 2.0)),
                    min_frames=int(values.get("min_frames", 8)),
                    max_frames=int(values.get("max_frames", 128)),
                )
        except ValueError as error:
            raise ValueError(f"invalid candidate plan {text!r}: {error}") from None
        raise ValueError(f"invalid candidate plan {text!r}; use N, uniform:N, keyframes:N or fps[:RATE[:MIN:MAX]]")

    def count(self, duration: float) -> int:
        """Candidates wanted for a video of `duration` seconds (before capping at its frame count)."""
        if self.kind != "fps":
            return self.n
        if duration <= self.decay_after:
            wanted = self.fps * duration
        else:
            wanted = self.fps * self.decay_after * math.sqrt(duration / self.decay_after)
        return int(min(max(round(wanted), self.min_frames), self.max_frames))

    @property
    def exact(self) -> bool:
        """Whether the candidates are the frames at the plan's times (False: keyframes near them)."""
        return self.kind != "keyframes"

    def to_dict(self) -> dict:
        """The record every output carries; an approximate plan adds `"exact": false` (exact
        plans keep the keys they always had, so existing caches and records stay valid)."""
        record = asdict(self)
        if not self.exact:
            record["exact"] = False
        return record


def uniform_times(timestamps: np.ndarray, duration: float, n: int) -> np.ndarray:
    """The middles of n equal time segments of the video."""
    start = float(timestamps[0])
    span = max(duration - start, 0.0)
    return start + (np.arange(n) + 0.5) * span / n


def _distinct(picks: np.ndarray, total: int) -> np.ndarray:
    """Ascending picks made distinct: duplicates pushed apart to the nearest free positions,
    keeping order and room for the remaining ones (needs ``len(picks) <= total``)."""
    n = len(picks)
    for i in range(1, n):
        picks[i] = max(picks[i], picks[i - 1] + 1)
    picks[-1] = min(picks[-1], total - 1)
    for i in range(n - 2, -1, -1):
        picks[i] = min(picks[i], picks[i + 1] - 1)
    return picks


def time_uniform_indices(timestamps: np.ndarray, duration: float, n: int) -> np.ndarray:
    """n distinct frame indices whose display times are as close as possible to the middles of n
    equal time segments of the video (all frames when it has n or fewer)."""
    total = len(timestamps)
    if total <= n:
        return np.arange(total)
    targets = uniform_times(timestamps, duration, n)
    # The frame on screen at each target time. Gaps in a variable-frame-rate video can map two
    # targets to one frame: `_distinct` pushes them apart.
    picks = np.clip(np.searchsorted(timestamps, targets, side="right") - 1, 0, total - 1)
    return _distinct(picks, total)


def nearest_keyframe_indices(timestamps: np.ndarray, keyframes: np.ndarray, duration: float, n: int) -> np.ndarray:
    """n distinct keyframe indices, each the keyframe nearest in time to one of the n uniform
    times (all keyframes when there are n or fewer); ascending."""
    if len(keyframes) <= n:
        return np.asarray(keyframes, dtype=np.int64)
    times = timestamps[keyframes]
    targets = uniform_times(timestamps, duration, n)
    after = np.clip(np.searchsorted(times, targets), 1, len(times) - 1)
    nearer_before = targets - times[after - 1] <= times[after] - targets
    picks = np.where(nearer_before, after - 1, after)
    return np.asarray(keyframes, dtype=np.int64)[_distinct(picks, len(times))]


def candidate_frames(info: VideoInfo, plan: CandidatePlan | int = 128) -> list[Frame]:
    """The candidate frame records of a probed video, in time order."""
    if isinstance(plan, int):
        plan = CandidatePlan(n=plan)
    if plan.kind == "keyframes":
        keyframes = info.keyframes if info.keyframes is not None else probe(info.path).keyframes
        indices = nearest_keyframe_indices(info.timestamps, keyframes, info.duration, plan.n)
    else:
        indices = time_uniform_indices(info.timestamps, info.duration, plan.count(info.duration))
    return [
        Frame(candidate=c, index=int(i), seconds=float(info.timestamps[i]), fps=float(info.fps))
        for c, i in enumerate(indices)
    ]


__all__ = ["CandidatePlan", "candidate_frames", "time_uniform_indices", "nearest_keyframe_indices", "uniform_times"]
