"""Fixtures of the label command's end-to-end tests."""

import json

import pytest


@pytest.fixture
def backends_manifest(tmp_path, videos):
    """Four items: two questions on one video (one with options), one on another video with
    spans, and one whose video is missing (a failed row, never a failed job)."""
    rows = [
        {"id": "a", "video": str(videos / "torchcodec__var_fps_video.mp4"), "question": "What pattern is shown?"},
        {"id": "b", "video": str(videos / "torchcodec__var_fps_video.mp4"), "question": "Which frame shows a pattern?", "options": ["x", "y"]},
        {"id": "c", "video": str(videos / "mediabunny__frames.webm"), "question": "What number is shown?", "spans": [[0.5, 1.0]]},
        {"id": "d", "video": str(tmp_path / "missing.mp4"), "question": "q?"},
    ]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path
