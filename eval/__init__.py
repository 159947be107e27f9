"""Evaluation: benchmark loaders, frame choosers, answer extraction, metrics and reports.

A runner needs three things per question: the normalised `Record` (`load_benchmark`), the
frames a chooser picked (`make_chooser(spec).choose(info, plan, record.question, k,
item_id=record.id)`, a `selector.Selection` with indices and seconds), and the answer read from the
model's reply (`extract_answer`); `make_result` and `summarize` turn those into the report, and
`ActivityNetJudge` judges open-ended answers.
"""

from .choosers import Chooser, inverse_transform_sample, make_chooser
from .extract import extract_answer, methods_for
from .judge import ActivityNetJudge, Verdict
from .benchmarks import benchmark_name, load_benchmark
from .metrics import is_correct, make_result, summarize
from .records import Record, index_of, letter_of

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
