"""A similarity baseline for the needle world, trained here because no CLIP/SigLIP weights can be
downloaded: a tiny SigLIP (transformers' `SiglipModel`, 32x32 images in 4x4 patches) trained with
SigLIP's sigmoid loss on (frame, caption) pairs from a world's *training* split.

This is the most favourable setting the similarity baseline can get: the model has seen exactly
this world's visual vocabulary (its four shapes, four colours, the cards, its backgrounds and
distractors) and captions in the words the questions use, which no off-the-shelf checkpoint would
have. What it still cannot do is what similarity ranking cannot do in general: it scores each
frame against the question on its own, so it has no notion of order, counting or the two hops of
a multi-hop question.

Training data: from every training video, frames inside needle events and frames showing no
needle (half and half), decoded at 32x32 with the same decoder the chooser uses, and prepared by
the very image processor that is saved with the model. Captions come from the videos'
`needle_events`: each of 35 meanings ("a red star", "the star", "a red shape", "a card showing
green", "the card", "background", ...) has a few phrasings ("a red star", "red star", "the red
star"; "nothing", "an empty scene"), sometimes inside a carrier ("a frame showing ...", "...
appears") and half the time among a few words that questions use but that name nothing ("what",
"colour", "how many times", "after", "?"): the questions themselves are never training text, but
their function words are, which is part of what makes this setting favourable.

The loss is SigLIP's pairwise sigmoid loss, computed as `SiglipModel(..., return_loss=True)` does
(cosine similarity times exp(logit_scale) plus logit_bias, -log sigmoid of +-logit), with every step's batch of frames against one caption of every meaning, and a
pair positive wherever the caption is true of the frame ("the star" of every star frame, "a red
shape" of every red shape) rather than only on a diagonal of matched pairs, which a batch where
many frames share a caption would make wrong.

Cost at demo size (240 training videos, 3,840 frames, 1,600 steps of 64 frames): about 100 s of
CPU time on one thread of the 2-core development machine (training runs single-threaded on
purpose, see `threads`). The learning rate matters more than it looks: at 1e-2 and 800 steps (the
old setting) the final loss ended anywhere between 1.5 and 2.8 depending on the last bits of the
decoded frames, and a linear probe on the pooled features told a held-out needle's shape at 0.71;
at 3e-3 the loss falls steadily (1.26 after 800 steps, 0.59 after 1,600) and the probe reads 0.91
and 0.93 (colour: 1.00 throughout). Shape is learnt late: fewer steps give a weaker baseline and,
through the tower, a selector that cannot tell the star from the circle.

The saved folder (safetensors model, tokenizer, image processor, `training.json`) loads with
`eval.choosers.SimilarityChooser(path)` or `make_chooser("siglip:" + path)`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm
from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel
from transformers.utils import logging as hf_logging

from selector import probe, read_frames
from selector.tiny import build_tiny_tokenizer

from .planning import COLOURS, SHAPES
from .world import read_questions

logger = logging.getLogger(__name__)

IMAGE_SIZE = 32
PATCH_SIZE = 4
TEXT_LENGTH = 24  # SigLIP pads every text to this many tokens (text_config.max_position_embeddings)
WIDTH = 32  # hidden size of both towers
MEAN = STD = (0.5, 0.5, 0.5)  # SigLIP's normalisation: pixels to [-1, 1]

# A caption's meaning is a pattern over what a frame shows, (what, colour):
# what is a shape name or "card" (that exact thing), "shape" (any of the four shapes), "any"
# (any needle) or "none" (no needle); colour None matches every colour.
Pattern = tuple[str, "str | None"]
NONE: tuple[str, str] = ("none", "")
CONTENTS: list[tuple[str, str]] = [NONE] + [(s, c) for s in SHAPES for c in COLOURS] + [("card", c) for c in COLOURS]

_CARRIERS = ("{}", "{}", "{}", "a frame showing {}", "{} appears", "is there {}?", "the video shows {}")
_BACKGROUND = ("background", "nothing", "no shape", "the background", "grey shapes", "an empty scene")
# Words that questions use around what they name, and that name nothing themselves. Captions are
# sometimes wrapped in a few of them, so the text tower learns to look past them to the shape
# and colour words (otherwise a question's unseen words steer its embedding at random).
_FILLERS = ("what", "What", "colour", "is", "how", "How", "many", "times", "does", "do", "appear", "appears", "right",
            "after", "before", "which", "Which", "when", "When", "in", "that", "frame", "video", "shows", "there", "the", "a")


def _phrasings(content: tuple[str, str]) -> list[tuple[str, Pattern]]:
    """Every phrase that is true of a frame showing `content`, with the pattern it means."""
    what, colour = content
    if what == "none":
        return [(text, ("none", None)) for text in _BACKGROUND]
    if what == "card":
        exact = [f"a card showing {colour}", f"the card shows {colour}", f"a {colour} card"]
        general = [("the card", ("card", None)), ("a card", ("card", None)), ("a white card", ("card", None))]
        return [(t, ("card", colour)) for t in exact] + general + [(f"something {colour}", ("any", colour))]
    exact = [f"a {colour} {what}", f"{colour} {what}", f"the {colour} {what}"]
    general = [(f"the {what}", (what, None)), (f"a {what}", (what, None))]
    colour_only = [(f"a {colour} shape", ("shape", colour)), (f"something {colour}", ("any", colour))]
    return [(t, (what, colour)) for t in exact] + general + colour_only + [("a shape", ("shape", None))]


def _matches(pattern: Pattern, content: tuple[str, str]) -> bool:
    what, colour = pattern
    if what == "none":
        return content[0] == "none"
    if content[0] == "none" or (colour is not None and colour != content[1]):
        return False
    if what == "any":
        return True
    if what == "shape":
        return content[0] in SHAPES
    return content[0] == what


def _meanings() -> tuple[list[list[str]], np.ndarray]:
    """The phrases of every meaning, and truth[meaning, content]: whether the meaning's phrases
    are true of a frame showing that content."""
    phrases: dict[Pattern, list[str]] = {}
    for content in CONTENTS:
        for phrase, pattern in _phrasings(content):
            if phrase not in phrases.setdefault(pattern, []):
                phrases[pattern].append(phrase)
    truth = np.array([[_matches(p, c) for c in CONTENTS] for p in phrases], dtype=bool)
    return list(phrases.values()), truth


def _caption(rng: np.random.Generator, phrases: Sequence[str]) -> str:
    """One caption: a phrase, in a carrier, half the time among a few filler words."""
    text = _CARRIERS[int(rng.integers(len(_CARRIERS)))].format(phrases[int(rng.integers(len(phrases)))])
    if rng.random() < 0.5:
        before = [_FILLERS[int(i)] for i in rng.integers(len(_FILLERS), size=int(rng.integers(0, 4)))]
        after = [_FILLERS[int(i)] for i in rng.integers(len(_FILLERS), size=int(rng.integers(0, 3)))]
        text = " ".join([*before, text, *after]) + ("?" if rng.random() < 0.5 else "")
    return text


def _sample_indices(rng: np.random.Generator, events: Sequence[dict], frames: int, per_video: int) -> tuple[list[int], list[tuple[str, str]]]:
    """Half the frames inside needle events (spread over the events), half showing no needle."""
    inside = np.zeros(frames, dtype=bool)
    owner: dict[int, tuple[str, str]] = {}
    for e in events:
        first, last = max(0, int(e["first"])), min(frames - 1, int(e["last"]))
        inside[first : last + 1] = True
        for i in range(first, last + 1):
            owner[i] = (e["shape"], e["colour"])
    needles, background = np.flatnonzero(inside), np.flatnonzero(~inside)
    wanted = per_video // 2 if len(background) else per_video
    picked: list[int] = []
    if len(needles):
        # Round-robin over the events, so a short event gets as many frames as a long one.
        spans = [np.array([i for i in range(max(0, e["first"]), min(frames - 1, e["last"]) + 1)]) for e in events]
        spans = [rng.permutation(s) for s in spans if len(s)]
        for r in range(max(len(s) for s in spans)):
            for s in rng.permutation(len(spans)):
                if r < len(spans[s]) and len(picked) < wanted:
                    picked.append(int(spans[s][r]))
    rest = per_video - len(picked)
    picked += [int(i) for i in rng.choice(background, size=min(rest, len(background)), replace=False)]
    return picked, [owner.get(i, NONE) for i in picked]


def build_similarity_model(vocab_size: int, pad_token_id: int, eos_token_id: int, seed: int = 0, width: int = WIDTH) -> SiglipModel:
    """The random tiny SigLIP this module trains."""
    config = SiglipConfig(
        text_config=dict(
            vocab_size=vocab_size, hidden_size=width, intermediate_size=2 * width, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=TEXT_LENGTH, pad_token_id=pad_token_id, eos_token_id=eos_token_id, bos_token_id=None,
        ),
        vision_config=dict(
            hidden_size=width, intermediate_size=2 * width, num_hidden_layers=2, num_attention_heads=4,
            image_size=IMAGE_SIZE, patch_size=PATCH_SIZE,
        ),
    )
    torch.manual_seed(seed)
    model = SiglipModel(config)
    with torch.no_grad():  # SigLIP's temperature initialisation; a bias of -5 (SigLIP: -10) suits
        # small batches in which a caption is true of several frames
        model.logit_scale.fill_(math.log(10.0))
        model.logit_bias.fill_(-5.0)
    return model


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No progress bars or advice from transformers while it writes the checkpoint."""
    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def train_similarity_model(
    manifest: str | os.PathLike,
    out: str | os.PathLike,
    *,
    steps: int = 1600,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = True,
    frames_per_video: int = 16,
    lr: float = 3e-3,
    width: int = WIDTH,
    threads: int = 1,
) -> Path:
    """Train the tiny SigLIP similarity baseline on a needle world's training split.

    Args:
        manifest: the training split's `questions.jsonl` (its videos and `needle_events`).
        out: folder to write the checkpoint to (created; files in it are overwritten).
        steps: optimiser steps.
        batch_size: frames per step (each against one caption of every meaning).
        seed: seeds the frame sampling, the captions, the initialisation and the batches; the
            same seed on the same world gives the same model.
        progress: show a progress bar (the only output).
        frames_per_video: frames decoded from each video, half in needle events.
        lr: peak learning rate (AdamW, linear warm-up, cosine decay).
        width: hidden size of both towers.
        threads: torch and decoder threads while training (restored afterwards). One is the
            fastest: the model is too small for intra-op threads to pay, and on a shared 2-core
            machine two threads ran 3-4x slower than one.

    Returns:
        The checkpoint folder, loadable by `eval.choosers.SimilarityChooser`.

    A video that fails to decode is skipped, logged and listed in `training.json`; if none
    decodes, ValueError.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _train(Path(manifest), Path(out), steps, batch_size, seed, progress, frames_per_video, lr, width, threads)
    finally:
        torch.set_num_threads(previous)


def _train(manifest: Path, out: Path, steps: int, batch_size: int, seed: int, progress: bool, frames_per_video: int,
           lr: float, width: int, threads: int) -> Path:
    started = time.perf_counter()
    if steps < 1 or batch_size < 2 or frames_per_video < 2:
        raise ValueError("need steps >= 1, batch_size >= 2 and frames_per_video >= 2")
    rows = read_questions(manifest)
    events: dict[str, list[dict]] = {}
    for row in rows:
        events.setdefault(row["video"], row.get("needle_events") or [])
    if not events:
        raise ValueError(f"{manifest} lists no videos")
    phrases, truth = _meanings()
    content_id = {c: j for j, c in enumerate(CONTENTS)}
    rng = np.random.default_rng(seed)

    tokenizer = build_tiny_tokenizer()
    tokenizer.padding_side = "right"  # as SigLIP's own tokenizer: text, then pads up to max_length
    tokenizer.model_max_length = TEXT_LENGTH
    if tokenizer.pad_token is None:
        tokenizer.pad_token = "<|endoftext|>"
    processor = SiglipImageProcessor(
        do_resize=True, size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, do_rescale=True, rescale_factor=1 / 255,
        do_normalize=True, image_mean=list(MEAN), image_std=list(STD),
    )

    bar = tqdm(total=len(events) + steps, desc="decoding frames", disable=not progress)
    images, labels, skipped = [], [], []
    for video in sorted(events):
        try:
            info = probe(video)
            picked, shown = _sample_indices(rng, events[video], info.num_frames, frames_per_video)
            images.append(read_frames(info, picked, size=(IMAGE_SIZE, IMAGE_SIZE), num_threads=threads))
            labels += [content_id[(s, c) if s != "none" else NONE] for s, c in shown]
        except Exception as error:  # noqa: BLE001 - a bad video costs its frames, not the run
            skipped.append({"video": video, "error": f"{type(error).__name__}: {error}"})
            logger.warning("similarity training skips %s: %s", video, error)
        bar.update(1)
    if not images:
        bar.close()
        raise ValueError(f"no video of {manifest} could be decoded")
    frames = np.concatenate(images)
    decoded = time.perf_counter() - started
    pixels = torch.cat([processor(images=list(frames[i : i + 512]), return_tensors="pt")["pixel_values"] for i in range(0, len(frames), 512)])
    frame_content = torch.tensor(labels)
    truth_t = torch.from_numpy(truth).float() * 2 - 1  # +1 where a meaning is true of a content, else -1

    model = build_similarity_model(len(tokenizer), tokenizer.pad_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>"), seed, width)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    other = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimiser = torch.optim.AdamW([{"params": decay, "weight_decay": 1e-4}, {"params": other, "weight_decay": 0.0}], lr=lr)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, steps - warmup)))
    )
    generator = torch.Generator().manual_seed(seed)
    batch = min(batch_size, len(frames))
    bar.set_description("training similarity model")
    loss_value = float("nan")
    for _ in range(steps):
        chosen = torch.randperm(len(frames), generator=generator)[:batch]
        # One caption of every meaning against every frame of the batch: SigLIP's sigmoid loss
        # over all (caption, frame) pairs, positive wherever the caption is true of the frame
        # ("the star" of every star frame) rather than only on a diagonal of matched pairs.
        captions = [_caption(rng, p) for p in phrases]
        encoded = tokenizer(captions, padding="max_length", truncation=True, max_length=TEXT_LENGTH, return_tensors="pt")
        text_embeds = model.get_text_features(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]).pooler_output
        image_embeds = model.get_image_features(pixel_values=pixels[chosen]).pooler_output
        logits = F.normalize(text_embeds, dim=-1) @ F.normalize(image_embeds, dim=-1).T * model.logit_scale.exp() + model.logit_bias
        loss = -F.logsigmoid(truth_t[:, frame_content[chosen]] * logits).sum(dim=-1).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        loss_value = float(loss.detach())
        bar.update(1)
    bar.close()

    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    with _quiet_transformers():
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
        processor.save_pretrained(out)
    record = {
        "what": "tiny SigLIP similarity baseline trained on the needle world's training split (eval.needle.similarity)",
        "manifest": str(Path(manifest).resolve()),
        "videos": len(events) - len(skipped),
        "skipped": skipped,
        "frames": int(len(frames)),
        "needle_frames": int((frame_content != content_id[NONE]).sum()),
        "meanings": len(phrases),
        "steps": steps,
        "batch_size": batch,
        "frames_per_video": frames_per_video,
        "lr": lr,
        "width": width,
        "threads": threads,
        "seed": seed,
        "final_loss": loss_value,
        "decode_seconds": round(decoded, 2),
        "seconds": round(time.perf_counter() - started, 2),
    }
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    return out


__all__ = ["train_similarity_model", "build_similarity_model"]
