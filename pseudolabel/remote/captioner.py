"""Per-frame captions from any OpenAI-compatible vision server, the text the temporal selector
reads."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..base import Captioner
from ..caption_text import one_line
from .frame_backend import FrameBackend, image_message

log = logging.getLogger(__name__)

# Change the text -> bump the version: it is stored with every label.
CAPTION_PROMPT_VERSION = "openai-caption-v1"
CAPTION_PROMPT = "Describe this frame in one short sentence."


class OpenAICaptioner(FrameBackend, Captioner):
    """One short caption per frame, requests concurrent (at most `concurrency` in flight), in
    frame order. Control characters (NUL bytes, ...) are dropped and whitespace is collapsed to
    single spaces, so a caption fits on one numbered line of the temporal prompt (which also bounds
    its length).

    Settings: `max_tokens`, and those of `FrameBackend` and `OpenAIBackend`.
    """

    kind = "caption"
    prompt_version = CAPTION_PROMPT_VERSION

    def __init__(self, model: str, *, max_tokens: int = 64, **settings: Any) -> None:
        super().__init__(model, **settings)
        self.max_tokens = int(max_tokens)

    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "max_tokens": self.max_tokens}

    def request_body(self, image_url: str) -> dict[str, Any]:
        return self._with_extra(
            {
                "model": self.model,
                "messages": image_message(image_url, CAPTION_PROMPT),
                "max_tokens": self.max_tokens,
                "temperature": 0.0,
            }
        )

    def _caption_one(self, i: int, image_url: str, n: int) -> str:
        completion = self._chat(self.request_body(image_url), f"caption chat.completions (frame {i} of {n})")
        text = one_line(completion.choices[0].message.content)
        if not text:
            log.warning("captioner (model %s): empty caption for frame %d", self.model, i)
        return text

    def caption(self, frames: Sequence[np.ndarray]) -> list[str]:
        n = len(frames)
        return self._map_frames(frames, lambda i, url: self._caption_one(i, url, n))


__all__ = ["CAPTION_PROMPT", "CAPTION_PROMPT_VERSION", "OpenAICaptioner"]
