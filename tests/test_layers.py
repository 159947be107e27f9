"""The layers as a checked contract (pyproject.toml's `[tool.importlinter]`): eval above
pseudolabel and train, which never import each other, above selector; no import cycles between
the modules of a package. Run on this checkout, so `make test` fails on an import that breaks them."""

import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")  # import-linter, from the dev extra
    assert lint.is_file(), f"{lint} is missing: install the dev extra (make install does)"
    # lint-imports reads pyproject.toml from, and puts on sys.path, its working directory: this checkout
    done = subprocess.run([str(lint), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
