"""Evaluation: benchmark loaders, frame choosers, answer extraction, metrics and reports.

A runner needs three things per question: the normalised `Record` (`load_benchmark`), the
frames a chooser picked (`make_chooser(spec).choose(info, plan, record.question, k,
item_id=record.id)`, a `selector.Selection` with indices and seconds), and the answer read from the
model's reply (`extract_answer`); `make_result` and `summarize` turn those into the report, and
`ActivityNetJudge` judges open-ended answers.
"""

from typing import TYPE_CHECKING

from selector.lazy import lazy_exports

# Each public name and the submodule that defines it; each loads on first use, so that
# `frame-selector eval --help` does not import the choosers' models or the judge's client.
_HOMES = {
    "Chooser": "choosers",
    "inverse_transform_sample": "choosers",
    "make_chooser": "choosers",
    "extract_answer": "extract",
    "methods_for": "extract",
    "ActivityNetJudge": "judge",
    "Verdict": "judge",
    "benchmark_name": "benchmarks",
    "load_benchmark": "benchmarks",
    "is_correct": "metrics",
    "make_result": "metrics",
    "summarize": "metrics",
    "Record": "records",
    "index_of": "records",
    "letter_of": "records",
}

if TYPE_CHECKING:
    from .benchmarks import benchmark_name, load_benchmark
    from .choosers import Chooser, inverse_transform_sample, make_chooser
    from .extract import extract_answer, methods_for
    from .judge import ActivityNetJudge, Verdict
    from .metrics import is_correct, make_result, summarize
    from .records import Record, index_of, letter_of

__getattr__, __dir__ = lazy_exports(__name__, _HOMES)

__all__ = [
    "ActivityNetJudge",
    "Chooser",
    "Record",
    "Verdict",
    "benchmark_name",
    "extract_answer",
    "index_of",
    "inverse_transform_sample",
    "is_correct",
    "letter_of",
    "load_benchmark",
    "make_chooser",
    "make_result",
    "methods_for",
    "summarize",
]
