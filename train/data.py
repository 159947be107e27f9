"""What training reads: label-store rows and instruction conversations, turned into batches.

The label store is read through its documented format (`selector.label_store`), not through
`pseudolabel`'s code. Frames come from the feature cache, or are decoded per step when no cache
is given (slower; the benchmark compares both).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from selector.candidates import CandidatePlan, candidate_frames
from selector.label_store import read_newest_rows
from selector.processing import FrameSelectorProcessor
from selector.records import VideoQuestion
from selector.video import content_hash, probe

from .features import CacheRequest, FeatureCache, load_pixels


def read_labels(path: str | Path) -> list[dict]:
    """Successful, labelled rows of a label store (folder of parts, newest row per id) or a merged file."""
    columns = ["id", "video", "question", "options", "status", "frames", "label", "video_hash"]
    return [r for r in read_newest_rows(path, columns).values() if r["status"] == "ok" and r["label"]]


def split_by_video(rows: Sequence[dict], val_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Hold out whole videos, so validation never sees a training video's frames."""
    videos = sorted({r["video_hash"] for r in rows})
    random.Random(seed).shuffle(videos)
    held = set(videos[: int(round(len(videos) * val_fraction))]) if val_fraction > 0 and len(videos) > 1 else set()
    return [r for r in rows if r["video_hash"] not in held], [r for r in rows if r["video_hash"] in held]


def also_without_options(rows: Sequence[dict]) -> list[dict]:
    """The rows, then each multiple-choice row again without its options.

    A selector trained only on "question + options" reads a bare question as a text it never saw
    (on the demo, recall@4 fell from 0.74 to 0.44); users ask both ways.
    """
    return [*rows, *({**row, "options": None} for row in rows if row.get("options"))]


def label_request(row: dict) -> CacheRequest:
    return CacheRequest(row["video"], row["video_hash"], tuple(f["index"] for f in row["frames"]))


@dataclass
class Conversation:
    """One instruction example: its media, the frames taken from it, and (human, answer) turns."""

    request: CacheRequest
    turns: list[tuple[str, str]]


def _turns(record: dict) -> list[tuple[str, str]]:
    """(user, assistant) pairs from LLaVA `conversations` or OpenAI-style `messages`."""
    if "conversations" in record:
        pairs = [(m["from"], m["value"]) for m in record["conversations"]]
        roles = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}
    else:
        pairs = [(m["role"], m["content"]) for m in record["messages"]]
        roles = {"user": "user", "assistant": "assistant"}
    turns, pending = [], None
    for role, text in pairs:
        role = roles.get(role)
        text = text.replace("<image>", "").replace("<video>", "").strip()
        if role == "user":
            pending = text
        elif role == "assistant" and pending is not None:
            turns.append((pending, text))
            pending = None
    if not turns:
        raise ValueError("no (user, assistant) turn")
    return turns


def read_instructions(path: str | Path, frames: int) -> list[Conversation]:
    """Instruction JSONL: {"video"|"image": path, "conversations"|"messages": [...]}. Paths are
    relative to the file. Bad lines raise with their number: training data is curated, and a
    silently shorter dataset would change the run."""
    path = Path(path)
    examples = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            media = Path(record.get("video") or record["image"])
            media = media if media.is_absolute() else path.parent / media
            if "image" in record:
                indices: tuple[int, ...] = (0,)
            else:
                indices = tuple(f.index for f in candidate_frames(probe(media), CandidatePlan(n=frames)))
            examples.append(Conversation(CacheRequest(str(media), content_hash(media), indices), _turns(record)))
        except Exception as error:  # noqa: BLE001 - re-raised with the line that caused it
            raise ValueError(f"{path} line {number}: {error}") from error
    return examples


class FrameSource:
    """Pooled features of a request: from the cache, or decoded and encoded on the fly."""

    def __init__(self, cache: FeatureCache | None, image_size: int):
        self.cache, self.image_size = cache, image_size

    def __call__(self, request: CacheRequest) -> torch.Tensor | np.ndarray:
        if self.cache is not None:
            return self.cache.get(request.key)
        return load_pixels(request, self.image_size)


def label_question(row: dict) -> VideoQuestion:
    """A label-store row's question with its options, as `select` is asked it."""
    return VideoQuestion(row["id"], row["video"], row["question"], list(row["options"] or []))


