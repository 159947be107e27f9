"""A tiny text LLM trained at test time to answer every temporal prompt with one fixed reply, so
the in-process temporal route can be tested against a real model that misbehaves on purpose."""

from __future__ import annotations

from pathlib import Path

from eval.needle.labeller_settings import LabellerSettings
from eval.needle.labellers import train_text_llm
from pseudolabel.temporal_prompt import TemporalPrompt

TINY_LLM = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1}


def save_replying_llm(directory: Path, reply: str, steps: int = 80) -> Path:
    """Train and save a causal LM (Qwen2 classes, tokenizer with a chat template) whose greedy
    reply to the temporal prompt is `reply` whatever the captions and question."""
    template = TemporalPrompt()
    examples = [
        (template.messages([f"caption {i}" for i in range(n)], [0.5 * i for i in range(n)], question), reply)
        for n in (4, 6, 9) for question in ("What pattern is shown?", "Which frame shows a pattern?\nOptions: (A) x (B) y")
    ]
    settings = LabellerSettings(llm=TINY_LLM, llm_steps=steps, llm_lr=1e-2, llm_batch=2)
    return train_text_llm(examples, directory, settings, progress=False)
