"""Generated videos, a label store, instruction data and a tiny selector for training tests."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
from PIL import Image


def write_video(path: Path, frames: int, seed: int, size: int = 32, fps: int = 10) -> Path:
    """A short H.264 clip whose brightness ramps, so frames differ from each other."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 200, (size, size, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            image = np.clip(base.astype(int) + (i * 50) // frames, 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_label_store(root: Path, videos: int = 6, questions: int = 2, candidates: int = 8) -> Path:
    """A real label store (written by the labelling job) whose labels come from spans: the
    first part of each video is relevant."""
    from pseudolabel.job import LabelJob, LabelSettings
    from pseudolabel.manifest import read_manifest
    from selector import CandidatePlan

    media = root / "videos"
    media.mkdir(parents=True, exist_ok=True)
    rows = []
    for v in range(videos):
        path = write_video(media / f"v{v}.mp4", frames=20, seed=v)
        for q in range(questions):
            rows.append({"id": f"{v}-{q}", "video": str(path), "question": f"question {q} about video {v}?", "spans": [[0.0, 0.8]]})
    manifest = root / "manifest.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows))
    store = root / "labels"
    LabelJob(store, settings=LabelSettings(plan=CandidatePlan(n=candidates))).run(read_manifest(manifest), progress=False)
    return store


def make_instructions(root: Path, video: Path) -> Path:
    image = root / "image.png"
    Image.fromarray(np.full((40, 30, 3), 128, dtype=np.uint8)).save(image)
    lines = [
        {"image": image.name, "conversations": [{"from": "human", "value": "<image>\nWhat colour is it?"}, {"from": "gpt", "value": "Grey."}]},
        {"video": str(video), "messages": [{"role": "user", "content": "Describe the video."}, {"role": "assistant", "content": "It gets brighter."},
                                           {"role": "user", "content": "Is it long?"}, {"role": "assistant", "content": "No."}]},
    ]
    path = root / "instruct.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    return path


def make_selector(root: Path, max_candidates: int = 16) -> Path:
    from selector.tiny import build_tiny_selector

    model, processor = build_tiny_selector(seed=0, max_candidates=max_candidates)
    out = root / "selector-init"
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
