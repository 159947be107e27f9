"""The temporal pseudo-labels' text LLM run in-process through transformers, for users with a
local GPU and no server: the openai route's prompt, read by any causal LM with a chat template,
its replies repaired by the same code (`remote.reply_parsing`) and given the same notes.

The questions of one video share its captions, so the job hands them over together
(`select_many`) and they are generated as one left-padded batch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from .base import TemporalResult, TemporalSelector
from .caption_text import MAX_CAPTION_CHARS
from .hf_loading import GREEDY, load_checkpoint, model_provenance
from .remote.reply_parsing import temporal_result_from_message
from .temporal_prompt import TEMPORAL_PROMPT_VERSION, TemporalPrompt

log = logging.getLogger(__name__)


class HFTemporalSelector(TemporalSelector):
    """Names the helpful frames with a transformers causal LM (Qwen2.5-Instruct, Llama, ...).

    Greedy decoding (labels must be reproducible). A reply cut by `max_new_tokens` gets the note
    the openai route gives for finish_reason "length". A prompt that does not fit the model's
    context fails its items with an error naming both lengths, rather than letting the model
    read positions it was never trained on.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        max_frames: int | None = 8,
        max_new_tokens: int = 128,
        max_caption_chars: int = MAX_CAPTION_CHARS,
        batch_size: int = 8,
        model_id: str | None = None,
        revision: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, not {max_new_tokens}")
        if tokenizer.chat_template is None:
            raise ValueError(f"{model_id or 'the tokenizer'} has no chat template: the temporal prompt needs an instruct model")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.template = TemporalPrompt(max_frames=max_frames, max_caption_chars=max_caption_chars)
        self.max_frames = max_frames
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.model_id = model_id or model.config.name_or_path or type(model).__name__
        self.revision = revision
        self.context = getattr(model.config, "max_position_embeddings", None)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.stop_ids = self._stop_ids()

    @classmethod
    def from_pretrained(
        cls,
        model_id: str | os.PathLike,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        *,
        revision: str | None = None,
        attn_implementation: str | None = None,
        **settings: Any,
    ) -> HFTemporalSelector:
        """Load a causal LM and its tokenizer (hub id or local directory); `settings` are the
        constructor's keywords, the rest is `hf_loading.load_checkpoint`'s."""
        model, tokenizer, commit = load_checkpoint(
            AutoModelForCausalLM, AutoTokenizer, model_id, device, dtype, revision=revision, attn_implementation=attn_implementation
        )
        return cls(model, tokenizer, model_id=str(model_id), revision=commit, **settings)

    def _stop_ids(self) -> set[int]:
        """Every id that ends a reply: the generation config's (one or several) and the tokenizer's."""
        configured = self.model.generation_config.eos_token_id
        ids = set(configured if isinstance(configured, list) else [configured])
        ids.add(self.tokenizer.eos_token_id)
        return {i for i in ids if i is not None}

    def prompt_ids(self, captions: Sequence[str], seconds: Sequence[float], question: str) -> list[int]:
        """The chat-templated prompt's token ids, checked against the model's context."""
        text = self.tokenizer.apply_chat_template(
            self.template.messages(captions, seconds, question), add_generation_prompt=True, tokenize=False
        )
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if self.context is not None and len(ids) + self.max_new_tokens > self.context:
            raise ValueError(
                f"temporal prompt of {len(ids)} tokens plus {self.max_new_tokens} to generate exceeds the context of "
                f"{self.model_id} ({self.context}): use fewer candidates or shorter captions"
            )
        return ids

    def select(self, captions: Sequence[str], seconds: Sequence[float], question: str) -> TemporalResult:
        return self.select_many(captions, seconds, [question])[0]

    @torch.inference_mode()
    def select_many(self, captions: Sequence[str], seconds: Sequence[float], questions: Sequence[str]) -> list[TemporalResult]:
        if len(captions) == 0:
            return [TemporalResult(indices=[], raw="", notes=["no captions: nothing to select"]) for _ in questions]
        prompts = [self.prompt_ids(captions, seconds, question) for question in questions]
        replies: list[tuple[str, bool]] = []
        for start in range(0, len(prompts), self.batch_size):
            replies += self._generate(prompts[start : start + self.batch_size])
        caption_notes = self.template.caption_notes(captions)
        results = []
        for text, truncated in replies:
            result = temporal_result_from_message(
                text, len(captions), finish_reason="length" if truncated else "stop", max_frames=self.max_frames
            )
            result.notes[:0] = caption_notes
            if result.notes:
                log.info("temporal selector (model %s): %s", self.model_id, "; ".join(result.notes))
            results.append(result)
        return results

    def _generate(self, prompts: list[list[int]]) -> list[tuple[str, bool]]:
        """Greedy replies of one left-padded batch: (text, cut by max_new_tokens)."""
        width = max(len(ids) for ids in prompts)
        input_ids = torch.tensor([[self.pad_id] * (width - len(ids)) + ids for ids in prompts], device=self.model.device)
        attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in prompts], device=self.model.device)
        output = self.model.generate(
            input_ids=input_ids,
            attention_mask=attention,
            max_new_tokens=self.max_new_tokens,
            pad_token_id=self.pad_id,
            **GREEDY,
        )
        replies = []
        for row in output[:, width:].tolist():
            stops = [i for i, token in enumerate(row) if token in self.stop_ids]
            text = self.tokenizer.decode(row[: stops[0]] if stops else row, skip_special_tokens=True)
            replies.append((text.strip(), not stops))
        return replies

    def provenance(self) -> dict:
        return {
            **model_provenance(self, self.model, self.model_id, self.revision),
            "prompt_version": TEMPORAL_PROMPT_VERSION,
            "max_frames": self.max_frames,
            "max_new_tokens": self.max_new_tokens,
            "max_caption_chars": self.template.max_caption_chars,
            "batch_size": self.batch_size,
        }


__all__ = ["HFTemporalSelector"]
