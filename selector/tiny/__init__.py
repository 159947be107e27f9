"""Tiny random selectors, built offline: the real architecture classes at a few hundred thousand
parameters, with a small byte-level BPE tokenizer trained on the spot that carries Qwen's special
tokens and chat template. Used by the tests, the demo and smoke runs, where no weights can be
downloaded; nothing here is a stand-in for the real code paths. Tiny downstream models (Qwen2-VL,
Qwen2.5-VL, Qwen3-VL) built on the same tokenizer are in `selector.tiny.vlm`."""

from __future__ import annotations

import json
from collections.abc import Iterable

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import Qwen2Config, Qwen2Tokenizer, SiglipImageProcessor, SiglipVisionConfig

from ..configuration import FrameSelectorConfig
from ..modeling import FrameSelectorForFrameScoring
from ..processing import FrameSelectorProcessor

# Qwen2 / Qwen2.5 special tokens, in their vocabulary order.
QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Qwen2.5's ChatML template without the tool-calling branches.
QWEN_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Qwen2's pre-tokenisation regex (the same split the real tokenizer uses).
_QWEN_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

_CORPUS = """\
What is the person holding when the video starts? Which frame shows the moment the ball is kicked?
How many people enter the room before the door closes? What colour is the car that passes first?
When does the bunny come out of its burrow? What happens right after the title card is shown?
Why did the man stop running? Where does the bird land at the end of the clip? Describe the scene.
Is the light on or off when the woman leaves? What does the chef add to the pan after the onions?
user assistant system You are a helpful assistant. Question: Answer: Options: (A) (B) (C) (D) (E)
frame frames second seconds time before after during first last video clip scene shot camera
0 1 2 3 4 5 6 7 8 9 10 11 12 20 30 60 100 128 the a an of to in on at and or with from by
red green blue yellow circle square triangle star card shape colour appears appear times right which shows
"""


def build_tiny_tokenizer(vocab_size: int = 512, corpus: Iterable[str] = ()) -> Qwen2Tokenizer:
    """A byte-level BPE tokenizer with Qwen's pre-tokeniser, special tokens and chat template.

    `corpus`: text of the domain the tokenizer will read besides the built-in lines; a model
    trained from scratch on long prompts (the demo's text LLM) then reads them in fewer tokens."""
    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=QWEN_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([*_CORPUS.splitlines() * 4, *corpus], trainer=trainer)
    state = json.loads(bpe.to_str())["model"]
    # Renumber without the specials, which Qwen appends after the BPE vocabulary.
    learned = sorted((index, token) for token, index in state["vocab"].items() if token not in QWEN_SPECIAL_TOKENS)
    vocab = {token: new_index for new_index, (_, token) in enumerate(learned)}
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, padding_side="left")
    tokenizer.add_special_tokens({"additional_special_tokens": QWEN_SPECIAL_TOKENS[1:]})
    tokenizer.eos_token = "<|im_end|>"  # as in Qwen2.5-Instruct
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    return tokenizer


def from_scratch_init(width: int) -> float:
    """Init std for a transformer this narrow trained from scratch: 1/sqrt(width), the order of
    PyTorch's own Linear init. At pretrained-scale Qwen2's 0.02 such models learn the easy,
    question-blind half of a task (where an event is) and never the question
    (docs/question-awareness.md for the selector, docs/demo.md for the demo's labellers)."""
    return width ** -0.5


def tiny_config(
    vocab_size: int, max_candidates: int = 128, vision: dict | None = None, text: dict | None = None, **overrides
) -> FrameSelectorConfig:
    """A selector config small enough to run 128 candidates in well under a second on a CPU.

    `vision` / `text` override the SigLIP / Qwen2 sizes (the demo uses a somewhat larger one)."""
    vision_config = SiglipVisionConfig(
        **{
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 24,
            "patch_size": 4,
            "vision_use_head": False,
            **(vision or {}),
        }
    )
    text = {"hidden_size": 32, **(text or {})}
    text_config = Qwen2Config(
        **{
            "vocab_size": vocab_size,
            # A from-scratch LLM this narrow needs a larger init than pretrained-scale Qwen2's 0.02
            # (which every Linear, embedding, the projector and the score head follow): at 0.02 the
            # question barely moves the score query's state, and training settles on a
            # question-blind event detector (docs/question-awareness.md). 1/sqrt(width) is the
            # order of PyTorch's own Linear init, and 0.02 again at width 2500.
            "initializer_range": from_scratch_init(text["hidden_size"]),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 4096,
            "tie_word_embeddings": True,
            "bos_token_id": None,
            "eos_token_id": None,
            "pad_token_id": None,
            **text,
        }
    )
    return FrameSelectorConfig(vision_config=vision_config, text_config=text_config, max_candidates=max_candidates, **overrides)


def build_tiny_selector(
    seed: int = 0, max_candidates: int = 128, vision: dict | None = None, text: dict | None = None, **overrides
) -> tuple[FrameSelectorForFrameScoring, FrameSelectorProcessor]:
    """A random tiny selector and its processor (tiny tokenizer, SigLIP's normalisation), the same
    for the same seed."""
    tokenizer = build_tiny_tokenizer()
    config = tiny_config(len(tokenizer), max_candidates=max_candidates, vision=vision, text=text, **overrides)
    config.text_config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config.text_config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(seed)
    model = FrameSelectorForFrameScoring(config).eval()
    size = config.vision_config.image_size
    image_processor = SiglipImageProcessor(size={"height": size, "width": size}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    return model, FrameSelectorProcessor(image_processor, tokenizer)


__all__ = ["build_tiny_tokenizer", "from_scratch_init", "tiny_config", "build_tiny_selector", "QWEN_SPECIAL_TOKENS", "QWEN_CHAT_TEMPLATE"]
