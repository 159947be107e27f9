"""The demo over several seeds: one seed's margin says little, so the spread is reported with it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from selector.markdown import markdown_table

from .demo import DemoSettings, run_demo
from .evaluate import CONTROL, OWN_WITH_CONTROL
from .reference import save_reference

METRICS = ("recall", "accuracy")
# The comparisons the demo exists to show: the selector against uniform sampling, and its own
# question against the swap control on the same questions (a question-blind selector has no
# margin there).
MARGINS = (("selector NMS", "uniform"), (OWN_WITH_CONTROL, CONTROL))


def aggregate_seeds(summaries: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """Mean, sample sd and per-seed values of every chooser's metrics at every k, and of the
    selector's margins over uniform and over the swap control (taken per seed, since both sides
    see the same world)."""
    if not summaries:
        raise ValueError("no seed summaries to aggregate")
    seeds = list(summaries)
    first = summaries[seeds[0]]["choosers"]

    def spread(values: list[float]) -> dict[str, Any]:
        return {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, "values": values}

    choosers: dict[str, dict[str, dict[str, Any]]] = {}
    for name, by_k in first.items():
        choosers[name] = {k: {m: spread([summaries[s]["choosers"][name][k][m] for s in seeds]) for m in METRICS} for k in by_k}
    result: dict[str, Any] = {"seeds": seeds, "choosers": choosers, "margins": {}}
    for better, base in MARGINS:
        if better in first and base in first:
            result["margins"][f"{better} - {base}"] = {
                k: {m: spread([summaries[s]["choosers"][better][k][m] - summaries[s]["choosers"][base][k][m] for s in seeds]) for m in METRICS}
                for k in first[better] if k in first[base]
            }
    return result


def format_seed_table(aggregate: Mapping[str, Any], metric: str = "recall") -> str:
    """Markdown: mean ± sd over seeds for every chooser at every k, then the margin rows."""
    choosers = aggregate["choosers"]
    ks = sorted(next(iter(choosers.values())), key=int)
    rows = [[name, *(f"{by_k[k][metric]['mean']:.3f} ± {by_k[k][metric]['sd']:.3f}" for k in ks)]
            for name, by_k in [*choosers.items(), *aggregate.get("margins", {}).items()]]
    return markdown_table(["chooser", *(f"k={k}" for k in ks)], rows, align="l" + "r" * len(ks))


def run_seeds(out: str | Path, settings: DemoSettings, seeds: Sequence[int], progress: bool = True,
              log: Callable[[str], None] = print, reference_out: str | Path | None = None) -> dict[str, Any]:
    """Run (or finish) the demo for each seed under `out/seed-N`; writes seeds.json and seeds.md,
    and with `reference_out` the seeds' headline figures that single runs are held against."""
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"--seeds {','.join(map(str, seeds))}: give distinct seeds")
    out = Path(out)
    summaries = {}
    for seed in seeds:
        log(f"\n== seed {seed} ==")
        run_demo(out / f"seed-{seed}", replace(settings, seed=seed), progress, log)
        summaries[seed] = json.loads((out / f"seed-{seed}" / "summary.json").read_text())  # k as text, as every reader sees it
    aggregate = aggregate_seeds(summaries)
    if reference_out:
        save_reference(summaries, Path(reference_out))
    (out / "seeds.json").write_text(json.dumps(aggregate, indent=2))
    text = (f"# The demo over seeds {', '.join(map(str, seeds))}\n\nMean ± sample sd over seeds; each seed is a new world, model "
            f"init and training order.\n\n## Evidence recall@k\n\n{format_seed_table(aggregate, 'recall')}\n\n"
            f"## Oracle-reader accuracy@k\n\n{format_seed_table(aggregate, 'accuracy')}\n")
    (out / "seeds.md").write_text(text)
    log(f"\nover seeds {', '.join(map(str, seeds))} (mean ± sd), evidence recall@k:")
    log(format_seed_table(aggregate, "recall"))
    log("\noracle-reader accuracy@k:")
    log(format_seed_table(aggregate, "accuracy"))
    log(f"\nper-seed reports: {out}/seed-N/report.md; spread: {out / 'seeds.md'}")
    return aggregate


__all__ = ["aggregate_seeds", "format_seed_table", "run_seeds"]
