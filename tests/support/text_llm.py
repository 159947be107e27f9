"""Tiny text LLMs for the in-process temporal route: one trained at test time to answer every
temporal prompt with one fixed reply (a real model that misbehaves on purpose), and the same model
untrained, for the route's plumbing where any reply will do."""

from __future__ import annotations

from pathlib import Path

from eval.needle.labeller_settings import LabellerSettings
from eval.needle.labellers import build_text_llm, train_text_llm
from pseudolabel.temporal_prompt import TemporalPrompt

TINY_LLM = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1}


def _examples(reply: str) -> list[tuple[list[dict], str]]:
    """Temporal prompts of a few lengths and questions, each paired with `reply`."""
    template = TemporalPrompt()
    return [
        (template.messages([f"caption {i}" for i in range(n)], [0.5 * i for i in range(n)], question), reply)
        for n in (4, 6, 9) for question in ("What pattern is shown?", "Which frame shows a pattern?\nOptions: (A) x (B) y")
    ]


def save_replying_llm(directory: Path, reply: str, steps: int = 80) -> Path:
    """Train and save a causal LM (Qwen2 classes, tokenizer with a chat template) whose greedy
    reply to the temporal prompt is `reply` whatever the captions and question."""
    # Learning one fixed reply by heart is quickest from transformers' small default init.
    settings = LabellerSettings(llm=TINY_LLM, llm_steps=steps, llm_lr=1e-2, llm_batch=2, init=0.02)
    return train_text_llm(_examples(reply), directory, settings, progress=False)


def save_random_llm(directory: Path) -> Path:
    """The same model and tokenizer, untrained (seconds instead of a training run)."""
    examples = _examples("")
    corpus = [message["content"] for messages, _ in examples for message in messages]
    model, tokenizer = build_text_llm(LabellerSettings(llm=TINY_LLM), corpus)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
