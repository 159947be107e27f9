"""The demo's pseudo-labellers: a small Qwen2-VL and a small Qwen2 trained on a split of their own.

The paper labels with models that never saw its questions: Qwen2-VL scores and captions frames,
a text LLM reads the captions. No weights can be downloaded here, so the demo trains models of
the same classes on the needle world's `labeller` split (other videos than the selector's, never
the held-out ones), for exactly what labelling asks of them:

- the VLM answers the spatial prompt ("does this frame help answer the question? True or False")
  for one frame and a question, and writes a short caption of a frame;
- the text LLM reads the temporal prompt (numbered captions and the question) and replies
  `{"frames": [...]}`.

Each is saved with `save_pretrained` and used only by path, through `frame-selector label
--spatial hf --captioner hf --temporal hf`, like a downloaded checkpoint. `labeller_quality`
measures them on held-out videos against the spans.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import BatchFeature, Qwen2Config, Qwen2ForCausalLM, Qwen2VLConfig, Qwen2VLForConditionalGeneration

from pseudolabel.hf_scorers import CAPTION_PROMPT, DIRECT_PROMPT
from pseudolabel.temporal_prompt import TemporalPrompt
from selector import CandidatePlan, candidate_frames, probe, read_frames
from selector.tiny import build_tiny_tokenizer, from_scratch_init
from selector.tiny.vlm import build_tiny_qwen2_vl_processor

from .labeller_settings import LabellerSettings
from .world import read_questions

# What the captioner is taught to say of a frame with no needle: the grey distractors it shows.
BACKGROUND_CAPTION = "grey shapes"
# Frames of each needle the text LLM is taught to name: the first ones the candidates show.
FRAMES_PER_NEEDLE = 2


@dataclass
class LabellerVideo:
    """One video's candidates as labelling sees them, with what each frame truly shows."""

    frames: list[np.ndarray]
    seconds: list[float]
    captions: list[str]  # the true caption of each candidate
    needle_of: list[int | None]  # the needle each candidate shows, if any
    questions: list[dict]  # manifest rows

    def subsample(self, n: int) -> LabellerVideo:
        """`n` of the candidates, evenly spaced: the same video as a shorter prompt shows it."""
        count = len(self.captions)
        keep = sorted({int(round(i)) for i in np.linspace(0, count - 1, min(n, count))})
        pick = lambda values: [values[i] for i in keep] if values else []  # noqa: E731
        return LabellerVideo(pick(self.frames), pick(self.seconds), pick(self.captions), pick(self.needle_of), self.questions)


def load_videos(manifest: str | os.PathLike, candidates: int, progress: bool = True) -> list[LabellerVideo]:
    """Decode each video's candidates (the label job's plan, at the world's own size) and pair them
    with the needles they show."""
    rows = read_questions(manifest)
    by_video: dict[str, list[dict]] = {}
    for row in rows:
        by_video.setdefault(row["video"], []).append(row)
    videos = []
    for video, questions in tqdm(by_video.items(), desc="labeller videos", disable=not progress, unit="video"):
        info = probe(video)
        frames = candidate_frames(info, CandidatePlan(n=candidates))
        pixels = list(read_frames(info, [f.index for f in frames]))
        events = questions[0]["needle_events"]
        needle_of = [next((i for i, e in enumerate(events) if e["first"] <= f.index <= e["last"]), None) for f in frames]
        captions = [BACKGROUND_CAPTION if n is None else _describe(events[n]) for n in needle_of]
        videos.append(LabellerVideo(pixels, [f.seconds for f in frames], captions, needle_of, questions))
    return videos


def _describe(event: dict) -> str:
    return f"a card showing {event['colour']}" if event["shape"] == "card" else f"a {event['colour']} {event['shape']}"


def _question_text(row: dict) -> str:
    """The question as the label job asks it (with its options)."""
    from selector.records import VideoQuestion

    return VideoQuestion(id=row["id"], video=row["video"], question=row["question"], options=row.get("options")).with_options()


def helpful(video: LabellerVideo, row: dict) -> list[bool]:
    """Per candidate: does it show a needle the question needs."""
    return [n is not None and n in row["needles"] for n in video.needle_of]


def temporal_target(video: LabellerVideo, row: dict) -> list[int]:
    """The frames the text LLM is taught to name: the first `FRAMES_PER_NEEDLE` candidates of
    each needle the question needs."""
    chosen: list[int] = []
    for needle in row["needles"]:
        chosen += [i for i, n in enumerate(video.needle_of) if n == needle][:FRAMES_PER_NEEDLE]
    return sorted(chosen)


