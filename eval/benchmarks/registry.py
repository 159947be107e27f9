"""Benchmark name -> loader: the one place a runner or CLI looks a benchmark up."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..records import Record
from .activitynetqa import load_activitynetqa
from .egoschema import load_egoschema
from .files import Layout
from .longvideobench import load_longvideobench
from .mlvu import load_mlvu
from .nextqa import load_nextqa
from .videomme import load_videomme

Loader = Callable[[Path, Layout, "str | None"], list[Record]]

LOADERS: dict[str, Loader] = {
    "videomme": load_videomme,
    "longvideobench": load_longvideobench,
    "nextqa": load_nextqa,
    "egoschema": load_egoschema,
    "activitynetqa": load_activitynetqa,
    "mlvu": load_mlvu,
}
ALIASES = {
    "video-mme": "videomme",
    "lvb": "longvideobench",
    "next-qa": "nextqa",
    "nextqa_mc": "nextqa",
    "egoschema_subset": "egoschema",
    "activitynet-qa": "activitynetqa",
    "anetqa": "activitynetqa",
    "mlvu_dev": "mlvu",
}


def benchmark_name(name: str) -> str:
    """The canonical name of a benchmark (accepts the common spellings)."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in LOADERS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {sorted(LOADERS)}")
    return key


def load_benchmark(name: str, root: str | os.PathLike, layout: Layout = "auto", split: str | None = None) -> list[Record]:
    """Every question of a benchmark under `root`, normalised, problems flagged.

    Args:
        name: `videomme`, `longvideobench`, `nextqa`, `egoschema`, `activitynetqa`, `mlvu`
            (or a common alias such as `video-mme`, `lvb`).
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
    return LOADERS[bench](base, layout, split)


__all__ = ["ALIASES", "LOADERS", "Loader", "benchmark_name", "load_benchmark"]
