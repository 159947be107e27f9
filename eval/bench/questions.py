"""Many questions, one video: the frame prefix reused against recomputed, side by side.

For q questions on one video, three ways in one run:

* `recomputed`: per question, everything: decode, vision tower, the whole LLM sequence (frames +
  question), what a loop over `(video, question)` pairs does;
* `frames once`: decode and vision once, the whole LLM sequence per question;
* `reused`: `FrameSelector.select_many`: decode, vision and the frame prefix's key/value cache
  once, then only the question tokens, all questions packed into one sequence after the prefix
  (and, for comparison, as before: a batch of questions over a per-question copy of the cache).

The goal: the extra cost of a question (`(t(q) - t(1)) / (q - 1)`) is a small fraction of the
first question's. Random weights; the model size is a preset (see `eval.bench.models`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from selector.cli_support import Dtype, at_least, check_device, int_list

from .report import Report, ratio, share
from .timing import no_grad, operator_calls, synchronize, timed

if TYPE_CHECKING:
    import torch

VIDEO = Path(__file__).resolve().parents[2] / "tests/data/videos/moviepy__big_buck_bunny_0_30.webm"
QUESTIONS = [
    "When does the bunny come out of its burrow?",
    "What colour is the sky in the opening shot?",
    "What is written on the title card?",
    "How many birds are on the branch?",
    "What does the bunny do after he stretches?",
    "Is it day or night?",
    "What animal appears first?",
    "Where does the butterfly land?",
]


def questions_for(q: int) -> list[str]:
    return [QUESTIONS[i % len(QUESTIONS)] + ("" if i < len(QUESTIONS) else f" ({i // len(QUESTIONS)})") for i in range(q)]


@dataclass
class Settings:
    """Options of `bench questions`."""

    preset: Literal["tiny", "small", "real"] = field(default="small", metadata={"help": "model size (default small)"})
    questions: str = field(default="1,4,16", metadata={"help": "question counts q (default 1,4,16)"})
    candidates: int = 128
    video: str = field(default=str(VIDEO), metadata={"help": "default: the bundled 30 s 720p Big Buck Bunny clip"})
    repeats: int = field(default=2, metadata={"help": "best of N after a warm-up (default 2)"})
    device: str | None = field(default=None, metadata={"help": "cpu or cuda (default: cuda if available)"})
    dtype: Dtype | None = field(default=None, metadata={
        "help": "default: bfloat16 on cuda, float32 on cpu"})
    attn: Literal["sdpa", "eager"] = "sdpa"
    profile: int = field(default=0, metadata={
        "metavar": "N", "help": "also profile the reused path at the largest q and print the top N operators"})
    compile_backend: Literal["inductor", "aot_eager", "eager"] = field(default="inductor", metadata={
        "help": "torch.compile backend of the compiled question step (default inductor; eager and aot_eager run the "
                "captured graph without generating code: a quick check of the capture)"})


def _full_sequence(selector, features: torch.Tensor, question: str) -> torch.Tensor:
    ids, mask = selector.processor.question_batch([question])
    device = selector.device
    return selector.model(input_ids=ids.to(device), attention_mask=mask.to(device),
                          prefix_ids=selector.prefix_ids.to(device), vision_features=features[None]).logits


@no_grad
def recomputed(selector, info, questions, n) -> None:
    for question in questions:
        _, frames = selector.candidates(info, n)
        _full_sequence(selector, selector.encode_video(info, frames), question)


@no_grad
def frames_once(selector, info, questions, n) -> None:
    _, frames = selector.candidates(info, n)
    features = selector.encode_video(info, frames)
    for question in questions:
        _full_sequence(selector, features, question)


def reused(selector, info, questions, n) -> None:
    selector.select_many(info, questions, k=min(8, n), candidates=n)


def reused_expanded(selector, info, questions, n) -> None:
    """`reused` as it was before questions were packed: the prefix cache expanded (and, for
    grouped-query attention, repeated) per question of a batch (`models.unpacked`)."""
    from .models import unpacked

    reused(unpacked(selector), info, questions, n)


METHODS = {"recomputed": recomputed, "frames once": frames_once, "reused, cache expanded per question (before)": reused_expanded,
           "reused, questions packed": reused}


def run(args: Settings, report: Report) -> None:
    from selector.api import encode_frames
    from selector.cli_support import torch_dtype
    from selector.video import probe, read_frames

    from .models import build_selector, describe

    counts = sorted(set(int_list(args.questions, "--questions")))
    at_least(args.candidates, 1, "--candidates")
    at_least(args.repeats, 1, "--repeats")
    device = check_device(args.device)
    dtype = torch_dtype(args.dtype or ("bfloat16" if device.startswith("cuda") else "float32"))
    info = probe(args.video)
    n = min(args.candidates, info.num_frames)
    selector, _ = build_selector(args.preset, device, dtype, args.attn, max_candidates=max(n, 8))
    tokens = selector.processor.question_batch(questions_for(max(counts)))[1].sum(1).float().mean().item() + 1
    report.note(f"model: {args.preset}, {describe(selector)}; device {device}")
    report.note(f"video: {Path(info.path).name} ({info.width}x{info.height} {info.codec}, {info.duration:.0f} s), "
                f"{n} candidates, {n * selector.model.config.tokens_per_frame} frame tokens, "
                f"{tokens:.0f} question tokens (with template and score query) on average")

    for method in METHODS.values():  # warm-up: first allocations, kernel selection
        method(selector, info, questions_for(1), n)
    seconds = {name: {q: timed(lambda f=method, q=q: f(selector, info, questions_for(q), n), args.repeats, device, warmup=False)
                      for q in counts} for name, method in METHODS.items()}
    rows = []
    for q in counts:
        for name in METHODS:
            t, first = seconds[name][q], seconds[name][counts[0]] if counts[0] == 1 else float("nan")
            extra = (t - first) / (q - 1) if q > 1 and first == first else float("nan")
            rows.append([q, name, t, t / q, extra, share(extra, first) if q > 1 else "-", ratio(seconds["recomputed"][q], t)])
    report.table(
        f"{n} candidates, q questions on one video ({args.preset} model, {device})",
        ["q", "frame prefix", "seconds", "s / question", "extra question s", "extra / first", "speed-up vs recomputed"],
        rows,
        note="extra question = (t(q) - t(1)) / (q - 1); extra / first: its share of the first question's cost.",
    )

    # Where the time of the reused path goes, stage by stage.
    _, frames = selector.candidates(info, n)
    size = selector.image_size
    indices = [f.index for f in frames]
    stage = {}
    stage["decode"] = timed(lambda: read_frames(info, indices, size=(size, size)), args.repeats, device)
    pixels = read_frames(info, indices, size=(size, size))
    stage["vision"] = timed(lambda: encode_frames(selector.model, selector.processor, pixels, selector.vision_batch_size), args.repeats, device)
    features = encode_frames(selector.model, selector.processor, pixels, selector.vision_batch_size)
    model = selector.model
    prefix_ids = selector.prefix_ids
    stage["prefix"] = timed(lambda: model.frame_prefix(features, prefix_ids), args.repeats, device)
    prefix = model.frame_prefix(features, prefix_ids)
    q_max = max(counts)

    def score(questions, packed=True):
        ids, mask = selector.processor.question_batch(questions)
        model.score_with_prefix(prefix, ids, mask, packed=packed)

    one = timed(lambda: score(questions_for(1)), args.repeats, device)
    batch = selector.question_batch_size
    many = timed(lambda: [score(questions_for(q_max)[s:s + batch]) for s in range(0, q_max, batch)], args.repeats, device)
    many_expanded = timed(lambda: [score(questions_for(q_max)[s:s + batch], packed=False) for s in range(0, q_max, batch)],
                          args.repeats, device)
    first = stage["decode"] + stage["vision"] + stage["prefix"] + one
    extra = {name: (t - one) / (q_max - 1) if q_max > 1 else float("nan")
             for name, t in (("packed", many), ("expanded", many_expanded))}
    calls = f"{q_max} questions in {-(-q_max // batch)} call{'s' * (q_max > batch)}"
    rows = [
        [f"decode {n} frames at {size}x{size}", stage["decode"], share(stage["decode"], first)],
        [f"vision tower ({n} frames)", stage["vision"], share(stage["vision"], first)],
        [f"LLM frame prefix ({n * model.config.tokens_per_frame + len(prefix_ids)} tokens)", stage["prefix"],
         share(stage["prefix"], first)],
        ["question + score query, alone", one, share(one, first)],
        ["first question, total", first, "100%"],
        [f"each extra question, packed ({calls})", extra["packed"], share(extra["packed"], first)],
        [f"each extra question, cache expanded per question (before; {calls})", extra["expanded"],
         share(extra["expanded"], first)],
    ]
    report.table("Reused path, stage by stage", ["stage", "seconds", "share of first question"], rows,
                 note=f"Packed against expanded, {q_max} questions: {ratio(many_expanded, many)} faster.")
    report.data["results"] = {"seconds": seconds, "stages": {**stage, "question": one, "questions_packed": many,
                                                             "questions_expanded": many_expanded}}
    report.data["results"]["compiled"] = compiled_against_eager(selector, prefix, sorted({1, min(q_max, batch)}), device,
                                                                args.compile_backend, args.repeats, report)

    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
        with profile(activities=activities) as prof:
            reused(selector, info, questions_for(q_max), n)
            synchronize(device)
        key = "cuda_time_total" if device.startswith("cuda") else "self_cpu_time_total"
        report.note(f"\nprofile of select_many, {q_max} questions:\n"
                    + prof.key_averages().table(sort_by=key, row_limit=args.profile))


def compiled_against_eager(selector, prefix, counts: list[int], device: str, backend: str, repeats: int,
                           report: Report) -> list[dict]:
    """A call of the question step on a cached prefix (q questions packed, tokens prepared), eager
    against compiled (`selector.compiling.CompiledQuestions`): seconds, operator calls and kernel
    launches per call, and the first compiled call (which compiles its padded length)."""
    from selector.compiling import CompiledQuestions, question_length

    model = selector.model
    step = CompiledQuestions(model, backend=backend)
    label = f"compiled ({backend}, {step.mode or 'default mode'})"
    results, rows = [], []
    for q in counts:
        ids, mask = selector.processor.question_batch(questions_for(q))
        tokens = int(mask.sum()) + q
        started = time.perf_counter()
        step(prefix, ids, mask)
        synchronize(device)
        first_call = time.perf_counter() - started
        measured = []
        for name, fn, padded, first in (("eager", model.score_with_prefix, tokens, float("nan")),
                                        (label, step, question_length(tokens), first_call)):
            t = timed(lambda: fn(prefix, ids, mask), max(repeats, 10), device)  # cheap calls: best of many
            calls, launches = operator_calls(lambda: fn(prefix, ids, mask), device)
            measured.append((t, calls))
            eager_seconds, eager_calls = measured[0]
            results.append({"questions": q, "step": name, "tokens": padded, "seconds": t, "operator_calls": calls,
                            "kernel_launches": launches, "first_call_s": first})
            rows.append([q, name, padded, t * 1e3, t * 1e3 / q, calls, "-" if launches is None else launches, first,
                         ratio(eager_seconds, t), ratio(calls, eager_calls)])
    report.table(
        f"Question step on the cached prefix, eager against compiled ({device})",
        ["questions", "step", "tokens", "ms / call", "ms / question", "operator calls", "kernel launches",
         "first call s", "speed-up vs eager", "operator calls vs eager"],
        rows,
        note="tokens: packed question tokens with their score queries (compiled: padded to a power of two, at least 32). "
             "Operator calls: aten operators not called by another, per call (the dispatcher's work); kernel launches: "
             "CUDA only. first call s: the compiled step's first call at this length, compiling included.",
    )
    return results


__all__ = ["Settings", "run", "METHODS", "questions_for", "compiled_against_eager"]
