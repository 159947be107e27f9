"""A picture of a selection: the score curve over time with the chosen frames marked, and a strip
of the chosen frames with their timestamps. Scores are easier to judge by eye than as numbers.

`pyplot` is how every figure of the project (label statistics, training curves, evaluation and
demo reports) gets matplotlib: loaded on first use, so no command pays for it before it draws.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from .video import VideoInfo, read_frames

if TYPE_CHECKING:
    from .api import Selection

THUMB_HEIGHT = 96


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` drawing to files only (the Agg backend): every figure is written to a
    PNG, and a command run without a display (a server, CI, a job) must not try to open one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _thumbnails(info: VideoInfo, indices: Sequence[int]) -> np.ndarray:
    """Chosen frames side by side at display aspect ratio, decoded straight to thumbnail size."""
    width = max(1, round(THUMB_HEIGHT * info.width / info.height))
    frames = read_frames(info, indices, size=(width, THUMB_HEIGHT))
    gap = np.full((THUMB_HEIGHT, 4, 3), 255, dtype=np.uint8)
    parts = []
    for frame in frames:
        parts += [frame, gap]
    return np.concatenate(parts[:-1], axis=1)


def plot_selections(selections: Sequence[Selection], info: VideoInfo, path: str | os.PathLike) -> None:
    """Write one PNG with, per question, the score curve and the strip of chosen frames."""
    plt = pyplot()
    rows = len(selections)
    fig, axes = plt.subplots(
        2 * rows, 1, figsize=(11, 4.2 * rows), gridspec_kw={"height_ratios": [2.2, 1.4] * rows}, squeeze=False
    )
    for row, selection in enumerate(selections):
        curve, strip = axes[2 * row, 0], axes[2 * row + 1, 0]
        seconds = [c.seconds for c in selection.candidates]
        curve.plot(seconds, selection.scores, color="tab:blue", lw=1.2, label="score per candidate")
        curve.scatter(
            selection.seconds, [f.score for f in selection.frames], color="tab:red", zorder=3,
            label=f"chosen ({selection.settings.get('rule', 'nms')}, k={selection.k})",
        )
        for f in selection.frames:
            curve.axvline(f.seconds, color="tab:red", alpha=0.25, lw=1)
        curve.set_xlim(0, max(info.duration, 1e-3))
        curve.set_xlabel("time (s)")
        curve.set_ylabel("score")
        curve.ticklabel_format(axis="y", useOffset=False)
        curve.set_title("\n".join(textwrap.wrap(selection.question, 110)), fontsize=10)
        curve.legend(loc="upper right", fontsize=8)
        curve.grid(alpha=0.3)

        image = _thumbnails(info, selection.indices)
        strip.imshow(image)
        strip.set_xticks(
            [(i + 0.5) * image.shape[1] / len(selection.frames) for i in range(len(selection.frames))],
            [f"{f.seconds:.2f} s\n#{f.index}" for f in selection.frames],
            fontsize=8,
        )
        strip.set_yticks([])
    fig.suptitle(os.path.basename(info.path), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["plot_selections", "pyplot"]
