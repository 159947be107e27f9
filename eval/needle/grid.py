"""The needle grid: one needle, placed at a chosen relative position in videos of a chosen length,
and how often a chooser's k frames catch it, as a heatmap (length x position).

Longer videos spread the same candidate budget thinner, so the grid also reports the *candidate
coverage*: the share of videos where any candidate shows the needle at all, which bounds every
chooser that picks among those candidates.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from selector import CandidatePlan, candidate_frames, probe
from selector.atomic import write_atomic
from selector.markdown import markdown_table
from selector.plot import pyplot

from ..choosers import Chooser, make_chooser
from .evaluate import evaluate_choosers
from .folder import claim_folder
from .planning import WorldSettings, plan_video
from .reader import evidence_recall
from .rendering import render
from .world import read_questions, write_manifest


@dataclass(frozen=True)
class GridSettings:
    lengths: tuple[float, ...] = (30.0, 60.0, 120.0, 240.0)  # seconds
    positions: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)  # needle start, relative
    videos_per_cell: int = 4
    k: int = 8
    candidates: int = 128
    seed: int = 0
    # Each video's needle starts within +-jitter/2 of its cell's position. A needle pinned exactly
    # lands either on or between uniform's k evenly spaced frames in all of a cell's videos, so
    # uniform's cells read 0 or 1 by alignment alone; one sampling period (None: 1/k) averages that out.
    jitter: float | None = None

    @property
    def spread(self) -> float:
        return 1.0 / self.k if self.jitter is None else self.jitter

    def check(self) -> None:
        if not self.lengths or not self.positions or self.videos_per_cell < 1:
            raise ValueError("the needle grid needs lengths, positions and at least one video per cell")
        if any(not 0 <= p <= 1 for p in self.positions):
            raise ValueError(f"needle positions must be within 0..1, got {self.positions}")
        if not 0 <= self.spread <= 1:
            raise ValueError(f"the needle position jitter must be within 0..1, got {self.spread}")
        if any(length < 4 for length in self.lengths):
            raise ValueError(f"video lengths must be at least 4 s, got {self.lengths}")


def build_grid_world(out: Path, grid: GridSettings, progress: bool = True) -> Path:
    """One attribute question per video, its needle the only event; returns the manifest."""
    grid.check()
    world = WorldSettings(seed=grid.seed)
    plans = []
    for li, length in enumerate(grid.lengths):
        for pi, position in enumerate(grid.positions):
            for v in range(grid.videos_per_cell):
                seed = grid.seed * 7_777_777 + 2_000_029 + (li * 1000 + pi) * 100 + v
                at = float(np.clip(position + np.random.default_rng(seed).uniform(-0.5, 0.5) * grid.spread, 0.0, 1.0))
                plan = plan_video(f"grid-{li}-{pi}-{v}", world, seed, ["attribute"], at=[at], seconds=length, fillers=False)
                plans.append(plan)
    render(plans, world, out / "videos", progress=progress)
    manifest = out / "questions.jsonl"
    rows = write_manifest(plans, manifest)
    # Cell coordinates ride along in the manifest, so results can be binned without re-planning.
    for row, plan in zip(rows, plans):
        _, li, pi, _ = plan.name.split("-")
        row["length"], row["position"] = grid.lengths[int(li)], grid.positions[int(pi)]
    write_atomic(manifest, "".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def run_grid(out: str | os.PathLike, chooser_spec: str, grid: GridSettings, device: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Evaluate `chooser_spec` and uniform on the grid; writes grid.json and grid.png."""
    out = Path(out)
    grid.check()
    settings = {**asdict(grid), "jitter": grid.spread}
    # k only picks what is evaluated, and results are kept per k: everything else makes the world.
    claim_folder(out, {key: value for key, value in settings.items() if key != "k"}, "needle grid")
    manifest = build_grid_world(out / "world", grid, progress)
    rows = read_questions(manifest)
    choosers: dict[str, Chooser] = {"uniform": make_chooser("uniform"), chooser_spec: make_chooser(chooser_spec, device=device)}
    plan = CandidatePlan(n=grid.candidates)
    results = evaluate_choosers(rows, choosers, [grid.k], plan, out / "results.jsonl", progress)
    cells: dict[str, dict[tuple[float, float], list[float]]] = defaultdict(lambda: defaultdict(list))
    by_id = {r["id"]: r for r in rows}
    for result in results:
        row = by_id[result["id"]]
        cells[result["chooser"]][(row["length"], row["position"])].append(result["recall"])
    for row in rows:  # what any chooser could reach: a candidate shows the needle
        indices = [c.index for c in candidate_frames(probe(row["video"]), plan)]
        cells["candidate coverage"][(row["length"], row["position"])].append(float(evidence_recall(row, indices)))
    table = {
        name: [[float(np.mean(values[(length, position)])) for position in grid.positions] for length in grid.lengths]
        for name, values in cells.items()
    }
    summary = {"settings": {**settings, "chooser": chooser_spec}, "recall": table}
    (out / "grid.json").write_text(json.dumps(summary, indent=2))
    plot_grid(summary, out / "grid.png")
    return summary


def plot_grid(summary: dict[str, Any], path: Path) -> None:
    """One heatmap per chooser (and candidate coverage): rows video length, columns position."""
    plt = pyplot()
    settings = summary["settings"]
    names = list(summary["recall"])
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        values = np.asarray(summary["recall"][name])
        ax.imshow(values, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.6 else "black", fontsize=8)
        ax.set_xticks(range(len(settings["positions"])), [f"{p:.0%}" for p in settings["positions"]])
        ax.set_yticks(range(len(settings["lengths"])), [f"{length:g}s" for length in settings["lengths"]])
        ax.set_xlabel(f"needle position (±{settings['jitter'] / 2:.0%})")
        ax.set_title(_short(name), fontsize=9)
    axes[0][0].set_ylabel("video length")
    fig.suptitle(f"needle recall@{settings['k']} of {settings['candidates']} candidates", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _short(name: str, width: int = 34) -> str:
    """A chooser spec fit for a plot title: its kind and the end of its path, where runs differ."""
    if len(name) <= width:
        return name
    kind, _, rest = name.partition(":")
    return f"{kind}:...{rest[-(width - len(kind) - 4):]}"


def format_grid(summary: dict[str, Any]) -> str:
    """Markdown: one table per chooser."""
    settings = summary["settings"]
    parts = []
    for name, values in summary["recall"].items():
        columns = ["length", *(f"{p:.0%}" for p in settings["positions"])]
        rows = [[f"{length:g}s", *(f"{v:.2f}" for v in row)] for length, row in zip(settings["lengths"], values)]
        parts.append(f"**{name}**\n\n" + markdown_table(columns, rows, align="r" * len(columns)))
    return "\n\n".join(parts)


def _parse_floats(text: str, name: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a comma-separated list of numbers") from None


def grid_settings_from(lengths: str, positions: str, videos: int, k: int, candidates: int, seed: int, jitter: float | None = None) -> GridSettings:
    """GridSettings from command-line text."""
    return GridSettings(_parse_floats(lengths, "--grid-lengths"), _parse_floats(positions, "--grid-positions"), videos, k, candidates, seed, jitter)


__all__ = ["GridSettings", "build_grid_world", "run_grid", "plot_grid", "format_grid", "grid_settings_from"]
