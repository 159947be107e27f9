"""The temporal pseudo-labels' text LLM (`gpt-4o-mini` by default): it reads the numbered
captions and the question and names the helpful frames as JSON; `reply_parsing` repairs what it
says."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..base import TemporalResult, TemporalSelector
from ..caption_text import MAX_CAPTION_CHARS
from ..temporal_prompt import (
    TEMPORAL_LIMIT,
    TEMPORAL_PROMPT,
    TEMPORAL_PROMPT_VERSION,
    TEMPORAL_SYSTEM_PROMPT,
    TemporalPrompt,
)
from .backend import OpenAIBackend
from .reply_parsing import temporal_result_from_completion, temporal_result_from_message

log = logging.getLogger(__name__)

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

    The prompt (`TemporalPrompt`) lists the captions as "[i] (12.3 s) caption" (0-based) and asks
    for the helpful frames, at most `max_frames`. The reply is asked for as strict JSON `{"frames": [int, ...]}` via `response_format` ("json_schema"; or
    "json_object", or "none" for servers without structured outputs), and parsed defensively by
    `parse_temporal_reply`: an unusable reply gives an empty result with a note, never an error.
    `request_body` is also what the Batch API mode (`pseudolabel.batch_files`) sends.

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
        self.template = TemporalPrompt(max_frames=max_frames, max_caption_chars=max_caption_chars)
        self.max_caption_chars = self.template.max_caption_chars
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
        return self.template.user_text(captions, seconds, question)

    def caption_notes(self, captions: Sequence[str]) -> list[str]:
        return self.template.caption_notes(captions)

    def request_body(self, captions: Sequence[str], seconds: Sequence[float], question: str) -> dict[str, Any]:
        """The chat-completions JSON body, exactly as sent online and written to batch files."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": self.template.messages(captions, seconds, question),
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
