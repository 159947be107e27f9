"""Where the test inputs are, for every test folder: one definition, so moving a test file never
moves what it reads."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent  # the repository: README.md, docs/ and the packages
DATA = TESTS / "data"
VIDEOS = DATA / "videos"

__all__ = ["DATA", "ROOT", "TESTS", "VIDEOS"]
