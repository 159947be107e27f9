"""The temporal prompt: numbered captions and the question, and the JSON the text LLM should reply.

One prompt whatever runs the text LLM (a server through the openai client, the Batch API, or
transformers in-process), so labels made by any route are comparable, and its version is stored
with every label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .caption_text import MAX_CAPTION_CHARS, bounded_caption

# Change the text -> bump the version: it is stored with every label. (The name predates the
# in-process route; the prompt is the same for all of them.)
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


@dataclass(frozen=True)
class TemporalPrompt:
    """The chat messages of one temporal request.

    Captions go in as "[i] (12.3 s) caption" lines, 0-based, each one line of at most
    `max_caption_chars` characters (a longer one is cut with " ..." and `caption_notes` says so),
    so a runaway captioner cannot push the prompt past the model's context. `max_frames` is a
    hint in the prompt, not enforced; None leaves it out.
    """

    max_frames: int | None = 8
    max_caption_chars: int = MAX_CAPTION_CHARS

    def __post_init__(self) -> None:
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError("max_frames must be >= 1 or None")
        if self.max_caption_chars < 1:
            raise ValueError(f"max_caption_chars must be >= 1, not {self.max_caption_chars}")

    def user_text(self, captions: Sequence[str], seconds: Sequence[float], question: str) -> str:
        lines = "\n".join(
            f"[{i}] ({float(t):.1f} s) {bounded_caption(c, self.max_caption_chars)[0]}"
            for i, (c, t) in enumerate(zip(captions, seconds))
        )
        limit = TEMPORAL_LIMIT.format(max_frames=self.max_frames) if self.max_frames is not None else ""
        return TEMPORAL_PROMPT.format(n=len(captions), last=len(captions) - 1, captions=lines, question=question, limit=limit)

    def messages(self, captions: Sequence[str], seconds: Sequence[float], question: str) -> list[dict[str, str]]:
        """System and user messages, as a chat-completions body and a chat template both take."""
        if len(captions) != len(seconds):
            raise ValueError(f"{len(captions)} captions but {len(seconds)} timestamps")
        return [
            {"role": "system", "content": TEMPORAL_SYSTEM_PROMPT},
            {"role": "user", "content": self.user_text(captions, seconds, question)},
        ]

    def caption_notes(self, captions: Sequence[str]) -> list[str]:
        """One note per caption the prompt had to cut, so a runaway captioner shows in the labels."""
        notes = []
        for i, caption in enumerate(captions):
            original = bounded_caption(caption, self.max_caption_chars)[1]
            if original is not None:
                notes.append(f"caption {i} cut from {original} to {self.max_caption_chars} characters")
        return notes


__all__ = ["TEMPORAL_LIMIT", "TEMPORAL_PROMPT", "TEMPORAL_PROMPT_VERSION", "TEMPORAL_SYSTEM_PROMPT", "TemporalPrompt"]
