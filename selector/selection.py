"""Rules that turn n candidate scores into k chosen candidates, always returned in time order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

import numpy as np


def check_k(k: int, n: int, source: str = "") -> None:
    """Every rule needs 1 <= k <= n. Callers that know n before scoring (from the candidate plan
    and `probe`) check here first, so a bad k fails before any decoding or model work."""
    if not 1 <= k <= n:
        where = f" of {source}" if source else ""
        raise ValueError(f"k={k} must be between 1 and the number of candidates ({n}){where}")


def _check(scores: Sequence[float] | np.ndarray, k: int) -> np.ndarray:
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"scores must be one-dimensional, got shape {values.shape}")
    if np.isnan(values).any():
        raise ValueError("scores contain NaN")
    check_k(k, len(values))
    return values


def _best_first(values: np.ndarray) -> np.ndarray:
    """Indices by descending score; a stable sort keeps ties in index order (lower index first)."""
    return np.argsort(-values, kind="stable")


def nms_delta(n: int, k: int) -> int:
    """The paper's suppression radius: int(n / (4k)); for n=128 that is 8, 4, 2, 1 at k=4, 8, 16, 32."""
    return n // (4 * k)


def greedy_nms(scores: Sequence[float] | np.ndarray, k: int, delta: int | None = None) -> list[int]:
    """The paper's selection: take the best frame, suppress its +-delta neighbours, repeat.

    Plain top-k returns runs of neighbours, because neighbouring frames score alike; suppression
    spreads the budget over distinct moments. delta defaults to int(n / (4k)). Unlike the paper's
    loop, this never returns fewer than k frames: once suppression has covered every candidate,
    the best frames not yet chosen fill the budget (a short selection would silently change what
    a downstream comparison measures).
    """
    values = _check(scores, k)
    n = len(values)
    if delta is None:
        delta = nms_delta(n, k)
    if delta < 0:
        raise ValueError(f"delta must be >= 0, got {delta}")
    order = _best_first(values)
    suppressed = np.zeros(n, dtype=bool)
    chosen: list[int] = []
    for i in order:
        if len(chosen) == k:
            break
        if not suppressed[i]:
            chosen.append(int(i))
            suppressed[max(0, i - delta) : i + delta + 1] = True
    if len(chosen) < k:
        taken = set(chosen)
        chosen += [int(i) for i in order if int(i) not in taken][: k - len(chosen)]
    return sorted(chosen)


def topk(scores: Sequence[float] | np.ndarray, k: int) -> list[int]:
    """The k best candidates (ties to the lower index), in time order."""
    return sorted(int(i) for i in _best_first(_check(scores, k))[:k])


def uniform(scores: Sequence[float] | np.ndarray, k: int) -> list[int]:
    """k candidates evenly spread over the n, ignoring the scores: the baseline every selector
    must beat. Takes the middle candidate of each of k equal segments."""
    n = len(_check(scores, k))
    return [int((2 * i + 1) * n // (2 * k)) for i in range(k)]


RULES: dict[str, Callable[..., list[int]]] = {"nms": greedy_nms, "topk": topk, "uniform": uniform}


def check_rule(rule: str) -> None:
    if rule not in RULES:
        raise ValueError(f"unknown selection rule {rule!r}; choose from {sorted(RULES)}")


def choose(rule: str, scores: Sequence[float] | np.ndarray, k: int, delta: int | None = None) -> list[int]:
    """Apply a rule by name; `delta` only applies to "nms"."""
    check_rule(rule)
    if rule == "nms":
        return greedy_nms(scores, k, delta)
    return RULES[rule](scores, k)


__all__ = ["check_k", "check_rule", "nms_delta", "greedy_nms", "topk", "uniform", "choose", "RULES"]
