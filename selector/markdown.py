"""Markdown tables, the one format every report and benchmark prints: padded so they read as a
table in a terminal or a log, and paste into the README unchanged."""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A table of ``str(cell)`` values, each column padded to its widest cell.

    ``align`` has one letter per column, ``l`` or ``r`` (default: all left); right-aligned columns
    get a ``---:`` rule so rendered markdown aligns them too, which suits numbers.
    """
    align = align or "l" * len(columns)
    if len(align) != len(columns) or set(align) - {"l", "r"}:
        raise ValueError(f"align: one of 'l' or 'r' per column ({len(columns)}), got {align!r}")
    cells = [[str(c) for c in row] for row in rows]
    for row in cells:
        if len(row) != len(columns):
            raise ValueError(f"rows: {len(row)} cells in {row!r}, expected one per column {list(columns)}")
    widths = [max([len(col)] + [len(r[i]) for r in cells]) for i, col in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        padded = (v.rjust(w) if a == "r" else v.ljust(w) for v, w, a in zip(values, widths, align))
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 1) + (":" if a == "r" else "-") for w, a in zip(widths, align)) + "|"
    return "\n".join([line(list(columns)), rule, *(line(r) for r in cells)])


__all__ = ["markdown_table"]
