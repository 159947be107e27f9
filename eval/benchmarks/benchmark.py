"""What a benchmark is to the rest of `eval`: one `Benchmark` object, defined as `BENCHMARK` in the
benchmark's own module and collected by `registry`.

Everything that differs between benchmarks lives on that object: how its files are read, how its
published parsers read a reply, which number heads its report, and how its lmms-eval docs name
their ids and options. The runner, the CLI, the metrics and the lmms-eval routes read it from the
registry, so none of them names a benchmark.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..records import Record
from .files import Layout

Loader = Callable[[Path, Layout, "str | None"], list[Record]]
# (reply, record, rng) -> the chosen letter; `rng` only where the published parser guesses.
Extractor = Callable[[str, Record, "random.Random | None"], "str | None"]
# A summary (`eval.metrics.summarize`) -> (metric name, value).
Headline = Callable[[Mapping[str, Any]], "tuple[str, float | None]"]


def accuracy(summary: Mapping[str, Any]) -> tuple[str, float | None]:
    """The headline of most benchmarks: accuracy over the questions that ran."""
    return "accuracy", summary["overall"]["accuracy"]


@dataclass(frozen=True)
class Benchmark:
    """One benchmark, as every part of `eval` needs it.

    Attributes:
        name: the canonical name: `--bench`, `Record.bench` and the results' `bench`; also the
            folder it is looked for under a data root, and the lmms-eval task-name prefix that
            `doc_key` applies to.
        load: `(benchmark folder, layout, split)` -> every question as a `Record`, problems
            flagged; `layout` is `official` or `lmms-eval` once resolved (or `auto`), `split`
            None for the benchmark's default.
        aliases: other spellings `--bench` accepts (lowercase).
        extractors: the published reply parsers by extraction method (`official`, `lmms-eval`);
            every benchmark has `default`, which is not listed.
        open_ended: answers are free text, judged by an LLM (`eval.judge`) instead of parsed;
            every extraction method then hands over the reply itself.
        headline: the metric that heads the report; plain accuracy unless the benchmark's own
            papers report another (MLVU's M-Avg).
        doc_key: a `str.format` template over an lmms-eval doc giving the same id as `load` with
            the lmms-eval layout, or None where none is known.
        doc_options: fields of its lmms-eval docs that hold the answer options: a list field, or
            numbered fields written as a pattern with `{}` (`a{}` for `a0`, `a1`, ...).
    """

    name: str
    load: Loader
    aliases: tuple[str, ...] = ()
    extractors: Mapping[str, Extractor] = field(default_factory=dict)
    open_ended: bool = False
    headline: Headline = accuracy
    doc_key: str | None = None
    doc_options: tuple[str, ...] = ()


__all__ = ["Benchmark", "Extractor", "Headline", "Loader", "accuracy"]
