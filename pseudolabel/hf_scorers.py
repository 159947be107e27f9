"""Spatial scores and captions from a Qwen2-VL-family model (Qwen2-VL, Qwen2.5-VL) run in-process
through transformers.

The paper labels with Qwen2-VL-7B: it sees one candidate frame and the question, explains, and
ends with "Evaluation: True/False"; the spatial label is p(True) / (p(True) + p(False)) at the
answer position. The same model writes the per-frame captions for the temporal labels, so one
loaded model can serve both::

    scorer = HFSpatialScorer.from_pretrained("Qwen/Qwen2-VL-7B-Instruct", mode="reason")
    captioner = HFCaptioner(scorer.model, scorer.processor, model_id=scorer.model_id,
                            revision=scorer.revision)

Which token stands for "True" and "False": the answer words are encoded in the context they are
read in (right after the assistant prompt in ``direct`` mode, so "True"; after "Evaluation:" in
``reason`` mode, where the model writes "Evaluation: True", so " True" with its leading space) and
the first token where the two encodings differ is compared. In Qwen's vocabulary all four variants
are single tokens, so this is the whole word. A smaller BPE may split them (" True" -> "Ġ", "T",
...): the tokens both words start with are then appended to the context before the read-out, so
the comparison is still between the two words and not between two copies of the same space token,
and a warning says so.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Literal, TypeVar

import numpy as np
import torch
from transformers import (
    AutoModelForImageTextToText,
    AutoProcessor,
    BatchFeature,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    ProcessorMixin,
)

from .base import Captioner, SpatialScorer
from .caption_text import one_line
from .hf_loading import GREEDY, load_checkpoint, model_provenance

# Bump when any prompt below or the way answers are read changes: labels made with different
# prompts are not comparable, and the version is stored with every label.
PROMPT_VERSION = "qwen-vl-1"

DIRECT_PROMPT = (
    "Question: {question}\n"
    "Does this video frame show information that helps answer the question? "
    "Answer with only True or False."
)
REASON_PROMPT = (
    "Question: {question}\n"
    "Does this video frame show information that helps answer the question? "
    "First explain briefly what the frame shows and how it relates to the question. "
    'Then end with a last line that is exactly "Evaluation: True" or "Evaluation: False".'
)
CAPTION_PROMPT = "Describe this video frame in one short sentence."

EVALUATION_MARKER = "Evaluation:"
ANSWER_WORDS = ("True", "False")

Mode = Literal["direct", "reason"]
_Self = TypeVar("_Self", bound="_InProcessVLM")


class _InProcessVLM:
    """What the scorer and the captioner share: the model and processor, the pixel budget, batched
    and left-padded inputs, greedy generation and the loading code.

    Its settings (`batch_size`, `min_pixels` / `max_pixels`, `model_id`, `revision`) are keywords
    of both subclasses' constructors, passed through unchanged.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        processor: ProcessorMixin,
        *,
        batch_size: int = 8,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        model_id: str | None = None,
        revision: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.model = model.eval()
        self.processor = processor
        self.batch_size = batch_size
        # Resolved to numbers now, so provenance records the budget actually used.
        size = processor.image_processor.size
        self.min_pixels = int(min_pixels if min_pixels is not None else size.shortest_edge)
        self.max_pixels = int(max_pixels if max_pixels is not None else size.longest_edge)
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError(f"need 0 < min_pixels <= max_pixels, got {self.min_pixels}, {self.max_pixels}")
        self.model_id = model_id or model.config.name_or_path or type(model).__name__
        self.revision = revision

    @classmethod
    def from_pretrained(
        cls: type[_Self],
        model_id: str | os.PathLike,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        *,
        revision: str | None = None,
        attn_implementation: str | None = None,
        **settings,
    ) -> _Self:
        """Load a checkpoint (hub id or local directory) and wrap it; `settings` are the
        constructor's keyword settings (mode, batch_size, pixel budget, ...), the rest is
        `hf_loading.load_checkpoint`'s."""
        model, processor, commit = load_checkpoint(
            AutoModelForImageTextToText, AutoProcessor, model_id, device, dtype,
            revision=revision, attn_implementation=attn_implementation,
        )
        return cls(model, processor, model_id=str(model_id), revision=commit, **settings)

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.processor.tokenizer

    def _prompt(self, text: str) -> str:
        """The chat-templated prompt for one image followed by `text`, ending with the assistant
        turn's opening."""
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def _batches(self, frames: Sequence[np.ndarray]) -> Iterator[list[np.ndarray]]:
        for start in range(0, len(frames), self.batch_size):
            batch = [np.asarray(frame) for frame in frames[start : start + self.batch_size]]
            for frame in batch:
                if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
                    raise ValueError(f"frames must be RGB uint8 (H, W, 3) arrays, got {frame.dtype} {frame.shape}")
            yield batch

    def _encode(self, texts: list[str], images: list[np.ndarray]) -> BatchFeature:
        """Tokenise and patch a batch, padded on the left so every row's last token is at the
        same position: that is where generation continues and where answers are read."""
        inputs = self.processor(
            text=texts,
            images=images,
            padding=True,
            padding_side="left",
            size={"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels},
            input_data_format="channels_last",
            return_tensors="pt",
        )
        return inputs.to(self.model.device)

    def _generate(self, inputs: BatchFeature, max_new_tokens: int) -> list[str]:
        """Greedy continuations, special tokens dropped. The checkpoint's sampling settings are
        switched off (labels must be reproducible); its repetition penalty, if any, still applies
        and is recorded in provenance."""
        output = self.model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            pad_token_id=self.tokenizer.pad_token_id,
            **GREEDY,
        )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return [text.strip() for text in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]

    def _provenance(self) -> dict:
        return {
            **model_provenance(self, self.model, self.model_id, self.revision),
            "prompt_version": PROMPT_VERSION,
            "batch_size": self.batch_size,
            "min_pixels": self.min_pixels,
            "max_pixels": self.max_pixels,
        }


