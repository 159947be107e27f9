"""What a hand-off gives a downstream model: processor inputs for a model run in-process
(`HandoffInputs`), or a chat request for an OpenAI-compatible server (`ChatRequest`). Both carry
the hand-off record beside what the model takes, so the record can be stored next to each answer
without ever being sent to the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import BatchFeature


class HandoffInputs(BatchFeature):
    """A processor's ``BatchFeature`` (what ``model.generate(**inputs)`` takes), plus attributes
    that are *not* keys, so they never reach ``generate``:

    * ``handoff``: a JSON-ready record: the selection (video, question, k, rule, indices, seconds,
      scores, settings), the source clock, the target, the mode, the frame size, the visual token
      budget and count, and the times the model is told (pitfall 6: store it next to each output).
    * ``messages``: the chat messages the prompt was rendered from.
    * ``prompt``: the rendered prompt before the processor expanded the visual placeholders.
    """

    def __init__(self, data=None, tensor_type=None, skip_tensor_conversion=None, *, handoff: dict | None = None,
                 messages: list | None = None, prompt: str | None = None):
        # BatchFeature's own signature first, so code that rebuilds a mapping with
        # ``type(inputs)(data)`` (accelerate's send_to_device, ...) still works.
        super().__init__(dict(data) if data is not None else None, tensor_type=tensor_type,
                         skip_tensor_conversion=skip_tensor_conversion)
        self.handoff = handoff if handoff is not None else {}
        self.messages = messages if messages is not None else []
        self.prompt = prompt


@dataclass
class ChatRequest:
    """An OpenAI-compatible chat request: ``client.chat.completions.create(model=..., **req.kwargs())``.

    ``handoff`` is the JSON-ready record of what was sent (selection settings, indices, seconds,
    the times written into the text, image size and JPEG quality).
    """

    messages: list[dict]
    extra_body: dict | None = None
    handoff: dict = field(default_factory=dict)

    def kwargs(self) -> dict:
        out: dict = {"messages": self.messages}
        if self.extra_body:
            out["extra_body"] = self.extra_body
        return out


__all__ = ["ChatRequest", "HandoffInputs"]
