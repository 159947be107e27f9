"""Shared fixtures: the bundled test videos and a tiny random selector saved to disk once."""

from __future__ import annotations

from pathlib import Path

import pytest

VIDEOS = Path(__file__).parent / "data" / "videos"


@pytest.fixture(scope="session")
def videos() -> Path:
    return VIDEOS


@pytest.fixture(scope="session")
def tiny_selector_dir(tmp_path_factory) -> Path:
    """A tiny selector written the way `frame-selector init --tiny` writes it."""
    from selector.tiny import build_tiny_selector

    out = tmp_path_factory.mktemp("tiny-selector")
    model, tokenizer = build_tiny_selector(seed=0)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_selector(tiny_selector_dir):
    from selector import FrameSelector

    return FrameSelector.from_pretrained(tiny_selector_dir, device="cpu")
