"""The demo's report: Markdown with pictures a reader can check at a glance.

* recall and reader accuracy against k for every chooser;
* for one held-out question of each kind: the selector's score over time with the needle spans
  shaded and the chosen frames marked (selector and uniform), and a strip of the frames the
  selector chose, framed green where they show a needed needle.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from selector import probe, read_frames
from selector.markdown import markdown_table
from selector.plot import pyplot

from .evaluate import CONTROL, OWN_WITH_CONTROL, format_table
from .reader import seen

SHOWN_K = 8  # the k shown in examples and per-kind tables (the nearest k run, when 8 was not)
MAIN = "selector NMS"


def plot_recall(summary: Mapping[str, Mapping[int, Mapping[str, Any]]], path: Path) -> None:
    """Evidence recall and reader accuracy against k, one line per chooser."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, by_k in summary.items():
        ks = sorted(by_k)
        style = {"lw": 2.8 if name == MAIN else 1.2, "ls": "--" if "ceiling" in name else "-", "marker": "o"}
        if name == CONTROL:  # drawn over the selector's own line, which it may match exactly
            style = {"lw": 1.6, "ls": ":", "marker": "x", "color": "black"}
        for ax, metric in zip(axes, ("recall", "accuracy")):
            ax.plot(ks, [by_k[k][metric] for k in ks], label=name, **style)
    for ax, title in zip(axes, ("evidence recall@k", "oracle-reader accuracy@k")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k (frames chosen of the candidates)")
        ax.set_title(title)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _example_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    examples: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        examples.setdefault(row["kind"], row)
    return list(examples.values())


def plot_example(row: Mapping[str, Any], results: Mapping[tuple[str, int], Mapping[str, Any]], path: Path, k: int = SHOWN_K) -> None:
    """Score curve with needle spans shaded, chosen frames marked, and a strip of the selector's
    chosen frames (green frame: shows a needed needle)."""
    plt = pyplot()
    scored = next(r for (name, _), r in results.items() if name == MAIN and "candidate_scores" in r)
    info = probe(row["video"])
    times = np.asarray([info.timestamps[i] for i in scored["candidate_indices"]])
    chosen = results[(MAIN, k)]
    uniform = results.get(("uniform", k))
    top = max(max(scored["candidate_scores"]), 1e-9)  # a listwise selector's scores sum to 1: scale to them
    fig = plt.figure(figsize=(11, 4.6))
    ax = fig.add_axes([0.06, 0.5, 0.92, 0.4])
    for start, end in row["spans"]:
        ax.axvspan(start, end, color="gold", alpha=0.35, lw=0)
    ax.plot(times, scored["candidate_scores"], color="tab:blue", lw=1.2, label="selector score")
    ax.plot(chosen["seconds"], np.interp(chosen["seconds"], times, scored["candidate_scores"]), "v", color="tab:red",
            ms=8, label=f"selector NMS, k={k}")
    if uniform:
        ax.plot(uniform["seconds"], np.full(len(uniform["seconds"]), -0.05 * top), "|", color="grey", ms=12, mew=2, label=f"uniform, k={k}")
    ax.set_ylim(-0.1 * top, 1.05 * top)
    ax.set_xlim(0, info.duration)
    ax.set_xlabel("seconds (needle spans shaded)")
    ax.set_title(f"[{row['kind']}] {row['question']}  answer: {row['answer']}", fontsize=10)
    ax.legend(fontsize=7, loc="upper right", ncol=3)
    frames = read_frames(row["video"], chosen["indices"], size=(96, 96))
    hits = [seen({"frames": row["frames"]}, [i]) for i in chosen["indices"]]
    width = 0.92 / len(frames)
    for j, (image, hit) in enumerate(zip(frames, hits)):
        sub = fig.add_axes([0.06 + j * width, 0.02, width * 0.95, 0.3])
        sub.imshow(image)
        sub.set_xticks([])
        sub.set_yticks([])
        for spine in sub.spines.values():
            spine.set_color("tab:green" if any(hit) else "tab:red")
            spine.set_linewidth(3)
        sub.set_title(f"{chosen['seconds'][j]:.1f}s", fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def headline(choosers: Mapping[str, Mapping[int, Mapping[str, Any]]]) -> dict[str, dict[int, dict[str, float]]]:
    """The trio the demo exists to show, own question / swap control / uniform, with the label
    ceiling and the own − control gap, for every k all of them have. The gap is taken on the
    questions the control was asked (older summaries without that subset: on all of them)."""
    names = {f"{MAIN}, its own question": MAIN, OWN_WITH_CONTROL: OWN_WITH_CONTROL, CONTROL: CONTROL, "uniform": "uniform",
             "label ceiling": "label ceiling"}
    rows = {shown: choosers[name] for shown, name in names.items() if name in choosers}
    own = OWN_WITH_CONTROL if OWN_WITH_CONTROL in choosers else MAIN
    if own in choosers and CONTROL in choosers:
        rows["own − control"] = {k: {m: choosers[own][k][m] - choosers[CONTROL][k][m] for m in ("recall", "accuracy")}
                                 for k in choosers[own] if k in choosers[CONTROL]}
    return rows


def _by_kind_table(choosers: Mapping[str, Mapping[Any, Mapping[str, Any]]], k: Any) -> str:
    """Evidence recall at `k` of every chooser, one column per question kind (blank: not asked)."""
    kinds = sorted({kind for by_k in choosers.values() for entry in by_k.values() for kind in entry["by_kind"]})
    rows = [[name, *(f"{by_k[k]['by_kind'][kind]['recall']:.3f}" if kind in by_k[k]["by_kind"] else "" for kind in kinds)]
            for name, by_k in choosers.items() if k in by_k]
    return markdown_table(["chooser", *kinds], rows, align="l" + "r" * len(kinds))


def write_report(out: str | os.PathLike, summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]]) -> Path:
    """report.md with its images under `out`; returns its path."""
    out = Path(out)
    images = out / "report"
    images.mkdir(exist_ok=True)
    choosers = summary["choosers"]
    plot_recall(choosers, images / "recall_vs_k.png")
    by_question: dict[str, dict[tuple[str, int], Mapping[str, Any]]] = {}
    for r in results:
        by_question.setdefault(r["id"], {})[(r["chooser"], r["k"])] = r
    settings = summary["settings"]
    shown = min(settings["ks"], key=lambda k: (abs(k - SHOWN_K), k))
    lines = [
        "# Needle demo report",
        "",
        f"Held-out questions: {summary['questions']} (videos never seen in training), {settings['candidates']} candidates a video, "
        f"seed {settings['seed']}. Selector read-out: `{settings['readout']}`.",
        "",
        "## Does the selector read the question?",
        "The selector with each held-out question, and with the question of its kind about another video (the swap "
        "control; its own needles stay the evidence), against uniform sampling and the label ceiling. A selector that "
        "only finds where *something* happens scores the same under the swap.",
        "",
        format_table(headline(choosers), "recall"),
        "",
        "## Evidence recall@k",
        "Share of questions for which every needed needle is among the k chosen frames.",
        "",
        format_table(choosers, "recall"),
        "",
        "## Oracle-reader accuracy@k",
        "A reader that answers right iff the chosen frames show the evidence (counting: it counts what it saw); a guess counts 1/options.",
        "",
        format_table(choosers, "accuracy"),
        "",
        "![recall and accuracy against k](report/recall_vs_k.png)",
        "",
        f"## By question kind (evidence recall, k={shown})",
        "",
    ]
    lines += [_by_kind_table(choosers, shown), "", "## Examples", ""]
    for row in _example_rows(rows):
        found = by_question.get(row["id"], {})
        if (MAIN, shown) not in found:
            continue
        name = f"example_{row['kind']}.png"
        plot_example(row, found, images / name, shown)
        lines += [f"![{row['kind']} example](report/{name})", ""]
    if "harder" in summary:
        harder = summary["harder"]
        lines += ["## A harder world", "",
                  f"The same selector on held-out videos with {settings['harder_fillers'][0]}-{settings['harder_fillers'][1]} unasked "
                  f"events each (the demo's world: {settings['fillers'][0]}-{settings['fillers'][1]}), "
                  f"{settings['harder_seconds'][0]:g}-{settings['harder_seconds'][1]:g} s long so that they fit.", "",
                  format_table(headline(harder), "recall"), "", f"By question kind (evidence recall, k={shown}):", "",
                  _by_kind_table(harder, shown), ""]
    times = [*summary["seconds"].items(), ("**total**", f"{sum(summary['seconds'].values()):.1f}")]
    lines += ["## Time", "", markdown_table(["step", "seconds"], times, align="lr"), ""]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


__all__ = ["write_report", "headline", "plot_recall", "plot_example"]
