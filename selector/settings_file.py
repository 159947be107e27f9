"""Settings from a YAML file plus `key=value` overrides: the one way a command reads a settings
file (`frame-selector train --config stage1.yaml lr=1e-4 ...`).

A settings dataclass is filled from the file's mapping, then from each override (its value read
as YAML, so `epochs=2` is a number and `label_weights={spatial: 1}` a mapping), then from keyword
values given in Python. Every error is a ValueError whose one line names what is wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


def settings_values(path: str | None = None, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The mapping in the YAML file `path` (none: empty), updated by each `key=value` override."""
    data: dict[str, Any] = {}
    if path:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"config {path} is not a mapping")
        data.update(loaded)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not key=value")
        data[key.strip()] = yaml.safe_load(value)
    return data


def load_settings(settings_type: type[T], path: str | None = None, overrides: Sequence[str] = (), what: str = "setting",
                  **values: Any) -> T:
    """`settings_type` from the file, the overrides, then `values` (None leaves a value as it is).

    A name that is no field is refused (`what` says what the fields are, e.g. "training setting").
    A field whose default is a number takes the value as that number: YAML reads `1e-5` as a string.
    """
    data = settings_values(path, overrides)
    data.update({k: v for k, v in values.items() if v is not None})
    fields = dataclasses.fields(settings_type)
    unknown = sorted(set(data) - {f.name for f in fields})
    if unknown:
        raise ValueError(f"unknown {what}(s): {', '.join(unknown)}")
    for f in fields:
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.name in data and isinstance(default, (int, float)) and not isinstance(default, bool):
            try:
                data[f.name] = type(default)(data[f.name])
            except (TypeError, ValueError):
                raise ValueError(f"{f.name} must be a number, not {data[f.name]!r}") from None
    return settings_type(**data)


__all__ = ["settings_values", "load_settings"]
