"""The temporal pseudo-labels' text LLM (`gpt-4o-mini` by default): it reads the numbered
captions and the question and names the helpful frames as JSON; `reply_parsing` repairs what it
says."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..base import TemporalResult, TemporalSelector
from ..caption_text import MAX_CAPTION_CHARS, bounded_caption
from .backend import OpenAIBackend
from .reply_parsing import temporal_result_from_completion, temporal_result_from_message

log = logging.getLogger(__name__)

# Change the text -> bump the version: it is stored with every label.
TEMPORAL_PROMPT_VERSION = "openai-temporal-v1"
TEMPORAL_SYSTEM_PROMPT = (
    "You select video frames. You are given captions of frames sampled from one video, in time "
    "order, and a question about the video. Name the frames whose content helps answer the "
    'question. Reply with JSON only, in the form {"frames": [<frame numbers>]}.'
)
TEMPORAL_PROMPT = (
    "Captions of {n} frames, numbered from 0 to {last}, with their time in the video:\n"
    "{captions}\n\n"
    "Question: {question}\n\n"
    "Which frames help answer the question? {limit}Use the 0-based frame numbers in brackets. "
    'Reply as {{"frames": [...]}}.'
)
TEMPORAL_LIMIT = "Choose at most {max_frames} frames. "

TEMPORAL_JSON_SCHEMA: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "frame_selection",
        "schema": {
            "type": "object",
            "properties": {"frames": {"type": "array", "items": {"type": "integer"}}},
            "required": ["frames"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


class OpenAITemporalSelector(OpenAIBackend, TemporalSelector):
    """The text LLM of the temporal pseudo-labels, through chat completions.

    The prompt lists the captions as "[i] (12.3 s) caption" (0-based) and asks for the helpful
    frames, at most `max_frames` (a hint, not enforced; None leaves it out). The reply is asked
    for as strict JSON `{"frames": [int, ...]}` via `response_format` ("json_schema"; or
    "json_object", or "none" for servers without structured outputs), and parsed defensively by
    `parse_temporal_reply`: an unusable reply gives an empty result with a note, never an error.
    Each caption goes in as one line of at most `max_caption_chars` characters (control
    characters dropped, a longer one cut with " ..." and a note in the result), so a runaway
    captioner cannot push the prompt past the model's context.
    `request_body` is also what the Batch API mode (`pseudolabel.batch`) sends.

    Settings: `max_frames`, `max_tokens`, `response_format`, `max_caption_chars`, and those of
    `OpenAIBackend`.
    """

    kind = "temporal"
    prompt_version = TEMPORAL_PROMPT_VERSION

    def __init__(
        self,
        model: str = "gpt-4o-mini",
        *,
        max_frames: int | None = 8,
        max_tokens: int = 512,
        response_format: Literal["json_schema", "json_object", "none"] = "json_schema",
        max_caption_chars: int = MAX_CAPTION_CHARS,
        **settings: Any,
    ) -> None:
        super().__init__(model, **settings)
        if response_format not in ("json_schema", "json_object", "none"):
            raise ValueError(f"response_format must be json_schema, json_object or none, not {response_format!r}")
        if max_frames is not None and max_frames < 1:
            raise ValueError("max_frames must be >= 1 or None")
        if max_caption_chars < 1:
            raise ValueError(f"max_caption_chars must be >= 1, not {max_caption_chars}")
        self.max_caption_chars = int(max_caption_chars)
        self.max_frames = max_frames
        self.max_tokens = int(max_tokens)
        self.response_format = response_format

    def _settings(self) -> dict[str, Any]:
        return {
            **super()._settings(),
            "max_frames": self.max_frames,
            "max_tokens": self.max_tokens,
            "response_format": self.response_format,
            "max_caption_chars": self.max_caption_chars,
            "temperature": 0.0,
        }

    def prompt(self, captions: Sequence[str], seconds: Sequence[float], question: str) -> str:
        lines = "\n".join(
            f"[{i}] ({float(t):.1f} s) {bounded_caption(c, self.max_caption_chars)[0]}"
            for i, (c, t) in enumerate(zip(captions, seconds))
        )
        limit = TEMPORAL_LIMIT.format(max_frames=self.max_frames) if self.max_frames is not None else ""
        return TEMPORAL_PROMPT.format(n=len(captions), last=len(captions) - 1, captions=lines, question=question, limit=limit)

    def caption_notes(self, captions: Sequence[str]) -> list[str]:
        """One note per caption the prompt had to cut, so a runaway captioner shows in the labels."""
        notes = []
        for i, caption in enumerate(captions):
            original = bounded_caption(caption, self.max_caption_chars)[1]
            if original is not None:
                notes.append(f"caption {i} cut from {original} to {self.max_caption_chars} characters")
        return notes

    def request_body(self, captions: Sequence[str], seconds: Sequence[float], question: str) -> dict[str, Any]:
        """The chat-completions JSON body, exactly as sent online and written to batch files."""
        if len(captions) != len(seconds):
            raise ValueError(f"{len(captions)} captions but {len(seconds)} timestamps")
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": TEMPORAL_SYSTEM_PROMPT},
                {"role": "user", "content": self.prompt(captions, seconds, question)},
            ],
            "temperature": 0.0,
            "max_tokens": self.max_tokens,
        }
        if self.response_format == "json_schema":
            body["response_format"] = json.loads(json.dumps(TEMPORAL_JSON_SCHEMA))
        elif self.response_format == "json_object":
            body["response_format"] = {"type": "json_object"}
        return self._with_extra(body)

    def parse_completion(self, completion: Mapping[str, Any], n: int) -> TemporalResult:
        """The result of a chat completion in JSON form (the Batch API's output lines)."""
        return temporal_result_from_completion(completion, n, max_frames=self.max_frames)

    def select(self, captions: Sequence[str], seconds: Sequence[float], question: str) -> TemporalResult:
        if len(captions) == 0:
            return TemporalResult(indices=[], raw="", notes=["no captions: nothing to select"])
        completion = self._chat(self.request_body(captions, seconds, question), "temporal chat.completions")
        choice = completion.choices[0]
        result = temporal_result_from_message(
            choice.message.content, len(captions), finish_reason=choice.finish_reason,
            refusal=getattr(choice.message, "refusal", None), max_frames=self.max_frames,
        )
        result.notes[:0] = self.caption_notes(captions)
        if result.notes:
            log.info("temporal selector (model %s): %s", self.model, "; ".join(result.notes))
        return result


__all__ = [
    "OpenAITemporalSelector",
    "TEMPORAL_JSON_SCHEMA",
    "TEMPORAL_LIMIT",
    "TEMPORAL_PROMPT",
    "TEMPORAL_PROMPT_VERSION",
    "TEMPORAL_SYSTEM_PROMPT",
]
