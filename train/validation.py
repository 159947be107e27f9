"""Validation during training: BCE, recall@k and hit@1 on the held-out videos, each measured
again with another video's question (the swap control), and the one line the run prints."""

from __future__ import annotations

import torch
from accelerate import Accelerator

from selector.selection import greedy_nms, topk

from .forward import batch_inputs


@torch.no_grad()
def _measure(model, loader, base, accelerator: Accelerator, k: int) -> dict[str, torch.Tensor]:
    """Per item, over every process: BCE; recall@k, the share of the label's top-k frames that
    greedy NMS on the predicted scores recovers; and hit@1, whether the best-scored candidate is
    one the label marks (at least half the label's maximum)."""
    measured: dict[str, list[torch.Tensor]] = {"bce": [], "recall": [], "hit": []}
    for batch in loader:
        inputs = batch_inputs(batch, base, accelerator.device)
        inputs.pop("labels")  # the scores only: the metrics below read the labels themselves
        logits = model(**inputs).logits.float()
        per: dict[str, list[torch.Tensor]] = {"bce": [], "recall": [], "hit": []}
        for b, n in enumerate(batch["num_candidates"].tolist()):
            scores, labels = logits[b, :n], batch["labels"][b, :n].to(logits.device)
            per["bce"].append(torch.nn.functional.binary_cross_entropy_with_logits(scores, labels))
            kk = min(k, n)
            chosen = set(greedy_nms(scores.double().cpu().numpy(), kk))  # ranked on logits: no ties from a saturated sigmoid
            truth = set(topk(labels.cpu().numpy(), kk))
            per["recall"].append(torch.tensor(len(chosen & truth) / kk, device=logits.device))
            per["hit"].append(((labels[scores.argmax()] >= 0.5 * labels.max()) & (labels.max() > 0)).float())
        for name, values in per.items():
            measured[name].append(accelerator.gather_for_metrics(torch.stack(values)))
    return {name: torch.cat(values) if values else torch.empty(0) for name, values in measured.items()}


def evaluate(model, loader, base, accelerator: Accelerator, k: int, swapped_loader=None) -> dict[str, float]:
    """Validation BCE, recall@k and hit@1; with `swapped_loader` (the same items asked another
    video's question, `selector.swap_control`), the swap control's recall@k and hit@1 too: a selector
    that reads the question loses them when asked the wrong one."""
    model.eval()
    own = _measure(model, loader, base, accelerator, k)
    metrics = {}
    if len(own["bce"]):
        metrics = {"val_bce": float(own["bce"].mean()), f"val_recall@{k}": float(own["recall"].mean()), "val_hit@1": float(own["hit"].mean())}
        if swapped_loader is not None:
            swapped = _measure(model, swapped_loader, base, accelerator, k)
            if len(swapped["bce"]):
                metrics[f"val_swapped_recall@{k}"] = float(swapped["recall"].mean())
                metrics["val_swapped_hit@1"] = float(swapped["hit"].mean())
    model.train()
    return metrics


def validation_line(step: int, metrics: dict[str, float], k: int) -> str:
    """Own question against another video's (the swap control): hit@1 and recall@k."""
    line = f"step {step}: val BCE {metrics['val_bce']:.4f}"
    for key in ("hit@1", f"recall@{k}"):
        line += f"; {key} own question {metrics[f'val_{key}']:.3f}"
        swapped = metrics.get(f"val_swapped_{key}")
        if swapped is not None:
            line += f", another video's {swapped:.3f} (gap {metrics[f'val_{key}'] - swapped:+.3f})"
    return line


__all__ = ["evaluate", "validation_line"]
