"""A summary of a label store: how much is labelled, what failed and why, how the labels are
distributed, and how far the spatial and temporal signals agree (if they rarely do, one of the
prompts is probably off)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from selector.plot import pyplot

from .store import read_rows


def label_stats(root: str | Path) -> dict:
    """Counts, failure reasons, label histogram, and spatial-temporal agreement."""
    rows = read_rows(Path(root)).to_pylist()
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] == "failed"]
    labels = np.concatenate([np.asarray(r["label"], dtype=np.float64) for r in ok]) if ok else np.zeros(0)
    histogram, edges = np.histogram(labels, bins=10, range=(0.0, 1.0))
    both = [r for r in ok if r["spatial"] is not None and r["temporal"] is not None]
    correlations = [
        spearmanr(r["spatial"], r["temporal"]).statistic
        for r in both
        if np.ptp(r["spatial"]) > 0 and np.ptp(r["temporal"]) > 0
    ]
    spatial = np.concatenate([r["spatial"] for r in both]) if both else np.zeros(0)
    temporal = np.concatenate([r["temporal"] for r in both]) if both else np.zeros(0)
    auroc = float(roc_auc_score(temporal, spatial)) if len(set(temporal.tolist())) == 2 else None
    return {
        "rows": len(rows),
        "labelled": len(ok),
        "failed": len(failed),
        # rows written before failures had a reason: the exception's name, as they were counted then
        "failure_reasons": dict(Counter(r["reason"] or r["error"].split(":")[0] for r in failed).most_common()),
        "retries": sum(sum((r["retries"] or {}).values()) for r in rows),
        "signals": dict(Counter("+".join(r["signals"]) for r in ok)),
        "label_mean": float(labels.mean()) if len(labels) else None,
        "label_histogram": {"edges": edges.round(2).tolist(), "counts": histogram.tolist()},
        "spatial_temporal": {
            "items": len(both),
            "mean_spearman": float(np.mean(correlations)) if correlations else None,
            "auroc_spatial_for_temporal": auroc,
            "temporal_positive_rate": float(temporal.mean()) if len(temporal) else None,
        },
    }


def plot_stats(root: str | Path, path: str | Path) -> None:
    """Histograms of the combined label and of each signal, and spatial scores split by the
    temporal choice."""
    plt = pyplot()
    ok = [r for r in read_rows(Path(root)).to_pylist() if r["status"] == "ok"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for name, color in (("label", "black"), ("spatial", "tab:blue"), ("spans_label", "tab:green")):
        values = [v for r in ok if r[name] is not None for v in r[name]]
        if values:
            axes[0].hist(values, bins=20, range=(0, 1), histtype="step", color=color, label=name)
    axes[0].set_title("score distributions")
    axes[0].legend(fontsize=8)
    both = [r for r in ok if r["spatial"] is not None and r["temporal"] is not None]
    chosen = [s for r in both for s, t in zip(r["spatial"], r["temporal"]) if t > 0.5]
    others = [s for r in both for s, t in zip(r["spatial"], r["temporal"]) if t <= 0.5]
    if chosen and others:
        axes[1].hist([others, chosen], bins=20, range=(0, 1), density=True, label=["not chosen by text LLM", "chosen"])
        axes[1].legend(fontsize=8)
    axes[1].set_title("spatial score by temporal choice")
    counts = Counter(len(r["frames"]) for r in ok)
    axes[2].bar([str(k) for k in sorted(counts)], [counts[k] for k in sorted(counts)])
    axes[2].set_title("candidates per item")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["label_stats", "plot_stats"]