def _answer_tokens(tokenizer: PreTrainedTokenizerBase, context: str, separator: str) -> tuple[list[int], int, int]:
    """The token ids that decide True against False when the answer follows `context`.

    Returns (shared, true_id, false_id): `shared` are the leading tokens both answers start with
    (empty for Qwen's vocabulary), which must be fed before reading; the ids are the first tokens
    where the two encodings differ.
    """
    base = tokenizer.encode(context, add_special_tokens=False)
    tails = []
    for word in ANSWER_WORDS:
        full = tokenizer.encode(context + separator + word, add_special_tokens=False)
        if full[: len(base)] != base:
            raise ValueError(f"the tokenizer merges {word!r} into the text before it; cannot read the answer")
        tails.append(full[len(base) :])
    true_tail, false_tail = tails
    n_shared = 0
    while n_shared < min(len(true_tail), len(false_tail)) and true_tail[n_shared] == false_tail[n_shared]:
        n_shared += 1
    if n_shared == min(len(true_tail), len(false_tail)):
        raise ValueError("one answer's tokens are a prefix of the other's; True and False cannot be told apart")
    if n_shared:
        warnings.warn(
            f"True and False share their first token(s) {tokenizer.convert_ids_to_tokens(true_tail[:n_shared])} "
            "in this tokenizer; these are appended to the context and the next token is compared",
            stacklevel=3,
        )
    return true_tail[:n_shared], true_tail[n_shared], false_tail[n_shared]