class ScoreDataset(Dataset):
    """(frames, question, soft labels) per label-store row; `collate` turns the question into
    tokens through the checkpoint's processor, as selection does."""

    def __init__(self, rows: Sequence[dict], source: FrameSource):
        self.rows, self.source = list(rows), source

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        row = self.rows[i]
        return {"kind": "score", "frames": self.source(label_request(row)), "question": label_question(row),
                "labels": np.asarray(row["label"], dtype=np.float32)}


class InstructDataset(Dataset):
    """(frames, conversation turns) per instruction example; `collate` turns the turns into tokens
    and answer-only targets through the processor (`FrameSelectorProcessor.conversation_ids`)."""

    def __init__(self, examples: Sequence[Conversation], source: FrameSource):
        self.examples, self.source = list(examples), source

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict:
        example = self.examples[i]
        return {"kind": "lm", "frames": self.source(example.request), "turns": example.turns}


def collate(items: Sequence[dict], processor: FrameSelectorProcessor) -> dict:
    """One homogeneous batch, the processor's output plus the example kind: score rows
    (questions left-padded, as at selection time, and soft `labels`, NaN beyond each row's
    candidates) or conversations (right-padded, with next-token `targets`). Frames are cached
    `vision_features` or, decoded, `pixel_values`."""
    kind = items[0]["kind"]
    if any(item["kind"] != kind for item in items):
        raise ValueError("a batch mixes score and next-token examples")
    frames = [item["frames"] for item in items]
    decoded = isinstance(frames[0], np.ndarray) and frames[0].dtype == np.uint8
    media = {"frames": frames} if decoded else {"features": frames}
    if kind == "score":
        batch = {"kind": kind, **processor(questions=[item["question"] for item in items], **media)}
        labels = torch.full((len(items), int(batch["num_candidates"].max())), float("nan"))
        for b, item in enumerate(items):
            labels[b, : len(item["labels"])] = torch.from_numpy(item["labels"])
        batch["labels"] = labels
        return batch
    return {"kind": kind, **processor(conversations=[item["turns"] for item in items], **media)}


class AlternatingBatchSampler(Sampler[list[int]]):
    """Homogeneous batches of score examples (indices 0..n_score-1) and next-token examples
    (n_score..), alternated by optimizer step at `lm_ratio` next-token steps per score step.

    A run of `group` consecutive batches (processes x accumulation steps) always has one kind,
    so every process computes the same loss in the same optimizer step. The order depends only on
    (seed, epoch): a resumed run sees exactly the batches an uninterrupted one would.
    """

    def __init__(self, n_score: int, n_lm: int, batch_size: int, group: int, lm_ratio: float, seed: int):
        self.n_score, self.n_lm = n_score, n_lm
        self.batch_size, self.group, self.lm_ratio, self.seed = batch_size, group, lm_ratio, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _groups(self, start: int, count: int, rng: random.Random) -> list[list[list[int]]]:
        order = list(range(start, start + count))
        rng.shuffle(order)
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        # Whole groups only, so all processes and accumulation steps stay aligned.
        usable = len(batches) // self.group * self.group
        if usable == 0 and batches:
            batches = (batches * self.group)[: self.group]
            usable = self.group
        return [batches[i : i + self.group] for i in range(0, usable, self.group)]

    def _plan(self) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        score = self._groups(0, self.n_score, rng)
        lm = self._groups(self.n_score, self.n_lm, rng) if self.lm_ratio > 0 else []
        plan, credit = [], 0.0
        while score or lm:
            credit += self.lm_ratio
            if score:
                plan += score.pop()
            while lm and (credit >= 1 or not score):
                plan += lm.pop()
                credit -= 1
            if not score:
                break
        return plan

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._plan())

    def __len__(self) -> int:
        return len(self._plan())


def steps_per_epoch(sampler: AlternatingBatchSampler, group: int) -> int:
    return math.ceil(len(sampler) / group)


__all__ = [
    "read_labels", "split_by_video", "also_without_options", "read_instructions", "FrameSource", "ScoreDataset", "InstructDataset",
    "collate", "AlternatingBatchSampler", "label_request", "label_question", "Conversation",
]
