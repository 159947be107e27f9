"""Rendering chat messages into a prompt: the processor's own chat template when it has one
(always, for a checkpoint from the Hub), else plain ChatML with the model's placeholders."""

from __future__ import annotations


def render_prompt(processor, messages: list[dict], placeholders: dict[str, str], layout: str = "inline") -> str:
    """The prompt text, with one placeholder per image / video part, ending in the assistant turn.

    ``layout="inline"`` (Qwen) keeps the parts in order; ``"media_first"`` (LLaVA-OneVision's
    template) writes ``role + " "``, the media placeholders, then ``"\\n" + text`` per text part.
    """
    if getattr(processor, "chat_template", None):
        return processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    out = []
    for message in messages:
        parts = message["content"]
        if isinstance(parts, str):
            parts = [{"type": "text", "text": parts}]
        if layout == "inline":
            body = "".join(placeholders[p["type"]] if p["type"] in placeholders else p.get("text", "") for p in parts)
            out.append(f"<|im_start|>{message['role']}\n{body}<|im_end|>\n")
        else:
            media = "".join(placeholders[p["type"]] for p in parts if p["type"] in placeholders)
            text = "".join("\n" + p["text"] for p in parts if p["type"] == "text")
            out.append(f"<|im_start|>{message['role']} {media}{text}<|im_end|>\n")
    return "".join(out) + "<|im_start|>assistant\n"


__all__ = ["render_prompt"]