# --- the VLM --------------------------------------------------------------------------------


def build_vlm(settings: LabellerSettings, corpus: Sequence[str] = ()) -> tuple[Qwen2VLForConditionalGeneration, object]:
    """A Qwen2-VL of the demo's size, initialised from the seed, with the tiny processor and a
    tokenizer trained on `corpus` too (the prompts and captions it will read and write: fewer
    tokens a frame to score)."""
    size = settings.vlm
    init = _init_std(settings, size["text_hidden"])
    processor = build_tiny_qwen2_vl_processor(build_tiny_tokenizer(1024, corpus), patch_size=size["patch_size"])
    tokenizer = processor.tokenizer
    token_id = tokenizer.convert_tokens_to_ids
    config = Qwen2VLConfig(
        text_config=dict(
            vocab_size=len(tokenizer), hidden_size=size["text_hidden"], intermediate_size=2 * size["text_hidden"],
            num_hidden_layers=size["text_layers"], num_attention_heads=4, num_key_value_heads=2,
            bos_token_id=token_id("<|endoftext|>"), eos_token_id=token_id("<|im_end|>"), pad_token_id=tokenizer.pad_token_id,
            initializer_range=init,
            rope_parameters={"rope_type": "default", "mrope_section": [size["text_hidden"] // 16, size["text_hidden"] // 32,
                                                                        size["text_hidden"] // 32], "rope_theta": 1e4},
        ),
        vision_config=dict(depth=size["vision_depth"], embed_dim=size["vision_dim"], hidden_size=size["text_hidden"],
                           num_heads=4, mlp_ratio=2, patch_size=size["patch_size"], spatial_merge_size=2, temporal_patch_size=2,
                           initializer_range=init),
        image_token_id=token_id("<|image_pad|>"), video_token_id=token_id("<|video_pad|>"),
        vision_start_token_id=token_id("<|vision_start|>"), vision_end_token_id=token_id("<|vision_end|>"),
    )
    torch.manual_seed(settings.seed)
    return Qwen2VLForConditionalGeneration(config), processor


def _init_std(settings: LabellerSettings, width: int) -> float:
    """The settings' init std, else `from_scratch_init`: at transformers' default of 0.02 the
    demo's VLM learnt to detect needles and never which one the question names (p(True) 0.687 on
    the question's own needle frames, 0.686 on other needles' frames; docs/demo.md)."""
    return settings.init if settings.init is not None else from_scratch_init(width)


def _chat(processor, text: str) -> str:
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def _vlm_examples(videos: Sequence[LabellerVideo], rng: np.random.Generator) -> list[tuple[np.ndarray, str, str]]:
    """(frame, prompt text, answer) for both tasks. Spatial: every helpful frame of every question
    with as many unhelpful ones, half of them showing another needle (the hard negatives).
    Captions: every needle frame and as many background frames."""
    examples = []
    for video in videos:
        needles = [i for i, n in enumerate(video.needle_of) if n is not None]
        empty = [i for i, n in enumerate(video.needle_of) if n is None]
        for row in video.questions:
            prompt = DIRECT_PROMPT.format(question=_question_text(row))
            good = helpful(video, row)
            yes = [i for i in range(len(good)) if good[i]]
            other = [i for i in needles if not good[i]]
            for i in yes:
                examples.append((video.frames[i], prompt, "True"))
                pool = other if (other and rng.random() < 0.5) else empty
                examples.append((video.frames[int(rng.choice(pool))], prompt, "False"))
        for i in needles + list(rng.choice(empty, size=min(len(empty), len(needles)), replace=False)):
            examples.append((video.frames[int(i)], CAPTION_PROMPT, video.captions[int(i)]))
    return examples


def _sft_labels(input_ids: torch.Tensor, attention: torch.Tensor, answers: list[list[int]]) -> torch.Tensor:
    """Loss only on each row's answer tokens, the last ones of a right-padded row."""
    labels = torch.full_like(input_ids, -100)
    lengths = attention.sum(dim=1).tolist()
    for row, (length, answer) in enumerate(zip(lengths, answers)):
        labels[row, length - len(answer) : length] = input_ids[row, length - len(answer) : length]
    return labels


def _schedule(optimizer: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over 5% of the steps, cosine decay to zero."""
    warm = max(1, steps // 20)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm)))
    )


def _fit(model: torch.nn.Module, batches: Iterator[tuple[BatchFeature, list[list[int]]]], steps: int, lr: float, desc: str,
         progress: bool) -> list[float]:
    """Supervised fine-tuning from scratch: AdamW, warm-up and cosine decay, gradients clipped at
    1, the loss on the answer tokens only; returns each step's loss."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    schedule = _schedule(optimizer, steps)
    model.train()
    losses = []
    for _, (inputs, answers) in zip(tqdm(range(steps), desc=desc, disable=not progress), batches):
        loss = model(**inputs, labels=_sft_labels(inputs["input_ids"], inputs["attention_mask"], answers)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    return losses


def _save(model: torch.nn.Module, processor, out: str | os.PathLike, steps: int, examples: int, losses: list[float]) -> Path:
    """The checkpoint as a download would be (weights, config, processor or tokenizer), and what
    its training was."""
    out = Path(out)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "training.json").write_text(json.dumps({"steps": steps, "examples": examples,
                                                   "final_loss": float(np.mean(losses[-50:]))}, indent=2))
    return out


def train_vlm(videos: Sequence[LabellerVideo], out: str | os.PathLike, settings: LabellerSettings, progress: bool = True) -> Path:
    """Train the VLM on both of its labelling tasks and save it (model and processor)."""
    rng = np.random.default_rng(settings.seed)
    examples = _vlm_examples(videos, rng)
    texts = sorted({prompt for _, prompt, _ in examples} | {answer for _, _, answer in examples})
    model, processor = build_vlm(settings, texts)
    tokenizer = processor.tokenizer
    end = "<|im_end|>"
    chats = {text: _chat(processor, text) for text in {prompt for _, prompt, _ in examples}}

    def batches() -> Iterator[tuple[BatchFeature, list[list[int]]]]:
        while True:
            batch = [examples[int(i)] for i in rng.integers(len(examples), size=settings.vlm_batch)]
            inputs = processor(
                text=[chats[prompt] + answer + end for _, prompt, answer in batch], images=[frame for frame, _, _ in batch],
                padding=True, padding_side="right", input_data_format="channels_last", return_tensors="pt",
            )
            yield inputs, [tokenizer.encode(answer + end, add_special_tokens=False) for _, _, answer in batch]

    losses = _fit(model, batches(), settings.vlm_steps, settings.vlm_lr, "labeller VLM", progress)
    return _save(model, processor, out, settings.vlm_steps, len(examples), losses)


# --- the text LLM ---------------------------------------------------------------------------


def temporal_reply(frames: Sequence[int]) -> str:
    return json.dumps({"frames": list(frames)})


def training_examples(videos: Sequence[LabellerVideo], lengths: Sequence[int] = (128,),
                      template: TemporalPrompt | None = None) -> list[tuple[list[dict], str]]:
    """The text LLM's (messages, reply) pairs: the temporal prompt over the true captions, each
    question once per caption count in `lengths` (evenly spaced candidates). Shorter prompts
    teach the same matching for a fraction of the compute of the full one."""
    template = template or TemporalPrompt()
    return [
        (template.messages(view.captions, view.seconds, _question_text(row)), temporal_reply(temporal_target(view, row)))
        for video in videos for view in (video.subsample(n) for n in lengths) for row in video.questions
    ]


def build_text_llm(settings: LabellerSettings, corpus: Sequence[str]):
    """A Qwen2 of the demo's size with a tokenizer trained on the prompts it will read."""
    tokenizer = build_tiny_tokenizer(1024, corpus)
    config = Qwen2Config(vocab_size=len(tokenizer), max_position_embeddings=4096, tie_word_embeddings=True,
                         initializer_range=_init_std(settings, settings.llm["hidden_size"]),
                         bos_token_id=None, eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
                         pad_token_id=tokenizer.pad_token_id, **settings.llm)
    torch.manual_seed(settings.seed)
    return Qwen2ForCausalLM(config), tokenizer


def train_text_llm(
    examples: Sequence[tuple[list[dict], str]], out: str | os.PathLike, settings: LabellerSettings, progress: bool = True
) -> Path:
    """Train a causal LM to reply to chat `examples` ((messages, reply) pairs) and save it with its
    tokenizer and chat template, loadable by `AutoModelForCausalLM` / `AutoTokenizer`."""
    corpus = [message["content"] for messages, _ in examples[:200] for message in messages] + [reply for _, reply in examples]
    model, tokenizer = build_text_llm(settings, corpus)
    end = tokenizer.eos_token
    prompts = [tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) for messages, _ in examples]
    # Batches of neighbours in length (a random run of the length order), so a short prompt is
    # not padded to the longest: most of the mixed-length training then costs what it reads.
    by_length = np.argsort([len(tokenizer(prompt)["input_ids"]) for prompt in prompts], kind="stable")
    batch = min(settings.llm_batch, len(examples))
    rng = np.random.default_rng(settings.seed)

    def batches() -> Iterator[tuple[BatchFeature, list[list[int]]]]:
        while True:
            start = int(rng.integers(len(examples) - batch + 1))
            picked = by_length[start : start + batch]
            inputs = tokenizer([prompts[i] + examples[i][1] + end for i in picked], padding=True, padding_side="right",
                               add_special_tokens=False, return_tensors="pt")
            yield inputs, [tokenizer.encode(examples[i][1] + end, add_special_tokens=False) for i in picked]

    losses = _fit(model, batches(), settings.llm_steps, settings.llm_lr, "labeller text LLM", progress)
    return _save(model, tokenizer, out, settings.llm_steps, len(examples), losses)


# --- quality on held-out videos -------------------------------------------------------------


def labeller_quality(vlm: str | os.PathLike, text_llm: str | os.PathLike, videos: Sequence[LabellerVideo],
                     progress: bool = True) -> dict[str, float]:
    """Each labeller against the spans of held-out videos, through the label job's own classes.

    spatial_auc: ROC AUC of p(True) over every (question, candidate) pair, helpful or not;
    caption_needle / caption_background: the share of needle frames whose caption names the
    needle exactly, and of empty frames captioned as such; temporal_precision: the share of named
    frames that show a needed needle; temporal_recall: the share of needed needles with at least
    one frame named, reading the captions the VLM wrote (what labelling gives it).
    """
    from sklearn.metrics import roc_auc_score

    from pseudolabel.hf_scorers import HFCaptioner, HFSpatialScorer
    from pseudolabel.hf_temporal import HFTemporalSelector

    spatial = HFSpatialScorer.from_pretrained(vlm, device="cpu", mode="direct", batch_size=len(videos[0].frames))
    captioner = HFCaptioner(spatial.model, spatial.processor, batch_size=len(videos[0].frames), max_new_tokens=12)
    temporal = HFTemporalSelector.from_pretrained(text_llm, device="cpu", batch_size=4, max_new_tokens=48)
    scores, truth = [], []
    needle_right = needle_total = empty_right = empty_total = 0
    named = named_good = needed = needed_found = 0
    for video in tqdm(videos, desc="labeller quality", disable=not progress, unit="video"):
        captions = captioner.caption(video.frames)
        for caption, true_caption, needle in zip(captions, video.captions, video.needle_of):
            if needle is None:
                empty_total, empty_right = empty_total + 1, empty_right + (caption == true_caption)
            else:
                needle_total, needle_right = needle_total + 1, needle_right + (caption == true_caption)
        questions = [_question_text(row) for row in video.questions]
        answers = temporal.select_many(captions, video.seconds, questions)
        for row, answer, scored in zip(video.questions, answers, spatial.score_many(video.frames, questions)):
            good = helpful(video, row)
            scores += scored.tolist()
            truth += good
            named, named_good = named + len(answer.indices), named_good + sum(good[i] for i in answer.indices)
            shown = {video.needle_of[i] for i in answer.indices}
            needed, needed_found = needed + len(row["needles"]), needed_found + sum(n in shown for n in row["needles"])
    return {
        "spatial_auc": round(float(roc_auc_score(truth, scores)), 4),
        "caption_needle": round(needle_right / max(1, needle_total), 4),
        "caption_background": round(empty_right / max(1, empty_total), 4),
        "temporal_precision": round(named_good / max(1, named), 4),
        "temporal_recall": round(needed_found / max(1, needed), 4),
        "temporal_frames_named": round(named / max(1, sum(len(v.questions) for v in videos)), 2),
    }


def train_labellers(manifest: str | os.PathLike, out: str | os.PathLike, settings: LabellerSettings, progress: bool = True) -> dict[str, Path]:
    """Both labellers from the labeller split's manifest; returns {"vlm": path, "text_llm": path}."""
    out = Path(out)
    videos = load_videos(manifest, settings.candidates, progress)
    vlm = train_vlm(videos, out / "vlm", settings, progress)
    llm = train_text_llm(training_examples(videos, settings.prompt_lengths()), out / "text-llm", settings, progress)
    return {"vlm": vlm, "text_llm": llm}


__all__ = [
    "BACKGROUND_CAPTION",
    "LabellerVideo",
    "build_text_llm",
    "build_vlm",
    "helpful",
    "labeller_quality",
    "load_videos",
    "temporal_reply",
    "temporal_target",
    "train_labellers",
    "training_examples",
    "train_text_llm",
    "train_vlm",
]
