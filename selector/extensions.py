"""Extension points that grow by adding one module.

A benchmark (`eval.benchmarks`) or a downstream model (`selector.handoff`) is one module that
defines one agreed attribute; its package's registry collects every such module here. So adding
one touches that module and its test, never a list kept elsewhere.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def collect(package: str, attribute: str) -> list[Any]:
    """The `attribute` of every module of `package` that defines it, in module-name order.

    A tuple or list contributes each of its items, so one module may register several objects
    (the Qwen hand-off registers each Qwen generation). Modules without the attribute (shared
    helpers) are imported and skipped.
    """
    found: list[Any] = []
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        value = getattr(importlib.import_module(f"{package}.{module.name}"), attribute, None)
        if value is not None:
            found += list(value) if isinstance(value, (tuple, list)) else [value]
    return found


__all__ = ["collect"]
