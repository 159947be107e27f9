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


def format_per_seed(summaries: Mapping[int, Mapping[str, Any]], ks: Sequence[int] = (2, 4, 8), kind_k: int = 8,
                    part: str = "choosers") -> str:
    """Markdown, a row a seed: own question / swap control / uniform / label ceiling recall at each
    of `ks`, then own / control recall of each question kind at `kind_k` (the control's blank
    where a kind has none). `part` "harder" reads the harder world's figures."""
    names = (("own", "selector NMS"), ("control", CONTROL), ("uniform", "uniform"), ("ceiling", "label ceiling"))
    first = summaries[next(iter(summaries))][part]
    ks = [k for k in ks if str(k) in first.get("selector NMS", {})]
    kinds = sorted(first["selector NMS"][str(kind_k)]["by_kind"]) if str(kind_k) in first.get("selector NMS", {}) else []
    header = ["seed", *(f"{short} @{k}" for short, _ in names for k in ks), *(f"{kind} @{kind_k} own / control" for kind in kinds)]

    def cell(entry: Mapping[str, Any] | None) -> str:
        return "" if entry is None else f"{entry['recall']:.3f}"

    rows = []
    for seed, summary in summaries.items():
        choosers = summary[part]
        row = [str(seed), *(cell(choosers.get(name, {}).get(str(k))) for _, name in names for k in ks)]
        for kind in kinds:
            own = choosers["selector NMS"][str(kind_k)]["by_kind"].get(kind)
            control = choosers.get(CONTROL, {}).get(str(kind_k), {}).get("by_kind", {}).get(kind)
            row.append(f"{cell(own)} / {cell(control) or 'none'}")
        rows.append(row)
    return markdown_table(header, rows, align="l" + "r" * (len(header) - 1))


def run_seeds(out: str | Path, settings: DemoSettings, seeds: Sequence[int], progress: bool = True,
              log: Callable[[str], None] = print, reference_out: str | Path | None = None) -> dict[str, Any]:
    """Run (or finish) the demo for each seed under `out/seed-N`, then `report_seeds`."""
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"--seeds {','.join(map(str, seeds))}: give distinct seeds")
    out = Path(out)
    for seed in seeds:
        log(f"\n== seed {seed} ==")
        run_demo(out / f"seed-{seed}", replace(settings, seed=seed), progress, log)
    return report_seeds(out, seeds, log, reference_out)


def report_seeds(out: str | Path, seeds: Sequence[int], log: Callable[[str], None] = print,
                 reference_out: str | Path | None = None) -> dict[str, Any]:
    """Mean ± sd and the per-seed figures of finished runs under `out/seed-N`: writes seeds.json and
    seeds.md, and with `reference_out` the seeds' headline figures that single runs are held against."""
    out = Path(out)
    summaries = {seed: json.loads((out / f"seed-{seed}" / "summary.json").read_text()) for seed in seeds}  # k as text
    aggregate = aggregate_seeds(summaries)
    if all("harder" in s for s in summaries.values()):
        aggregate["harder"] = aggregate_seeds({seed: {"choosers": s["harder"]} for seed, s in summaries.items()})
    if reference_out:
        save_reference(summaries, Path(reference_out))
    (out / "seeds.json").write_text(json.dumps(aggregate, indent=2))
    parts = [f"# The demo over seeds {', '.join(map(str, seeds))}", "",
             "Mean ± sample sd over seeds; each seed is a new world, model init and training order.", "",
             "## Evidence recall@k", "", format_seed_table(aggregate, "recall"), "",
             "## Each seed", "", format_per_seed(summaries), "",
             "## Oracle-reader accuracy@k", "", format_seed_table(aggregate, "accuracy"), ""]
    if "harder" in aggregate:
        parts += ["## The harder world", "", format_seed_table(aggregate["harder"], "recall"), "",
                  format_per_seed(summaries, part="harder"), ""]
    (out / "seeds.md").write_text("\n".join(parts))
    log(f"\nover seeds {', '.join(map(str, seeds))} (mean ± sd), evidence recall@k:")
    log(format_seed_table(aggregate, "recall"))
    log("\neach seed:")
    log(format_per_seed(summaries))
    log(f"\nper-seed reports: {out}/seed-N/report.md; spread and the harder world: {out / 'seeds.md'}")
    return aggregate


__all__ = ["aggregate_seeds", "format_seed_table", "format_per_seed", "run_seeds", "report_seeds"]
