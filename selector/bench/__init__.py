"""`frame-selector bench NAME`: side-by-side measurements, each printed as markdown tables with
absolute figures, ratios measured in the same run, and the exact command line.

A benchmark is a module with `add_arguments(parser)` and `run(args, report)`; its docstring's
first line is its help. The core library's own live here (`questions`, `decode`, `real-size`);
the packages built on it register theirs through the `frame_selector.benchmarks` entry-point
group (name = module path), so `selector` never imports them. `bench all` runs every one of them
with its default settings.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

BUILTIN = {
    "questions": "selector.bench.questions",
    "decode": "selector.bench.decode",
    "real-size": "selector.bench.realsize",
}
GROUP = "frame_selector.benchmarks"


def benchmarks() -> dict[str, ModuleType]:
    """Every benchmark: the built-in ones, then those registered by installed packages."""
    found = {name: importlib.import_module(path) for name, path in BUILTIN.items()}
    for entry in entry_points(group=GROUP):
        if entry.name not in found:
            found[entry.name] = entry.load()
    return found


def _summary(module: ModuleType) -> str:
    return (module.__doc__ or "").strip().split("\n")[0]


def _json_target(path: str | None) -> None:
    from ..cli import UsageError

    if path and not Path(path).resolve().parent.is_dir():
        raise UsageError(f"cannot write {path}: its directory does not exist")


def _run_one(name: str, module: ModuleType, args: argparse.Namespace, argv: list[str] | None = None) -> dict:
    import torch

    from .common import Report, at_least

    _json_target(getattr(args, "json", None))
    argv = argv if argv is not None else getattr(args, "argv", None) or sys.argv[1:]
    threads, grad = torch.get_num_threads(), torch.is_grad_enabled()
    try:  # what a benchmark changes for itself is given back (benchmarks also run inside tests)
        if args.torch_threads is not None:
            torch.set_num_threads(at_least(args.torch_threads, 1, "--torch-threads"))
        report = Report(name, argv, getattr(args, "device", None))
        module.run(args, report)
    finally:
        torch.set_num_threads(threads)
        torch.set_grad_enabled(grad)
    if getattr(args, "json", None):
        report.write_json(args.json)
    return report.data


def _run_all(args: argparse.Namespace) -> None:
    import json

    from ..cli import UsageError, build_parser

    _json_target(args.json)
    found = benchmarks()
    unknown = sorted(set(args.skip) - set(found))
    if unknown:
        raise UsageError(f"--skip: no benchmark named {', '.join(unknown)} (there are {', '.join(found)})")
    parser = build_parser()
    results = []
    for name, module in found.items():
        if name in args.skip:
            continue
        argv = ["bench", name]
        print(f"\n## {name}\n", flush=True)
        results.append(_run_one(name, module, parser.parse_args(argv), argv))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="measure side by side: questions, decode, real-size, train-input, label, all",
                           description=__doc__.split("\n\n")[0])
    names = bench.add_subparsers(dest="bench", required=True, metavar="NAME")
    for name, module in benchmarks().items():
        parser = names.add_parser(name, help=_summary(module), description=module.__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(parser)
        parser.add_argument("--torch-threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
        parser.add_argument("--json", help="also write the results (tables, command, machine) as JSON here")
        parser.set_defaults(func=lambda args, name=name, module=module: _run_one(name, module, args))
    every = names.add_parser("all", help="every benchmark at its default settings")
    every.add_argument("--skip", action="append", default=[], metavar="NAME", help="leave this one out (repeatable)")
    every.add_argument("--json", help="write all results as one JSON list here")
    every.set_defaults(func=_run_all)


__all__ = ["benchmarks", "register", "BUILTIN", "GROUP"]
