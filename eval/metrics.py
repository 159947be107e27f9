"""Accuracy from per-question results, overall and by every category the benchmark reports.

A result is a plain dict, so runs can be written as JSON lines, resumed and re-scored without
this package's classes; `make_result` builds one from a `Record`. Its keys:

    qid, bench         the question (`qid` is the record's `id`)
    status             "ok" (the model answered), "failed" (the run failed: decoding, model or
                       judge error; see `error`) or "problem" (the loader flagged the record:
                       missing video, malformed row; never run)
    correct            True / False; None when status is "ok" but no answer could be read
                       (an unparsed reply, a judge that gave no verdict)
    categories         the record's categories (duration, task type, ...)
    unanswerable       the benchmark's answer is none of the options (no reply can be right)
    notes              why the question is odd although scored (`Record.notes`); counted as `odd`
    score              the judge's 0-5 score (ActivityNet-QA), else absent or None
    pred, reply, error, ...   anything else the runner keeps; ignored here

Every count is reported; nothing is dropped from the totals. Three accuracies are given because
the benchmarks' own scripts disagree on the denominator:

    accuracy           correct / questions that ran (an unparsed reply is wrong): lmms-eval
    accuracy_answered  correct / questions with a readable answer: Video-MME's official script
    accuracy_all       correct / all questions (failed and flagged ones count wrong)

Fractions are in [0, 1]. The headline is the benchmark's own (`Benchmark.headline`): MLVU's M-Avg
is the mean over its tasks of `accuracy`, every other benchmark's is `accuracy`. ActivityNet-QA's
`score` is the mean judge score over the questions that ran, a missing verdict counting 0, as
lmms-eval does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from .benchmarks import BENCHMARKS
from .benchmarks.benchmark import accuracy
from .records import Record

Status = Literal["ok", "failed", "problem"]


def is_correct(record: Record, pred: str | None) -> bool | None:
    """Whether an extracted multiple-choice answer is right; None when nothing was extracted.
    (Open-ended answers are judged, see `judge`.)"""
    if record.answer_type != "mc":
        raise ValueError(f"{record.id}: open-ended answers are judged, not compared")
    if pred is None:
        return None
    return record.answer_letter is not None and pred.strip().upper() == record.answer_letter


def make_result(
    record: Record,
    *,
    status: Status = "ok",
    correct: bool | None = None,
    error: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A result dict for `summarize`; a flagged record always becomes a "problem" result, so a
    runner cannot score a question its loader rejected."""
    if record.problem is not None:
        status, correct, error = "problem", None, record.problem
    if status not in ("ok", "failed", "problem"):
        raise ValueError(f"status must be 'ok', 'failed' or 'problem', not {status!r}")
    if status != "ok":
        correct = None
    return {
        "bench": record.bench,
        "qid": record.id,
        "status": status,
        "correct": correct,
        "categories": dict(record.categories),
        "unanswerable": record.unanswerable,
        "notes": list(record.notes),
        "error": error,
        **extra,
    }


def _tally(results: list[Mapping[str, Any]]) -> dict[str, Any]:
    n = len(results)
    ran = [r for r in results if r["status"] == "ok"]
    answered = [r for r in ran if r.get("correct") is not None]
    correct = sum(1 for r in ran if r.get("correct") is True)
    tally: dict[str, Any] = {
        "n": n,
        "ran": len(ran),
        "answered": len(answered),
        "correct": correct,
        "unparsed": len(ran) - len(answered),
        "failed": sum(1 for r in results if r["status"] == "failed"),
        "problem": sum(1 for r in results if r["status"] == "problem"),
        "unanswerable": sum(1 for r in results if r.get("unanswerable")),
        "odd": sum(1 for r in results if r.get("notes")),
        "accuracy": correct / len(ran) if ran else None,
        "accuracy_answered": correct / len(answered) if answered else None,
        "accuracy_all": correct / n if n else None,
    }
    if any("score" in r for r in results):
        tally["score"] = sum(float(r.get("score") or 0.0) for r in ran) / len(ran) if ran else None
    return tally


def summarize(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Overall and per-category accuracy of one benchmark's results.

    Returns `{"bench", "overall": tally, "by": {category: {value: tally}}, "headline":
    {"metric", "value"}}` (plus the headline under its own name where it is no tally's number:
    MLVU's `"m_avg"`), where a tally holds the counts and the three accuracies described in the
    module docstring.

    Raises:
        ValueError: results of several benchmarks, a duplicate qid, or an unknown status.
    """
    results = list(results)
    benches = {r["bench"] for r in results}
    if len(benches) > 1:
        raise ValueError(f"results of several benchmarks ({sorted(benches)}); summarise each on its own")
    seen: set[str] = set()
    for r in results:
        if r["status"] not in ("ok", "failed", "problem"):
            raise ValueError(f"{r['qid']}: unknown status {r['status']!r}")
        if r["qid"] in seen:
            raise ValueError(f"duplicate result for {r['qid']!r}")
        seen.add(r["qid"])
    bench = benches.pop() if benches else None
    groups: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        for key, value in (r.get("categories") or {}).items():
            groups[key][str(value)].append(r)
    summary: dict[str, Any] = {
        "bench": bench,
        "overall": _tally(results),
        "by": {key: {value: _tally(rs) for value, rs in sorted(values.items())} for key, values in sorted(groups.items())},
    }
    benchmark = BENCHMARKS.get(bench)
    metric, value = (benchmark.headline if benchmark is not None else accuracy)(summary)
    if metric not in summary["overall"]:  # a benchmark-level number (MLVU's m_avg) is kept under its name
        summary[metric] = value
    summary["headline"] = {"metric": metric, "value": value}
    return summary


__all__ = ["is_correct", "make_result", "summarize"]
