"""What a benchmark prints and keeps: markdown tables (with absolute figures, ratios measured in
the same run and the exact command line), notes, the machine they ran on, and optionally JSON."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from selector.hardware import usable_cores
from selector.markdown import markdown_table


def gib(n: float) -> str:
    """Bytes as GiB with two decimals."""
    return f"{n / 2**30:.2f}"


def machine(device: str | None = None) -> str:
    """One line: CPU, cores, torch threads, and the GPU when one is used."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = f"{cpu}, {usable_cores()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    if device and torch.device(device).type == "cuda" and torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name(device)}"
    return text


def fmt(value: object, digits: int = 3) -> str:
    """A table cell: floats to a few significant places, '-' for what was not measured."""
    if isinstance(value, float):
        if value != value:  # nan: not measured
            return "-"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.{digits}f}"
    return "-" if value is None else str(value)


def ratio(value: float, reference: float) -> str:
    """'2.50x' (value / reference), '-' when either side is missing."""
    if not reference or value is None:
        return "-"
    quotient = value / reference
    return "-" if quotient != quotient else f"{quotient:.2f}x"  # nan: a side was not measured


def share(part: float, whole: float) -> str:
    """'32%' of the whole, '-' when either side is missing."""
    if not whole or part is None or part != part or whole != whole:
        return "-"
    return f"{100 * part / whole:.0f}%" if part / whole >= 0.01 else f"{100 * part / whole:.1f}%"


class Report:
    """Tables printed as they are measured (markdown, ready for the README), kept for `--json`."""

    def __init__(self, bench: str, argv: Sequence[str], device: str | None = None, stream=None):
        self.bench = bench
        self.command = shlex.join(["frame-selector", *argv])
        self.stream = stream or sys.stdout
        self.data: dict = {"bench": bench, "command": self.command, "machine": machine(device), "tables": [], "notes": []}
        self._print(f"command: {self.command}")
        self._print(f"machine: {self.data['machine']}")

    def _print(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def note(self, text: str) -> None:
        self.data["notes"].append(text)
        self._print(text)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[object]], note: str | None = None) -> None:
        self._print()
        self._print(f"### {title}")
        self._print()
        self._print(markdown_table(columns, [[fmt(c) for c in row] for row in rows]))
        if note:
            self._print()
            self._print(note)
        self.data["tables"].append({"title": title, "columns": list(columns), "rows": [list(r) for r in rows], "note": note})

    def write_json(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.data, indent=2, default=_jsonable) + "\n")


def _jsonable(value: object) -> object:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    return str(value)


__all__ = ["Report", "fmt", "gib", "machine", "ratio", "share"]
