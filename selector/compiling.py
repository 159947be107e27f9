"""The question step compiled: a further question on a cached frame prefix without launch overhead.

In eager mode a question on the prefix is some two thousand small operator calls (issue 24: at
real size on an H200, 23 ms a question, as long as the same layers at negligible width take), so
its latency is Python, the dispatcher and kernel launches, not arithmetic. `CompiledQuestions`
runs `FrameSelectorForFrameScoring.packed_question_states` through `torch.compile`: on CUDA in mode
"reduce-overhead", which replays the whole step as one CUDA graph. A graph needs fixed shapes, so
the packed question tokens are padded to a few lengths (`question_length`: powers of two from
32) with a mask that hides the padding from every question; each length compiles once, then is
reused. Scores match eager's within floating-point tolerance (tests/selector/test_compiling.py).

Compiling costs seconds to a minute per length, once per process: it pays where one process
answers many questions (a server, an evaluation), not for one `frame-selector select` on a CPU.
`Compile` is the one setting that chooses (`FrameSelector(compile=...)`, `serve --compile`,
`select --compile`). Settings modules read it without importing torch (`selector.serve.settings`
must not), so torch and the model are imported where a step is built.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    import torch

    from .modeling import FramePrefix, FrameSelectorForFrameScoring

Compile = Literal["auto", "off", "on"]
COMPILE_HELP = ("compile the question step on the cached frame prefix with torch.compile (question lengths bucketed): "
                "auto (on CUDA with sdpa or eager attention), on (any device; CPU uses the default mode), off (eager)")
SHORTEST = 32  # tokens: a lone question with its template is about 25

# (prefix, input_ids, attention_mask) -> logits (B, max_candidates): `score_with_prefix` or a compiled step.
QuestionStep = Callable[["FramePrefix", "torch.Tensor", "torch.Tensor"], "torch.Tensor"]


def question_length(tokens: int) -> int:
    """The padded length of `tokens` packed question tokens: the next power of two, at least
    `SHORTEST`. Few lengths, so few compilations; at most twice the tokens, which a
    launch-bound step does not notice."""
    return max(SHORTEST, 1 << (tokens - 1).bit_length())


def compiles(setting: Compile, model: FrameSelectorForFrameScoring) -> bool:
    """Whether `setting` compiles the question step of `model`. "auto": only on CUDA, where
    launches dominate a question; on the CPU the arithmetic does, and compiling costs more than it
    saves. Only packed attention kernels (`PACKED_ATTENTION`) have the fixed-shape step."""
    if setting not in get_args(Compile):
        raise ValueError(f"compile must be one of {', '.join(get_args(Compile))}, got {setting!r}")
    if setting == "on" and not model.packs_questions:
        from .packing import PACKED_ATTENTION

        raise ValueError(f"compile='on' needs {' or '.join(sorted(PACKED_ATTENTION))} attention, "
                         f"not {model.config.text_config._attn_implementation!r}")
    return setting == "on" or (setting == "auto" and model.packs_questions and model.device.type == "cuda")


class CompiledQuestions:
    """`FrameSelectorForFrameScoring.score_with_prefix` with its question step compiled (see the module).

    `mode` and `backend` go to `torch.compile` (default: "reduce-overhead" on CUDA, the default
    mode elsewhere; inductor; a test may pass a backend that only captures). Shapes are static
    (`dynamic=False`): each padded length, and each prefix length (a video with fewer
    candidates), compiles once.
    """

    def __init__(self, model: FrameSelectorForFrameScoring, mode: str | None = None, backend: str | Callable = "inductor"):
        import torch
        from transformers.utils.output_capturing import maybe_install_capturing_hooks

        # transformers installs its hidden-state hooks at a model's first call that asks for
        # them, under a lock torch.compile cannot trace: installed now, the step finds them.
        maybe_install_capturing_hooks(model.language_model.get_decoder())
        self.model = model
        if mode is None and model.device.type == "cuda":
            mode = "reduce-overhead"
        self.mode = mode
        self.states = torch.compile(model.packed_question_states, mode=mode, backend=backend, dynamic=False, fullgraph=True)
        # A CUDA graph's outputs are overwritten by its next replay; a step reads its output
        # before returning, so each call may start a new one.
        self._step_begin = torch.compiler.cudagraph_mark_step_begin

    def __call__(self, prefix: FramePrefix, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        self._step_begin()
        tokens = int(attention_mask.sum()) + input_ids.shape[0]  # each question's tokens and its score query
        return self.model.score_with_prefix(prefix, input_ids, attention_mask, question_length(tokens), self.states)


def question_step(model: FrameSelectorForFrameScoring, setting: Compile, packed: bool = True) -> QuestionStep:
    """The question step `setting` asks for: compiled, or eager `score_with_prefix`.
    `packed=False`: eager over a per-question copy of the prefix cache (`score_with_prefix`'s
    `packed`), the path benchmarks measure packing against; it has no compiled form."""
    if packed:
        return CompiledQuestions(model) if compiles(setting, model) else model.score_with_prefix
    if setting == "on":
        raise ValueError("compile='on' needs packed questions")
    return functools.partial(model.score_with_prefix, packed=False)


__all__ = ["Compile", "COMPILE_HELP", "CompiledQuestions", "QuestionStep", "compiles", "question_length", "question_step"]
