"""The figures a demo run is held against: the README's table, kept beside the code.

A single demo run gives one seed's numbers. Without a reference a user cannot tell a normal run
from a broken one, so `reference.json` keeps, for the default settings, the headline figures of
every seed of a multi-seed run (`frame-selector demo --seeds 0,1,2,3,4 --reference-out ...`), and
every run prints where it falls among them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .evaluate import CONTROL, OWN_WITH_CONTROL

REFERENCE = Path(__file__).with_name("reference.json")
# Settings that choose what is reported, not what is measured.
_NOT_COMPARED = ("seed", "ks")
# Settings of the labellers, which a run on the ground-truth spans never trains.
_LABELLER = ("labeller_videos", "labeller")
# (label, chooser or (better, base) gap, k) of the headline figures.
HEADLINE: tuple[tuple[str, Any, int], ...] = (
    ("own question, recall@2", "selector NMS", 2),
    ("own question, recall@4", "selector NMS", 4),
    ("own question, recall@8", "selector NMS", 8),
    ("swap control, recall@4", CONTROL, 4),
    ("own − control, recall@4", (OWN_WITH_CONTROL, CONTROL), 4),
    ("uniform, recall@4", "uniform", 4),
)


def compared_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that decide a run's figures (as JSON values): two runs that agree on these
    and on the seed give the same figures."""
    skip = _NOT_COMPARED + (_LABELLER if settings.get("labels", "spans") == "spans" else ())
    return {key: value for key, value in json.loads(json.dumps(dict(settings))).items() if key not in skip}


def headline_values(choosers: Mapping[str, Mapping[Any, Mapping[str, Any]]]) -> dict[str, float]:
    """The headline figures of one run's summary (keys as the summary file has them)."""
    values: dict[str, float] = {}
    for label, what, k in HEADLINE:
        names = what if isinstance(what, tuple) else (what,)
        entries = [choosers.get(name, {}).get(str(k), choosers.get(name, {}).get(k)) for name in names]
        if all(entries):
            recall = [entry["recall"] for entry in entries]
            values[label] = recall[0] - recall[1] if len(recall) == 2 else recall[0]
    return values


def save_reference(summaries: Mapping[int, Mapping[str, Any]], path: Path = REFERENCE) -> Path:
    """Write the headline figures of each seed's summary (all run with the same settings)."""
    first = next(iter(summaries.values()))
    if any(compared_settings(s["settings"]) != compared_settings(first["settings"]) for s in summaries.values()):
        raise ValueError("a reference needs seeds run with the same settings")
    record = {"settings": compared_settings(first["settings"]),
              "seeds": {str(seed): headline_values(s["choosers"]) for seed, s in summaries.items()}}
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def compare_to_reference(summary: Mapping[str, Any], path: Path = REFERENCE) -> list[str]:
    """Lines saying where this run's headline figures fall among the reference seeds'."""
    if not path.exists():
        return [f"no reference figures ({path} is missing)"]
    reference = json.loads(path.read_text())
    if compared_settings(summary["settings"]) != reference["settings"]:
        changed = sorted(key for key, value in compared_settings(summary["settings"]).items() if reference["settings"].get(key) != value)
        return [f"no reference for these settings (they differ in {', '.join(changed)}): compare runs of the same settings"]
    seed = str(summary["settings"]["seed"])
    seeds = reference["seeds"]
    lines = [f"this run (seed {seed}) against the reference seeds {', '.join(seeds)} (mean ± sd, range):"]
    unusual = []
    for label, value in headline_values(summary["choosers"]).items():
        known = np.array([s[label] for s in seeds.values() if label in s])
        if not len(known):
            continue
        mean, sd = float(known.mean()), float(known.std(ddof=1)) if len(known) > 1 else 0.0
        note = ""
        if seed in seeds and label in seeds[seed]:
            diff = value - seeds[seed][label]
            note = "; the reference's own run of this seed: the same" if abs(diff) < 5e-4 else f"; this seed there: {seeds[seed][label]:.3f}"
        if abs(value - mean) > 3 * max(sd, 0.02):
            unusual.append(label)
        lines.append(f"  {label}: {value:.3f}  (reference {mean:.3f} ± {sd:.3f}, {known.min():.3f}-{known.max():.3f}{note})")
    lines.append(f"  outside mean ± 3 sd: {', '.join(unusual)}: not a normal run" if unusual else "  every figure within mean ± 3 sd: a normal run")
    return lines


def spans_figures(summary: Mapping[str, Any], path: Path = REFERENCE) -> dict[str, float] | None:
    """The reference's headline figures for this seed of the same run trained on the spans: what
    a run on pseudo-labels is held against, without training a second selector (a run is a
    function of its settings and seed). None when the reference has no such run."""
    if not path.exists():
        return None
    reference = json.loads(path.read_text())
    if compared_settings({**summary["settings"], "labels": "spans"}) != reference["settings"]:
        return None
    return reference["seeds"].get(str(summary["settings"]["seed"]))


__all__ = ["REFERENCE", "HEADLINE", "compared_settings", "spans_figures", "headline_values", "save_reference", "compare_to_reference"]
