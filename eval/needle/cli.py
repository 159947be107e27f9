"""`frame-selector demo`: the needle world, labelled, trained on and evaluated, end to end.

Its options are the fields of `DemoSettings` (the run's sizes) and of `DemoCommandSettings`
(where it runs, and how many seeds)."""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from selector.cli_support import UsageError, int_tuple_option, settings_from

from .demo import DemoSettings


@dataclass
class DemoCommandSettings:
    """Where `frame-selector demo` works, over which seeds, and how it reports."""

    out: str = field(default="demo-out/needle", metadata={"help": "working folder (an interrupted demo resumes here)"})
    seeds: tuple[int, ...] = field(default=(), metadata={
        "parse": int_tuple_option(minimum=0),
        "help": "comma-separated seeds: one run each under --out/seed-N, then mean ± sd over them (instead of --seed)"})
    reference_out: str = field(default="", metadata={
        "help": "with --seeds: also write the seeds' headline figures here (eval/needle/reference.json is what every run is held against)"})
    ablation: bool = field(default=False, metadata={
        "help": "the label ablation (runs with --labels pseudo): the spans, spatial, temporal and their mean, each as labels and as "
                "the selector trained on them, beside uniform, similarity and BOLT"})
    fresh: bool = field(default=False, metadata={"help": "delete --out first instead of resuming"})
    no_progress: bool = False


def cmd_demo(command: DemoCommandSettings, settings: DemoSettings) -> None:
    if command.seeds and settings.seed != DemoSettings.seed:
        raise UsageError("give --seed or --seeds, not both")
    if command.reference_out and not command.seeds:
        raise UsageError("--reference-out needs --seeds: a reference is the spread over several seeds")
    if command.reference_out and command.ablation:
        raise UsageError("--reference-out belongs to the demo's seeds, not to --ablation")
    if any(k > settings.candidates for k in settings.ks):
        raise UsageError(f"--ks {','.join(map(str, settings.ks))}: every k must be between 1 and --candidates ({settings.candidates})")
    if settings.threads < 1 or settings.harder_videos < 0:
        raise UsageError("--threads must be >= 1 and --harder-videos >= 0")
    if settings.train_videos < 2 or settings.test_videos < 1:
        raise UsageError("--train-videos must be >= 2 and --test-videos >= 1")
    out = Path(command.out)
    if command.fresh and out.exists():
        shutil.rmtree(out)
    if command.ablation:
        from .ablation import run_ablation, run_ablation_seeds

        if command.seeds:
            run_ablation_seeds(out, settings, list(command.seeds), progress=not command.no_progress)
        else:
            run_ablation(out, settings, progress=not command.no_progress)
    elif command.seeds:
        from .seeds import run_seeds

        run_seeds(out, settings, list(command.seeds), progress=not command.no_progress, reference_out=command.reference_out or None)
    else:
        from .demo import run_demo

        run_demo(out, settings, progress=not command.no_progress)


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", dataclass_types=[DemoCommandSettings, DemoSettings],
                          help="build the needle world, label it, train a small selector, compare choosers, write a report")
    demo.set_defaults(func=lambda args: cmd_demo(settings_from(args, DemoCommandSettings), settings_from(args, DemoSettings)))


__all__ = ["DemoCommandSettings", "cmd_demo", "register"]
