"""Commands start at once: `frame-selector --help`, every command's `--help` (those registered by
the other packages through entry points included) and a usage error load neither torch nor
transformers' models. Each command imports them inside the function that runs it."""

import json
import subprocess
import sys

PROBE = r"""
import argparse, contextlib, io, json, sys
from selector.cli import build_parser, main

def commands(parser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name)
                yield from commands(sub, (*path, name))

runs = [["--help"], *([*path, "--help"] for path in commands(build_parser())), ["select"]]
codes = {}
for argv in runs:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(argv)
        except SystemExit as done:
            codes[" ".join(argv)] = done.code
heavy = sorted(m for m in sys.modules if m == "torch" or m.startswith(("torch.", "transformers.models")))
print(json.dumps({"codes": codes, "heavy": heavy}))
"""


def test_help_and_usage_errors_import_neither_torch_nor_transformers_models():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    codes = found["codes"]
    assert {"--help", "select --help", "label --help", "train --help", "demo --help", "bench --help",
            "bench decode --help"} <= set(codes)
    assert codes.pop("select") == 2  # the usage error: required options missing
    assert set(codes.values()) == {0}
    assert found["heavy"] == [], f"--help imported {found['heavy'][:5]}"
