"""Finding a benchmark's files: its annotation layout, its annotation rows and its videos."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

Layout = Literal["auto", "official", "lmms-eval"]
VIDEO_EXTENSIONS = (".mp4", ".MP4", ".mkv", ".webm")
_STRING_OR_TRAILING_COMMA = re.compile(r'"(?:\\.|[^"\\])*"|,(\s*[}\]])')


def resolve_video(dirs: Sequence[Path], names: Sequence[str]) -> tuple[str, str | None]:
    """The first existing file among `dirs` x `names` x the video extensions.

    Returns `(path, None)`, or `(first path tried, problem)` so the record still names the file
    it expected. A name with an extension is tried as given first, then with the others.
    """
    tried: list[Path] = []
    for directory in dirs:
        for name in names:
            if not name:
                continue
            given = directory / name
            stem = given.with_suffix("") if given.suffix.lower() in {e.lower() for e in VIDEO_EXTENSIONS} else given
            for path in [given, *(stem.with_name(stem.name + ext) for ext in VIDEO_EXTENSIONS)]:
                if path in tried:
                    continue
                tried.append(path)
                if path.is_file():
                    return os.fspath(path), None
    if not tried:
        return "", "no video name in the row"
    shown = ", ".join(os.fspath(p) for p in tried[:5]) + (f" and {len(tried) - 5} more" if len(tried) > 5 else "")
    return os.fspath(tried[0]), f"video not found: tried {shown}"


def read_json(path: Path, trailing_commas: bool = False) -> Any:
    """A JSON file; `trailing_commas` also reads files published with a comma before a closing
    bracket (Video-MME's `output_test_template.json`), which strict JSON rejects."""
    text = path.read_text(encoding="utf-8")
    return json.loads(without_trailing_commas(text) if trailing_commas else text)


def without_trailing_commas(text: str) -> str:
    """JSON text without the commas that directly precede a `}` or `]`; strings are matched
    whole first, so a comma inside one is left alone and only what strict JSON rejects changes."""
    return _STRING_OR_TRAILING_COMMA.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(0), text)


def read_parquet(paths: Sequence[Path]) -> list[tuple[str, dict]]:
    """Every row of the files as `(file#row, row)`, the first half naming the row in problems."""
    import pyarrow.parquet as pq  # here, not above: the registry is read by `--help`, which reads no Parquet

    rows = []
    for path in paths:
        rows += [(f"{path}#{i}", row) for i, row in enumerate(pq.read_table(path).to_pylist())]
    return rows


def find_files(base: Path, patterns: Sequence[str]) -> list[Path]:
    """Files of the first glob pattern that matches anything, sorted (shards in order)."""
    for pattern in patterns:
        found = sorted(p for p in base.glob(pattern) if p.is_file())
        if found:
            return found
    return []


def pick_layout(bench: str, layout: Layout, official: bool, parquet: list[Path], expected: str) -> str:
    """The layout to read: the one asked for, or with `auto` the official files when they are
    there, else the Parquet files; `expected` names the files in the error when neither is."""
    if layout not in ("auto", "official", "lmms-eval"):
        raise ValueError(f"layout must be 'auto', 'official' or 'lmms-eval', not {layout!r}")
    if layout == "official" and not official:
        raise FileNotFoundError(f"{bench}: no official annotation files ({expected})")
    if layout == "lmms-eval" and not parquet:
        raise FileNotFoundError(f"{bench}: no lmms-eval Parquet files ({expected})")
    if layout == "auto":
        if official:
            return "official"
        if parquet:
            return "lmms-eval"
        raise FileNotFoundError(f"{bench}: neither official nor lmms-eval annotation files found ({expected})")
    return layout


__all__ = ["Layout", "VIDEO_EXTENSIONS", "find_files", "pick_layout", "read_json", "read_parquet", "resolve_video", "without_trailing_commas"]
