"""Every benchmark, by name: the `BENCHMARK` of each module of this package, collected
(`selector.extensions.collect`). A runner, the CLI, the metrics and the lmms-eval routes look
benchmarks up here, so a new benchmark is one module defining `BENCHMARK`, plus its test."""

from __future__ import annotations

import os
from pathlib import Path

from selector.extensions import collect

from ..records import Record
from .benchmark import Benchmark
from .files import Layout


def _registry() -> tuple[dict[str, Benchmark], dict[str, str]]:
    """Benchmarks by name and aliases to names; a name or alias given twice is an error, so two
    modules never claim the same benchmark."""
    benchmarks: dict[str, Benchmark] = {}
    claimed: dict[str, str] = {}  # every name and alias -> the benchmark's name
    for benchmark in collect(__package__, "BENCHMARK"):
        for key in (benchmark.name, *benchmark.aliases):
            if key in claimed:
                raise RuntimeError(f"benchmark name {key!r} is claimed by both {claimed[key]!r} and {benchmark.name!r}")
            claimed[key] = benchmark.name
        benchmarks[benchmark.name] = benchmark
    aliases = {key: name for key, name in claimed.items() if key != name}
    return benchmarks, aliases


BENCHMARKS, ALIASES = _registry()


def benchmark_name(name: str) -> str:
    """The canonical name of a benchmark (accepts the common spellings)."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {sorted(BENCHMARKS)}")
    return key


def load_benchmark(name: str, root: str | os.PathLike, layout: Layout = "auto", split: str | None = None) -> list[Record]:
    """Every question of a benchmark under `root`, normalised, problems flagged.

    Args:
        name: a name in `BENCHMARKS` (`videomme`, `longvideobench`, ...) or one of its aliases
            (`video-mme`, `lvb`, ...).
        root: the folder holding `<name>/`, or that benchmark folder itself.
        layout: `auto` (official files if present, else lmms-eval Parquet), `official` or
            `lmms-eval`.
        split: the split where a benchmark has several with answers (NExT-QA `test` or `val`,
            LongVideoBench `validation` or `test`, ActivityNet-QA `test` or `val`); each
            defaults to the split its published numbers use.

    Raises:
        FileNotFoundError: no annotation files of the asked layout.
    """
    bench = benchmark_name(name)
    root = Path(root).expanduser()
    # lmms-eval's Video-MME keeps its Parquet in a "videomme/" subfolder of the benchmark folder.
    base = root / bench if root.name.lower() != bench and (root / bench).is_dir() else root
    if not base.is_dir():
        raise FileNotFoundError(f"{bench}: {base} is not a folder")
    return BENCHMARKS[bench].load(base, layout, split)


__all__ = ["ALIASES", "BENCHMARKS", "benchmark_name", "load_benchmark"]
