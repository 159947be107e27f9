"""The frozen video LLMs an evaluation asks: in-process through transformers, or any
OpenAI-compatible server. Each gets the chosen frames through `selector.handoff`, so every model
is told the true times of its frames."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from selector.api import Selection
from selector.handoff import hand_off, to_inputs
from selector.hardware import default_device, default_dtype
from selector.openai_client import DEFAULT_API_KEY_ENV, connect
from selector.video import VideoInfo


@dataclass
class Answer:
    """A model's reply, what was sent (the hand-off record), and what it cost."""

    reply: str
    handoff: dict = field(default_factory=dict)
    handoff_s: float = 0.0
    downstream_s: float = 0.0
    visual_tokens: int | None = None


class Downstream(ABC):
    @abstractmethod
    def answer(self, selection: Selection, info: VideoInfo, prompt: str) -> Answer: ...

    @abstractmethod
    def describe(self) -> dict:
        """Model and settings, recorded with every result (no credentials)."""


class HFDownstream(Downstream):
    """A Qwen2/2.5/3-VL or LLaVA-OneVision checkpoint through transformers, greedy decoding."""

    def __init__(self, model_id: str, device: str | None = None, max_new_tokens: int = 32):
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.device = device or default_device()
        dtype = default_dtype(self.device)
        self.model_id, self.max_new_tokens = model_id, max_new_tokens
        self.processor = AutoProcessor.from_pretrained(model_id)
        self.model = AutoModelForImageTextToText.from_pretrained(model_id, dtype=dtype).to(self.device).eval()

    def answer(self, selection: Selection, info: VideoInfo, prompt: str) -> Answer:
        import torch

        started = time.perf_counter()
        inputs = to_inputs(selection, self.processor, info=info, question=prompt)
        handoff_s = time.perf_counter() - started
        started = time.perf_counter()
        with torch.inference_mode():
            output = self.model.generate(**inputs.to(self.device), max_new_tokens=self.max_new_tokens, do_sample=False)
        new = output[0, inputs["input_ids"].shape[1] :]
        reply = self.processor.decode(new, skip_special_tokens=True).strip()
        return Answer(reply, inputs.handoff, handoff_s, time.perf_counter() - started, inputs.handoff.get("visual_tokens"))

    def describe(self) -> dict:
        return {"kind": "hf", "model": self.model_id, "max_new_tokens": self.max_new_tokens, "device": self.device}


# Downstream kind -> the hand-off route it takes (`selector.handoff.ROUTES`).
_ROUTES = {"openai": "openai", "vllm": "vllm_video"}


class OpenAIDownstream(Downstream):
    """Any OpenAI-compatible chat server: frames as timestamped images (`openai`), or as one
    video with its true metadata on a newer vLLM (`vllm`)."""

    def __init__(self, model: str, kind: str = "openai", base_url: str | None = None, api_key_env: str = DEFAULT_API_KEY_ENV,
                 max_tokens: int = 32, max_retries: int = 5, timeout: float = 120.0):
        if kind not in _ROUTES:
            raise ValueError(f"downstream kind must be openai or vllm, not {kind!r}")
        connection = connect(base_url, api_key_env=api_key_env, max_retries=max_retries, timeout=timeout, who=f"downstream {kind}:{model}")
        self.client = connection.client
        self.model, self.kind, self.base_url, self.max_tokens = model, kind, connection.base_url, max_tokens

    def answer(self, selection: Selection, info: VideoInfo, prompt: str) -> Answer:
        started = time.perf_counter()
        request = hand_off(selection, _ROUTES[self.kind], info=info, question=prompt)
        handoff_s = time.perf_counter() - started
        started = time.perf_counter()
        completion = self.client.chat.completions.create(
            model=self.model, max_tokens=self.max_tokens, temperature=0.0, **request.kwargs()
        )
        reply = (completion.choices[0].message.content or "").strip() if completion.choices else ""
        usage = getattr(completion, "usage", None)
        return Answer(reply, request.handoff, handoff_s, time.perf_counter() - started,
                      getattr(usage, "prompt_tokens", None) if usage else None)

    def describe(self) -> dict:
        return {"kind": self.kind, "model": self.model, "base_url": self.base_url, "max_tokens": self.max_tokens}


def make_downstream(spec: str, *, base_url: str | None = None, device: str | None = None, max_new_tokens: int = 32) -> Downstream:
    """`hf:PATH_OR_ID`, `openai:MODEL` or `vllm:MODEL` (with `base_url` for a server)."""
    kind, _, model = spec.partition(":")
    if not model:
        raise ValueError(f"downstream {spec!r} must look like KIND:MODEL (hf, openai or vllm)")
    if kind == "hf":
        return HFDownstream(model, device=device, max_new_tokens=max_new_tokens)
    if kind in ("openai", "vllm"):
        return OpenAIDownstream(model, kind=kind, base_url=base_url, max_tokens=max_new_tokens)
    raise ValueError(f"unknown downstream kind {kind!r}; use hf, openai or vllm")


__all__ = ["Answer", "Downstream", "HFDownstream", "OpenAIDownstream", "make_downstream"]