def _append_tokens(inputs: BatchFeature, ids: list[int]) -> BatchFeature:
    """Append the same text tokens to every row of a left-padded batch."""
    if not ids:
        return inputs
    rows = inputs["input_ids"].shape[0]
    tail = torch.tensor(ids, dtype=inputs["input_ids"].dtype, device=inputs["input_ids"].device).expand(rows, -1)
    inputs["input_ids"] = torch.cat([inputs["input_ids"], tail], dim=1)
    inputs["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones_like(tail)], dim=1)
    if "mm_token_type_ids" in inputs:  # 0 = text
        inputs["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], torch.zeros_like(tail)], dim=1)
    return inputs


class HFSpatialScorer(_InProcessVLM, SpatialScorer):
    """Scores each frame alone with a Qwen2-VL-family model: p(True) / (p(True) + p(False)).

    Modes:
        ``direct``: one forward pass; the answer is the first token of the assistant's reply.
        ``reason``: as in the paper, the model first explains (greedy, up to `max_new_tokens`),
            then the text is cut after its first "Evaluation:" (or "Evaluation:" is appended on a
            new line when the model did not write it) and one more forward pass reads the answer.
            Costs a generation per frame, batched like everything else.

    The frames of one call share the question and go through in batches of `batch_size`.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        processor: ProcessorMixin,
        *,
        mode: Mode = "direct",
        max_new_tokens: int = 128,
        **settings: Any,
    ) -> None:
        super().__init__(model, processor, **settings)
        if mode not in ("direct", "reason"):
            raise ValueError(f"mode must be 'direct' or 'reason', not {mode!r}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, not {max_new_tokens}")
        self.mode = mode
        self.max_new_tokens = max_new_tokens
        if mode == "direct":
            context, separator = self._prompt(DIRECT_PROMPT.format(question="?")), ""
        else:
            context, separator = self._prompt(REASON_PROMPT.format(question="?")) + EVALUATION_MARKER, " "
        self.shared_answer_ids, self.true_id, self.false_id = _answer_tokens(self.tokenizer, context, separator)

    def score(self, frames: Sequence[np.ndarray], question: str) -> np.ndarray:
        return self.score_with_explanations(frames, question)[0]

    @torch.inference_mode()
    def score_many(self, frames: Sequence[np.ndarray], questions: Sequence[str]) -> list[np.ndarray]:
        """The questions of one video: in ``direct`` mode each batch of frames goes through the
        vision tower once for all of them (`mm_encoder_outputs`), which is most of the work when
        a video has several questions. ``reason`` mode asks one question at a time."""
        if self.mode != "direct":
            return [self.score(frames, question) for question in questions]
        prompts = [self._prompt(DIRECT_PROMPT.format(question=question)) for question in questions]
        scores: list[list[torch.Tensor]] = [[] for _ in questions]
        for batch in self._batches(frames):
            encoded = None
            for row, prompt in zip(scores, prompts):
                inputs = self._encode([prompt] * len(batch), batch)
                pixels = inputs.pop("pixel_values")
                if encoded is None:
                    encoded = self.model.get_image_features(pixels, inputs["image_grid_thw"], return_dict=True)
                row.append(self._read_answer(inputs, mm_encoder_outputs={"image": encoded}))
        return [torch.cat(row).numpy() if row else np.empty(0, dtype=np.float32) for row in scores]

    @torch.inference_mode()
    def score_with_explanations(self, frames: Sequence[np.ndarray], question: str) -> tuple[np.ndarray, list[str]]:
        """Scores, and what the model read before answering: its explanation up to and including
        "Evaluation:" in ``reason`` mode (worth keeping to audit labels), empty strings in ``direct``."""
        scores: list[torch.Tensor] = []
        explanations: list[str] = []
        if self.mode == "direct":
            prompt = self._prompt(DIRECT_PROMPT.format(question=question))
            for batch in self._batches(frames):
                scores.append(self._read_answer(self._encode([prompt] * len(batch), batch)))
                explanations += [""] * len(batch)
        else:
            prompt = self._prompt(REASON_PROMPT.format(question=question))
            for batch in self._batches(frames):
                written = self._generate(self._encode([prompt] * len(batch), batch), self.max_new_tokens)
                reasoned = [_up_to_evaluation(self._as_plain_text(text)) for text in written]
                scores.append(self._read_answer(self._encode([prompt + text for text in reasoned], batch)))
                explanations += reasoned
        if not scores:
            return np.empty(0, dtype=np.float32), []
        return torch.cat(scores).numpy(), explanations

    def _as_plain_text(self, text: str) -> str:
        """Generated text with any special-token strings the model spelled out piece by piece
        removed: fed back, "<|image_pad|>" would become an image placeholder with no image."""
        for special in self.tokenizer.all_special_tokens:
            text = text.replace(special, "")
        return text

    def _read_answer(self, inputs: BatchFeature, **encoded: Any) -> torch.Tensor:
        """One forward pass over encoded inputs (`encoded`: the vision tower's output when it was
        run already); the score from the next-token logits at the last position.

        p(True) / (p(True) + p(False)) over the vocabulary softmax equals the sigmoid of the
        difference of the two logits (the softmax normaliser cancels); the sigmoid form stays
        finite where both probabilities underflow to zero.
        """
        inputs = _append_tokens(inputs, self.shared_answer_ids)
        logits = self.model(**inputs, **encoded, logits_to_keep=1).logits[:, -1].float()
        return torch.sigmoid(logits[:, self.true_id] - logits[:, self.false_id]).cpu()

    def provenance(self) -> dict:
        return {
            **self._provenance(),
            "mode": self.mode,
            "max_new_tokens": self.max_new_tokens if self.mode == "reason" else None,
            "answer_tokens": {
                "shared": self.tokenizer.convert_ids_to_tokens(self.shared_answer_ids),
                "true": self.tokenizer.convert_ids_to_tokens(self.true_id),
                "false": self.tokenizer.convert_ids_to_tokens(self.false_id),
            },
        }


def _up_to_evaluation(text: str) -> str:
    """The explanation cut right after its first "Evaluation:", or with one appended, so the next
    token is the answer."""
    at = text.find(EVALUATION_MARKER)
    if at >= 0:
        return text[: at + len(EVALUATION_MARKER)]
    return f"{text.rstrip()}\n{EVALUATION_MARKER}" if text.strip() else EVALUATION_MARKER


class HFCaptioner(_InProcessVLM, Captioner):
    """A short greedy caption per frame from a Qwen2-VL-family model, batched.

    Whitespace runs, newlines included, become single spaces and control characters are dropped
    (`caption_text.one_line`): the temporal selector reads the captions as one numbered line each.
    """

    def __init__(self, model: PreTrainedModel, processor: ProcessorMixin, *, max_new_tokens: int = 64, **settings: Any) -> None:
        super().__init__(model, processor, **settings)
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, not {max_new_tokens}")
        self.max_new_tokens = max_new_tokens

    @torch.inference_mode()
    def caption(self, frames: Sequence[np.ndarray]) -> list[str]:
        prompt = self._prompt(CAPTION_PROMPT)
        captions: list[str] = []
        for batch in self._batches(frames):
            written = self._generate(self._encode([prompt] * len(batch), batch), self.max_new_tokens)
            captions += [one_line(text) for text in written]
        return captions

    def provenance(self) -> dict:
        return {**self._provenance(), "max_new_tokens": self.max_new_tokens}


__all__ = [
    "CAPTION_PROMPT",
    "DIRECT_PROMPT",
    "EVALUATION_MARKER",
    "HFCaptioner",
    "HFSpatialScorer",
    "PROMPT_VERSION",
    "REASON_PROMPT",
]
