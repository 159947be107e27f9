"""Chooser name -> factory: how a spec such as `siglip:MODEL,nms=1` becomes a chooser.

A spec's arguments are comma-separated; the first may be positional (a model id or a path), so
a path cannot contain a comma.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from .base import Chooser
from .bolt import BoltChooser
from .oracle import OracleChooser
from .scene import SceneChangeChooser
from .similarity import DEFAULT_CLIP, DEFAULT_SIGLIP, SimilarityChooser
from .selector_chooser import SelectorChooser
from .uniform import UniformChooser

Device = str | torch.device | None


@dataclass(frozen=True)
class ChooserFactory:
    """One chooser family of the spec language.

    Attributes:
        arguments: the `key=value` arguments it takes.
        target: what its positional argument is: `none` (it takes none), `model` (an optional
            model id) or `path` (a required checkpoint or label store).
        build: the chooser from the positional argument, the `key=value` arguments (already
            checked against `arguments`) and the device.
    """

    arguments: frozenset[str]
    target: Literal["none", "model", "path"]
    build: Callable[[str | None, dict[str, str], Device], Chooser]


def _flag(value: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a yes/no value")


def _delta(options: dict[str, str]) -> int | None:
    return int(options["delta"]) if "delta" in options else None


def _similarity(family: str) -> Callable[[str | None, dict[str, str], Device], Chooser]:
    """The SigLIP or CLIP factory; refuses a checkpoint of the other family, so a spec's name
    says what ran."""

    def build(target: str | None, options: dict[str, str], device: Device) -> Chooser:
        model = target or options.get("model") or (DEFAULT_CLIP if family == "clip" else DEFAULT_SIGLIP)
        scorer = SimilarityChooser(model, nms=_flag(options.get("nms", "0")), delta=_delta(options), device=device,
                                   batch_size=int(options.get("batch", 32)))
        if scorer.family != family:
            raise ValueError(f"{model} is a {scorer.family} checkpoint, not {family}")
        return scorer

    return build


def _bolt(target: str | None, options: dict[str, str], device: Device) -> Chooser:
    scorer = SimilarityChooser(target or options.get("model") or DEFAULT_SIGLIP, device=device, batch_size=int(options.get("batch", 32)))
    return BoltChooser(scorer, power=float(options.get("power", 1.0)))


CHOOSERS: dict[str, ChooserFactory] = {
    "uniform": ChooserFactory(frozenset(), "none", lambda target, options, device: UniformChooser()),
    "siglip": ChooserFactory(frozenset({"model", "nms", "delta", "batch"}), "model", _similarity("siglip")),
    "clip": ChooserFactory(frozenset({"model", "nms", "delta", "batch"}), "model", _similarity("clip")),
    "scene": ChooserFactory(
        frozenset({"bins", "size"}), "none",
        lambda target, options, device: SceneChangeChooser(bins=int(options.get("bins", 8)), size=int(options.get("size", 64))),
    ),
    "bolt": ChooserFactory(frozenset({"model", "power", "batch"}), "model", _bolt),
    "selector": ChooserFactory(
        frozenset({"path", "rule", "delta"}), "path",
        lambda target, options, device: SelectorChooser(target, rule=options.get("rule", "nms"), delta=_delta(options), device=device),
    ),
    "oracle": ChooserFactory(
        frozenset({"path", "signal", "rule", "delta"}), "path",
        lambda target, options, device: OracleChooser(
            target, signal=options.get("signal", "label"), rule=options.get("rule", "topk"), delta=_delta(options)
        ),
    ),
}
CHOOSER_NAMES = tuple(CHOOSERS)


def make_chooser(spec: str, *, device: Device = None) -> Chooser:
    """A chooser from a spec such as `uniform`, `siglip:google/siglip-so400m-patch14-384,nms=1`,
    `clip:openai/clip-vit-large-patch14`, `scene:bins=8`, `bolt:power=2`,
    `selector:/path/to/ckpt,rule=topk` or `oracle:/path/to/labels,signal=spatial`.

    Raises:
        ValueError: an unknown chooser, argument or value.
    """
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower()
    parts = [p.strip() for p in rest.split(",") if p.strip()] if rest else []
    positional = [p for p in parts if "=" not in p]
    options = {k.strip(): v.strip() for k, v in (p.split("=", 1) for p in parts if "=" in p)}
    if len(positional) > 1:
        raise ValueError(f"{spec!r}: at most one positional argument (a model id or path); a path cannot contain ','")
    factory = CHOOSERS.get(name)
    if factory is None:
        raise ValueError(f"unknown chooser {name!r}; choose from {CHOOSER_NAMES}")
    target = positional[0] if positional else None
    if set(options) - factory.arguments or (target is not None and factory.target == "none"):
        raise ValueError(f"{spec!r}: {name} takes {sorted(factory.arguments) or 'no arguments'}")
    if factory.target == "path":
        target = target or options.get("path")
        if not target:
            raise ValueError(f"{spec!r}: {name} needs a path ({name}:PATH)")
    return factory.build(target, options, device)


__all__ = ["CHOOSERS", "CHOOSER_NAMES", "ChooserFactory", "make_chooser"]
