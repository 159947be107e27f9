"""Every downstream model and route the hand-off serves, by name: the `HANDOFF` of each module of
this package, collected (`selector.extensions.collect`). `to_inputs`, `prepare_inputs`, `eval`'s
downstream models, the lmms-eval plug-in and `serve` look targets up here, so a new downstream
model is one module defining `HANDOFF`, plus its test."""

from __future__ import annotations

from typing import Any

from ..extensions import collect
from .target import Target, detect


def _registry() -> dict[str, Target]:
    """Targets by name; a name given twice is an error, so two modules never claim one target."""
    table: dict[str, Target] = {}
    for target in collect(__package__, "HANDOFF"):
        if target.name in table:
            raise RuntimeError(f"hand-off target {target.name!r} is registered twice")
        table[target.name] = target
    return table


HANDOFFS = _registry()
TARGETS = tuple(name for name, target in HANDOFFS.items() if target.processor is not None)
ROUTES = tuple(name for name, target in HANDOFFS.items() if target.processor is None)


def target_of(processor: Any) -> str | None:
    """The hand-off target for a processor instance, or ``None`` when it is not supported."""
    found = detect(processor, HANDOFFS.values())
    return found.name if found is not None else None


__all__ = ["HANDOFFS", "ROUTES", "TARGETS", "target_of"]
