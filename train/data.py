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


class ScoreDataset(Dataset):
    """(frames, question tokens, soft labels) per label-store row; the question's tokens come from
    the checkpoint's processor, as they do at selection time."""

    def __init__(self, rows: Sequence[dict], processor: FrameSelectorProcessor, source: FrameSource):
        self.rows, self.processor, self.source = list(rows), processor, source

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        row = self.rows[i]
        ids = self.processor.question_ids(row["question"], row["options"])
        return {"kind": "score", "frames": self.source(label_request(row)), "ids": ids, "labels": np.asarray(row["label"], dtype=np.float32)}


class InstructDataset(Dataset):
    """(frames, conversation tokens, answer-only targets) per instruction example."""

    def __init__(self, examples: Sequence[Conversation], processor: FrameSelectorProcessor, source: FrameSource):
        self.examples, self.processor, self.source = list(examples), processor, source
        # The first user turn continues the frames prefix exactly as a question does at scoring time.
        self.user_open, self.assistant_open = processor.chat_turn_parts()

    def __len__(self) -> int:
        return len(self.examples)

    def _encode(self, text: str) -> list[int]:
        return self.processor.encode(text)

    def __getitem__(self, i: int) -> dict:
        example = self.examples[i]
        ids: list[int] = []
        targets: list[int] = []
        for turn, (user, answer) in enumerate(example.turns):
            opening = self.user_open if turn == 0 else "<|im_start|>user\n"
            prompt = self._encode(opening + user + self.assistant_open)
            reply = self._encode(answer + "<|im_end|>") + self._encode("\n")
            ids += prompt + reply
            targets += [-100] * len(prompt) + reply[:-1] + [-100]
        return {"kind": "lm", "frames": self.source(example.request), "ids": ids, "targets": targets}


def _stack_frames(items: Sequence[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad candidates to the batch's largest n; returns (B, n_max, ...) and the counts."""
    counts = torch.tensor([len(item["frames"]) for item in items])
    n_max = int(counts.max())
    first = torch.as_tensor(items[0]["frames"])
    out = torch.zeros((len(items), n_max, *first.shape[1:]), dtype=first.dtype)
    for b, item in enumerate(items):
        out[b, : len(item["frames"])] = torch.as_tensor(item["frames"])
    return out, counts


def collate(items: Sequence[dict], processor: FrameSelectorProcessor) -> dict:
    """One homogeneous batch: score rows (questions left-padded, as at selection time) or
    conversations (right-padded, targets padded with -100)."""
    kind = items[0]["kind"]
    if any(item["kind"] != kind for item in items):
        raise ValueError("a batch mixes score and next-token examples")
    frames, counts = _stack_frames(items)
    batch = {"kind": kind, "frames": frames, "num_candidates": counts}
    if kind == "score":
        batch["input_ids"], batch["attention_mask"] = processor.pad([{"input_ids": x["ids"]} for x in items])
        labels = torch.full((len(items), int(counts.max())), float("nan"))
        for b, item in enumerate(items):
            labels[b, : len(item["labels"])] = torch.from_numpy(item["labels"])
        batch["labels"] = labels
    else:
        batch["input_ids"], batch["attention_mask"] = processor.pad([{"input_ids": x["ids"]} for x in items], side="right")
        width = batch["input_ids"].shape[1]
        batch["targets"] = torch.tensor([x["targets"] + [-100] * (width - len(x["targets"])) for x in items])
    return batch


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
    "collate", "AlternatingBatchSampler", "label_request", "Conversation",
]
