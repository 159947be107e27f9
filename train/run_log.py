"""What a training run writes about itself as it goes: `metrics.csv` (one row per optimizer
step) and, at the end, its picture `training.png` (losses, and validation against the swap
control)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from selector.atomic import write_atomic


class MetricsLog:
    """metrics.csv, one row per optimizer step (validation columns on evaluation steps); only the
    main process writes. A resumed run keeps the rows up to the step it resumes from and appends:
    steps a killed run logged after its last checkpoint are done again, so their rows go."""

    def __init__(self, path: Path, recall_k: int, main_process: bool, resumed_step: int = 0):
        self.path, self.main = path, main_process
        self.fields = ["step", "epoch", "kind", "loss", "lr", "seconds", "val_bce", f"val_recall@{recall_k}",
                       f"val_swapped_recall@{recall_k}", "val_hit@1", "val_swapped_hit@1"]
        if not self.main:
            return
        kept = [row for row in csv.DictReader(path.open(newline=""))] if path.exists() else []
        kept = [row for row in kept if row.get("step", "").isdigit() and int(row["step"]) <= resumed_step]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)
        write_atomic(path, buffer.getvalue())

    def write(self, row: dict) -> None:
        if self.main:
            with self.path.open("a", newline="") as handle:
                csv.DictWriter(handle, fieldnames=self.fields).writerow(row)


def plot_metrics(metrics_csv: Path, path: Path) -> None:
    """Losses by kind with the validation BCE (left), and recall@k and hit@1 with the question
    asked against another video's (right), from `metrics_csv`, drawn to `path`."""
    from selector.plot import pyplot

    plt = pyplot()
    rows = list(csv.DictReader(metrics_csv.open()))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for kind, color in (("score", "tab:blue"), ("lm", "tab:orange")):
        points = [(int(r["step"]), float(r["loss"])) for r in rows if r["kind"] == kind and r["loss"]]
        if points:
            axes[0].plot(*zip(*points), color=color, lw=1, label=f"{kind} loss")
    val = [(int(r["step"]), float(r["val_bce"])) for r in rows if r.get("val_bce")]
    if val:
        axes[0].plot(*zip(*val), "o-", color="black", label="val BCE")
    axes[0].set_xlabel("optimizer step")
    axes[0].legend(fontsize=8)
    recall = next((key[4:] for key in rows[0] if key.startswith("val_recall")), None) if rows else None
    for metric, color in ((recall, "tab:green"), ("hit@1", "tab:purple")):
        for key, style, whose in ((f"val_{metric}", "o-", "own question"), (f"val_swapped_{metric}", "x:", "another video's question")):
            points = [(int(r["step"]), float(r[key])) for r in rows if metric and r.get(key)]
            if points:
                axes[1].plot(*zip(*points), style, color=color, label=f"{metric}, {whose}")
    if axes[1].lines:
        axes[1].legend(fontsize=7)
    axes[1].set_title("validation: own question against the swap control")
    axes[1].set_xlabel("optimizer step")
    axes[1].set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["MetricsLog", "plot_metrics"]
