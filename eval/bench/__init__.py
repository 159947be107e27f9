"""`frame-selector bench NAME`: side-by-side measurements, each printed as markdown tables with
absolute figures, ratios measured in the same run, and the exact command line.

A benchmark is a module of this package with a `Settings` dataclass (its options, see
`selector.cli_support`) and `run(settings, report)`; its docstring's first line is its help.
They sit in the top layer, above what they measure, so each times the real thing: the selector
(`questions`, `decode`, `real-size`, `serve`), the label job (`label`), the feature cache and
training (`train-input`); `gpu` runs the others at real sizes. Variants are switched through the
library's public parameters (`selector.video.DecodeOptions`, `packed=`). `bench all` runs every
one of them with its default settings. `frame-selector` finds the command through the
`frame_selector.commands` entry point, like `eval` and `demo`.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from selector.cli_support import UsageError, add_command, at_least, settings_from

MODULES = {
    "questions": "eval.bench.questions",
    "decode": "eval.bench.decode",
    "real-size": "eval.bench.realsize",
    "serve": "eval.bench.serve",
    "gpu": "eval.bench.gpu",
    "label": "eval.bench.label",
    "train-input": "eval.bench.train_input",
}


@dataclass
class BenchOutput:
    """Options every benchmark takes besides its own."""

    torch_threads: int | None = field(default=None, metadata={"help": "torch CPU threads (default: torch's choice)"})
    json: str | None = field(default=None, metadata={"help": "also write the results (tables, command, machine) as JSON here"})


@dataclass
class AllSettings:
    """`bench all`: every benchmark at its default settings."""

    skip: list[str] = field(default_factory=list, metadata={"repeat": True, "metavar": "NAME", "help": "leave this one out (repeatable)"})
    json: str | None = field(default=None, metadata={"help": "write all results as one JSON list here"})


def benchmarks() -> dict[str, ModuleType]:
    """Every benchmark by its command name, in the order `bench all` runs them."""
    return {name: importlib.import_module(path) for name, path in MODULES.items()}


def _summary(module: ModuleType) -> str:
    return (module.__doc__ or "").strip().split("\n")[0]


def _json_target(path: str | None) -> None:
    if path and not Path(path).resolve().parent.is_dir():
        raise UsageError(f"cannot write {path}: its directory does not exist")


def run_benchmark(name: str, module: ModuleType, settings: object, output: BenchOutput, argv: list[str]) -> dict:
    """Run one benchmark with its settings; `argv` is the command line its report shows."""
    import torch

    from .report import Report

    _json_target(output.json)
    threads, grad = torch.get_num_threads(), torch.is_grad_enabled()
    try:  # what a benchmark changes for itself is given back (benchmarks also run inside tests)
        if output.torch_threads is not None:
            torch.set_num_threads(at_least(output.torch_threads, 1, "--torch-threads"))
        report = Report(name, argv, getattr(settings, "device", None))
        module.run(settings, report)
    finally:
        torch.set_num_threads(threads)
        torch.set_grad_enabled(grad)
    if output.json:
        report.write_json(output.json)
    return report.data


def _run_all(settings: AllSettings) -> None:
    import json

    _json_target(settings.json)
    found = benchmarks()
    unknown = sorted(set(settings.skip) - set(found))
    if unknown:
        raise UsageError(f"--skip: no benchmark named {', '.join(unknown)} (there are {', '.join(found)})")
    results = []
    for name, module in found.items():
        if name in settings.skip or not getattr(module, "IN_ALL", True):
            continue
        print(f"\n## {name}\n", flush=True)
        results.append(run_benchmark(name, module, module.Settings(), BenchOutput(), ["bench", name]))
    if settings.json:
        Path(settings.json).write_text(json.dumps(results, indent=2, default=str) + "\n")


def _command(name: str, module: ModuleType):
    def run(args: argparse.Namespace) -> dict:
        return run_benchmark(name, module, settings_from(args, module.Settings), settings_from(args, BenchOutput), args.argv)

    return run


def register(sub: argparse._SubParsersAction) -> None:
    """Add `bench NAME` (one per benchmark) and `bench all` to `frame-selector`'s commands."""
    bench = sub.add_parser("bench", help="measure side by side: questions, decode, real-size, serve, train-input, label, gpu, all",
                           description=__doc__.split("\n\n")[0])
    names = bench.add_subparsers(dest="bench", required=True, metavar="NAME")
    for name, module in benchmarks().items():
        parser = names.add_parser(name, dataclass_types=[module.Settings, BenchOutput], help=_summary(module),
                                  description=module.__doc__)
        parser.set_defaults(func=_command(name, module))
    add_command(names, "all", AllSettings, _run_all, help="every benchmark at its default settings")


__all__ = ["benchmarks", "register", "run_benchmark", "BenchOutput", "AllSettings", "MODULES"]
