"""`FrameSelectorProcessor`: the text and pixels a selector reads, saved with its checkpoint.

A selector is trained on one way of writing a question (the chat turn around it, how answer options
are lettered) and one pixel normalisation. Any other text at inference is a prompt it never saw, so
these are not settings of the caller but a property of the checkpoint, as a transformers processor
is: labelling, training, `select`, `eval` and both lmms-eval routes all ask the processor saved next
to the weights (`processor_config.json`, the tokenizer files, the image processor's settings).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from transformers import (
    AutoImageProcessor,
    AutoProcessor,
    AutoTokenizer,
    BatchFeature,
    PreTrainedTokenizerBase,
    ProcessorMixin,
    SiglipImageProcessor,
)

from .configuration import FrameSelectorConfig
from .prompts import OPTIONS_HEADER, question_with_options
from .records import VideoQuestion

FRAMES_PREFIX = "<|im_start|>user\n"
QUESTION_TEMPLATE = "\n{question}<|im_end|>\n<|im_start|>assistant\n"
USER_TURN = "<|im_start|>user\n"  # opens each user turn of a conversation after the first
TURN_END = "<|im_end|>"

Options = Sequence[str] | None
# A question as the processor takes it: its text alone, or a record with its answer options.
Question = str | VideoQuestion
# One video's frames: decoded uint8 (n, H, W, 3), or pooled vision features (n, T, Dv).
Frames = np.ndarray | torch.Tensor


class FrameSelectorProcessor(ProcessorMixin):
    """The selector's tokenizer and image processor, plus how a question becomes its tokens.

    Args:
        image_processor: the vision checkpoint's image processor; its mean, std and rescale factor
            normalise frames (the decoder already resizes them to the tower's input size).
        tokenizer: the language model's tokenizer.
        frames_prefix: text before the frame tokens; it belongs to the question-independent prefix
            whose key/value cache every question on a video shares.
        question_template: text after the frames, with `{question}`; the score query follows it.
        options_header: the line between a question and its lettered options.
    """

    def __init__(
        self,
        image_processor,
        tokenizer,
        frames_prefix: str = FRAMES_PREFIX,
        question_template: str = QUESTION_TEMPLATE,
        options_header: str = OPTIONS_HEADER,
        **kwargs,
    ):
        if "{question}" not in question_template:
            raise ValueError(f"question_template must contain '{{question}}', got {question_template!r}")
        self.frames_prefix = frames_prefix
        self.question_template = question_template
        self.options_header = options_header
        super().__init__(image_processor, tokenizer, **kwargs)

    # --- text -----------------------------------------------------------------------------------

    def question_text(self, question: str, options: Options = None) -> str:
        """The text after the frames: the chat turn around the question and its lettered options.

        An option may be empty: benchmarks publish such options and their official scripts letter
        them like the others (MLVU), so the option keeps its letter, shown bare ("A. "), and the
        letters after it stay the ones the answer is scored by."""
        if not isinstance(question, str) or not question.strip():
            raise ValueError(f"question must be a non-empty string, got {question!r}")
        if options is not None and (isinstance(options, str) or not all(isinstance(o, str) for o in options)):
            raise ValueError(f"options must be a list of strings, got {options!r}")
        return self.question_template.format(question=question_with_options(question, options, self.options_header))

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def question_ids(self, question: str, options: Options = None) -> list[int]:
        """The token ids of one question; what training and every inference route feed the model."""
        return self.encode(self.question_text(question, options))

    def record_ids(self, question: Question) -> list[int]:
        """The token ids of a question given as its text or as a `VideoQuestion` (with its options)."""
        if isinstance(question, VideoQuestion):
            return self.question_ids(question.question, question.options or None)
        return self.question_ids(question)

    def conversation_ids(self, turns: Sequence[tuple[str, str]]) -> tuple[list[int], list[int]]:
        """Token ids of (user, answer) turns after the frames, and next-token targets that are
        -100 except on the answers' tokens. The first user turn continues the frames prefix
        exactly as a question does at scoring time (`chat_turn_parts`)."""
        user_open, assistant_open = self.chat_turn_parts()
        ids: list[int] = []
        targets: list[int] = []
        for turn, (user, answer) in enumerate(turns):
            prompt = self.encode((user_open if turn == 0 else USER_TURN) + user + assistant_open)
            reply = self.encode(answer + TURN_END) + self.encode("\n")
            ids += prompt + reply
            targets += [-100] * len(prompt) + reply[:-1] + [-100]
        return ids, targets

    def __call__(
        self,
        questions: Question | Sequence[Question] | None = None,
        frames: Frames | Sequence[Frames] | None = None,
        features: Frames | Sequence[Frames] | None = None,
        conversations: Sequence[Sequence[tuple[str, str]]] | None = None,
    ) -> BatchFeature:
        """Everything the model takes, as one `BatchFeature` (keyword arguments of
        `FrameSelectorForFrameScoring.forward`), so no caller pads or builds a prefix:

        - `questions` (texts or `VideoQuestion` records, whose options are lettered after them):
          `input_ids` and `attention_mask`, left-padded so the score query sits last in every row;
        - or `conversations` ((user, answer) turns each): right-padded `input_ids`,
          `attention_mask` and next-token `targets` (-100 on padding and on all but the answers);
        - `frames` (decoded uint8 (n, H, W, 3)) as normalised `pixel_values` (B, n_max, 3, H, W),
          or cached `features` (n, T, Dv) as `vision_features` (B, n_max, T, Dv): one array per
          item (a single array is one item), zero-padded to the longest, with `num_candidates`
          (B,) and the frames prefix's `prefix_ids`.
        """
        if questions is not None and conversations is not None:
            raise ValueError("pass questions or conversations, not both")
        if frames is not None and features is not None:
            raise ValueError("pass frames or features, not both")
        data: dict[str, torch.Tensor] = {}
        if questions is not None:
            if isinstance(questions, (str, VideoQuestion)):
                questions = [questions]
            data.update(self._pad([self.record_ids(q) for q in questions], "left"))
        if conversations is not None:
            encoded = [self.conversation_ids(turns) for turns in conversations]
            data.update(self._pad([ids for ids, _ in encoded], "right"))
            width = data["input_ids"].shape[1]
            data["targets"] = torch.tensor([targets + [-100] * (width - len(targets)) for _, targets in encoded])
        if frames is not None:
            frames = [frames] if isinstance(frames, (np.ndarray, torch.Tensor)) else frames
            data["pixel_values"], data["num_candidates"] = _stack([self.pixel_values(np.asarray(f)) for f in frames])
        if features is not None:
            features = [features] if isinstance(features, (np.ndarray, torch.Tensor)) else features
            data["vision_features"], data["num_candidates"] = _stack([torch.as_tensor(f) for f in features])
        if frames is not None or features is not None:
            data["prefix_ids"] = self.prefix_ids()
        return BatchFeature(data)

    def question_batch(self, questions: Sequence[Question]) -> tuple[torch.Tensor, torch.Tensor]:
        """`input_ids` and `attention_mask` of `self(questions=questions)` as a pair, for the
        callers that unpack them (the benchmarks)."""
        batch = self(questions=questions)
        return batch["input_ids"], batch["attention_mask"]

    def _pad(self, rows: Sequence[list[int]], side: str) -> dict[str, torch.Tensor]:
        """Token rows padded with the tokenizer's pad token: left for questions, so the score
        query sits last in every row; right for conversations."""
        if self.tokenizer.pad_token_id is None:
            raise ValueError("the selector's tokenizer has no pad token")
        batch = self.tokenizer.pad([{"input_ids": ids} for ids in rows], padding=True, padding_side=side, return_tensors="pt")
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}

    def prefix_ids(self) -> torch.Tensor:
        """Token ids of the frames prefix (before the frame tokens), tokenized once: training asks
        for them on every step and validation batch. Callers move them, never change them."""
        cached = self.__dict__.get("_prefix_ids")
        if cached is None or self.__dict__.get("_prefix_text") != self.frames_prefix:
            cached = torch.tensor(self.encode(self.frames_prefix), dtype=torch.long)
            self.__dict__.update(_prefix_ids=cached, _prefix_text=self.frames_prefix)
        return cached

    def chat_turn_parts(self) -> tuple[str, str]:
        """(text before the first user message, text that opens the assistant's reply): the
        question template split at `{question}`, so instruction data continues the frames prefix
        exactly as a question does at scoring time."""
        before, _, after = self.question_template.partition("{question}")
        return before, after

    # --- pixels ---------------------------------------------------------------------------------

    def pixel_values(self, frames: np.ndarray) -> torch.Tensor:
        """(n, H, W, 3) uint8 frames, already resized by the decoder -> normalised (n, 3, H, W) float32."""
        image = self.image_processor
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        x = x.mul_(float(image.rescale_factor))
        mean = torch.tensor(image.image_mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(image.image_std, dtype=torch.float32).view(1, 3, 1, 1)
        return (x - mean) / std


def _stack(items: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-item (n_i, ...) tensors as one (B, n_max, ...) batch, zeros beyond each item's n_i,
    and the counts."""
    counts = torch.tensor([len(item) for item in items])
    out = torch.zeros((len(items), int(counts.max()), *items[0].shape[1:]), dtype=items[0].dtype)
    for b, item in enumerate(items):
        out[b, : len(item)] = item
    return out, counts


def load_processor(path: str | os.PathLike) -> FrameSelectorProcessor:
    """The processor saved with a selector checkpoint, with a one-line error when there is none."""
    try:
        return FrameSelectorProcessor.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: no selector processor (processor_config.json, tokenizer): {error}") from error


def processor_for(
    vision: str | os.PathLike | None,
    tokenizer: str | os.PathLike | PreTrainedTokenizerBase,
    image_size: int,
    **text_settings,
) -> FrameSelectorProcessor:
    """A processor for a freshly assembled selector: the vision checkpoint's image processor when
    it has one (SigLIP's 0.5/0.5 normalisation otherwise), the LLM's tokenizer, and the default
    question text unless `text_settings` say otherwise."""
    image = None
    if vision is not None:
        try:
            image = AutoImageProcessor.from_pretrained(vision)
        except (OSError, ValueError):
            image = None
    if image is None:
        image = SiglipImageProcessor(size={"height": image_size, "width": image_size})
    if isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = AutoTokenizer.from_pretrained(tokenizer)
    return FrameSelectorProcessor(image, tokenizer, **text_settings)


AutoProcessor.register(FrameSelectorConfig, FrameSelectorProcessor, exist_ok=True)

__all__ = ["FrameSelectorProcessor", "Question", "load_processor", "processor_for", "FRAMES_PREFIX", "QUESTION_TEMPLATE"]
