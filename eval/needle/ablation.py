"""`frame-selector demo --ablation`: which label teaches the selector what, the paper's table on
the needle world.

For each label source (the spans, the spatial signal alone, the temporal signal alone, and their
mean, the paper's label) the table gives the labels themselves used as a selector on the held-out
questions (NMS over them: what the selector trained on them can at best learn) and the selector
trained on them, with its swap control; beside them uniform sampling, the similarity baseline and
BOLT's inverse-transform sampling over the same similarity scores, the training-free peer.

It is one demo run with `--labels pseudo` (the labellers, the label store and the selector on
the mean) plus a selector trained on each other source from the same store (`label_weights`), and
the held-out questions labelled by the same models.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from selector import CandidatePlan
from selector.markdown import markdown_table

from .demo import DemoSettings, Steps, label_with_models, run_demo, train_selector
from .world import read_questions

# Each label source: the weights training recombines the store with, and the stored column the
# labels-as-selector reads.
SOURCES: dict[str, tuple[dict[str, float], str]] = {
    "spans": ({"spans": 1.0}, "spans_label"),
    "spatial": ({"spatial": 1.0}, "spatial"),
    "temporal": ({"temporal": 1.0}, "temporal"),
    "spatial + temporal": ({"spatial": 1.0, "temporal": 1.0}, "label"),
}
PAPER = "spatial + temporal"
BASELINES = ("uniform", "similarity", "BOLT")


def _slug(source: str) -> str:
    return source.replace(" + ", "-")


def run_ablation(out: str | Path, settings: DemoSettings, progress: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The ablation of one seed under `out` (resumable like the demo); returns and writes
    `ablation.json`: {chooser: {k: figures}} for the held-out questions, and under "not trained"
    the sources whose labels training refused (all equal: nothing to learn), with the reason."""
    from ..choosers import make_chooser
    from .evaluate import evaluate_choosers, summarize, with_other_questions

    out = Path(out)
    settings = replace(settings, labels="pseudo")
    run_demo(out, settings, progress, log)
    steps = Steps(log)
    test_manifest = out / "world" / "test" / "questions.jsonl"
    labellers = {"vlm": out / "labellers" / "vlm", "text_llm": out / "labellers" / "text-llm"}
    held_out = out / "labels-test-models"
    steps("label held-out with the labellers", held_out / "labels.parquet",
          lambda: label_with_models(test_manifest, held_out, labellers, settings, progress))
    selectors, refused = {PAPER: out / "stage2" / "final"}, {}
    for source, (weights, _) in SOURCES.items():
        if source == PAPER:
            continue
        try:
            selectors[source] = train_selector(out, out / "ablation" / _slug(source), settings, steps, progress, weights)
        except ValueError as error:  # training refuses labels with nothing to learn: a finding, not a crash
            refused[source] = str(error)
            log(f"no selector trained on {source} labels: {error}")
    similarity = out / "similarity"
    choosers = {"uniform": make_chooser("uniform"), "similarity": make_chooser(f"siglip:{similarity},nms=1", device="cpu"),
                "BOLT": make_chooser(f"bolt:{similarity}", device="cpu")}
    for source, (_, column) in SOURCES.items():
        choosers[f"labels: {source}"] = make_chooser(f"oracle:{held_out},signal={column},rule=nms")
        if source in selectors:
            choosers[f"selector: {source}"] = make_chooser(f"selector:{selectors[source]}", device="cpu")
    rows = read_questions(test_manifest)
    plan, results = CandidatePlan(n=settings.candidates), out / "ablation" / "results.jsonl"
    evaluate_choosers(rows, choosers, settings.ks, plan, results, progress)
    controls = {f"selector: {source}, control": choosers[f"selector: {source}"] for source in selectors}
    every = evaluate_choosers(with_other_questions(rows), controls, settings.ks, plan, results, progress)
    controlled = {r["id"] for r in every if r["chooser"].endswith(", control")}
    # The own − control gap is taken on the questions a control was asked (multi-hop has none).
    every += [{**r, "chooser": f"{r['chooser']}, own (controlled)"} for r in every
              if r["chooser"].startswith("selector: ") and not r["chooser"].endswith(", control") and r["id"] in controlled]
    table = {**summarize(every), "not trained": refused}
    (out / "ablation.json").write_text(json.dumps(table, indent=2))
    log("\n" + format_ablation({settings.seed: json.loads(json.dumps(table))}))
    return table


def run_ablation_seeds(out: str | Path, settings: DemoSettings, seeds: Sequence[int], progress: bool = True,
                       log: Callable[[str], None] = print) -> str:
    """`run_ablation` for each seed under `out/seed-N`, then the table of means over them
    (`out/ablation.md`)."""
    out = Path(out)
    tables = {}
    for seed in seeds:
        log(f"\n== ablation, seed {seed} ==")
        run_ablation(out / f"seed-{seed}", replace(settings, seed=seed), progress, log)
        tables[seed] = json.loads((out / f"seed-{seed}" / "ablation.json").read_text())
    text = format_ablation(tables)
    (out / "ablation.md").write_text(text + "\n")
    log(f"\n{text}\n\nwritten to {out / 'ablation.md'}")
    return text


def _mean(tables: Mapping[int, Mapping[str, Any]], chooser: str, k: int, metric: str) -> float | None:
    values = [table[chooser][str(k)][metric] for table in tables.values() if str(k) in table.get(chooser, {})]
    return sum(values) / len(values) if len(values) == len(tables) else None


def format_ablation(tables: Mapping[int, Mapping[str, Any]], ks: Sequence[int] = (2, 4, 8)) -> str:
    """The ablation as a markdown table, means over the seeds given: one row per baseline and per
    label source, the labels as a selector beside the selector trained on them."""
    cell = lambda value: "" if value is None else f"{value:.3f}"  # noqa: E731
    header = ["frames from", *(f"recall@{k}" for k in ks), "accuracy@4", "swap control@4", "own − control@4"]
    rows = []
    for name in BASELINES:
        rows.append([name, *(cell(_mean(tables, name, k, "recall")) for k in ks), cell(_mean(tables, name, 4, "accuracy")), "", ""])
    for source in SOURCES:
        rows.append([f"{source} labels, as a selector", *(cell(_mean(tables, f"labels: {source}", k, "recall")) for k in ks),
                     cell(_mean(tables, f"labels: {source}", 4, "accuracy")), "", ""])
        refused = [seed for seed, table in tables.items() if source in table.get("not trained", {})]
        if refused:
            rows.append([f"the selector trained on {source} labels", f"not trained on seed(s) {', '.join(map(str, refused))}: "
                         "nothing to learn", *[""] * (len(header) - 2)])
            continue
        own = _mean(tables, f"selector: {source}, own (controlled)", 4, "recall")
        control = _mean(tables, f"selector: {source}, control", 4, "recall")
        rows.append([f"the selector trained on {source} labels", *(cell(_mean(tables, f"selector: {source}", k, "recall")) for k in ks),
                     cell(_mean(tables, f"selector: {source}", 4, "accuracy")), cell(control),
                     cell(None if own is None or control is None else own - control)])
    seeds = ", ".join(map(str, tables))
    return f"Held-out questions, mean over seed(s) {seeds}:\n\n" + markdown_table(header, rows, align="l" + "r" * (len(header) - 1))


__all__ = ["SOURCES", "format_ablation", "run_ablation", "run_ablation_seeds"]
