"""The selector at real size: SigLIP-L/16-256 + Qwen2.5-1.5B, seconds per question and peak memory.

Random weights (speed does not depend on them), built from the published configs without a
download. Per dtype (and attention kernel): the stages of the first question on a video
(decode, vision tower, the LLM's frame prefix, the question tokens) and the cost of each further
question on the same video (q questions batched against one: `(t(q) - t(1)) / (q - 1)`), with
the peak memory. On the CPU each configuration runs in a fresh process, so its peak resident
memory is its own; on CUDA the peak is `torch.cuda.max_memory_allocated`, and every timing is
synchronised. With `--compile` (on CUDA by default) a lone question on the cached prefix is also
timed through the compiled step (`selector.compiling`), and the first question with it. The targets
on one H100/H200 (bf16, SDPA; issue 24): the first question's model work in 50 ms, a lone further
question (not batched) in 5 ms.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from selector.cli_support import UsageError, at_least, check_device, choice_list
from selector.compiling import COMPILE_HELP, Compile

from .report import Report, gib, ratio, share
from .timing import no_grad

if TYPE_CHECKING:
    import torch

VIDEO = Path(__file__).resolve().parents[2] / "tests/data/videos/moviepy__big_buck_bunny_0_30.webm"
TARGET_FIRST, TARGET_QUESTION = 0.050, 0.005


@dataclass
class Settings:
    """Options of `bench real-size`."""

    preset: Literal["tiny", "small", "real"] = field(default="real", metadata={"help": "model size (default real)"})
    candidates: int = 128
    questions: int = field(default=8, metadata={"help": "q for the extra-question cost (default 8)"})
    device: str = field(default="cpu", metadata={"help": "cpu (default) or cuda"})
    dtypes: str | None = field(default=None, metadata={"help": "comma-separated (default: float32,bfloat16 on cpu, bfloat16 on cuda)"})
    attn: str = field(default="sdpa", metadata={
        "help": "attention kernels to compare: sdpa, eager, flash_attention_2 (needs flash_attn), comma-separated (default sdpa)"})
    video: str = field(default=str(VIDEO), metadata={
        "help": "default: the bundled 30 s 720p Big Buck Bunny clip; 'long': the 10-minute 720p H.264 clip of `bench decode` "
                "(generated once)"})
    repeats: int = field(default=1, metadata={"help": "best of N per stage (default 1; a small warm-up run comes first)"})
    in_process: bool = field(default=False, metadata={"help": "do not start a fresh process per configuration"})
    profile: int = field(default=0, metadata={
        "metavar": "N", "help": "also profile one first question + q questions and print the top N operators"})
    compile: Compile = field(default="auto", metadata={"help": "also time the compiled question step: " + COMPILE_HELP})
    compile_backend: Literal["inductor", "aot_eager", "eager"] = field(default="inductor", metadata={
        "help": "its torch.compile backend (default inductor; eager and aot_eager run the captured graph without "
                "generating code: a quick check)"})


@no_grad
def measure(preset: str, device: str, dtype_name: str, attn: str, video: str, n: int, q: int, repeats: int,
            profile: int = 0, threads: int | None = None, compile: Compile = "off", compile_backend: str = "inductor") -> dict:
    """One configuration's figures (runs in the calling process). The compiled question step is
    timed where `compile` compiles it for this model (never for kernels that cannot pack)."""
    import torch

    from selector.api import encode_frames
    from selector.cli_support import torch_dtype
    from selector.compiling import CompiledQuestions, compiles
    from selector.hardware import rss_bytes
    from selector.video import probe, read_frames

    from .models import build_selector, describe
    from .questions import questions_for
    from .timing import peak_rss_bytes, synchronize, timed

    if threads:
        torch.set_num_threads(threads)
    cuda = torch.device(device).type == "cuda"
    info = probe(video)
    n = min(n, info.num_frames)
    rss_before = rss_bytes()
    selector, build_s = build_selector(preset, device, torch_dtype(dtype_name), attn, max_candidates=max(n, 8))
    model = selector.model
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    _, frames = selector.candidates(info, n)
    side = selector.image_size
    indices = [f.index for f in frames]
    prefix_ids = selector.prefix_ids
    one, many = questions_for(1), questions_for(q)
    batch = [selector.processor.question_batch(many[s:s + selector.question_batch_size]) for s in range(0, q, selector.question_batch_size)]
    single = selector.processor.question_batch(one)

    # Warm-up on a few candidates: kernel selection, first allocations, thread pools.
    warm = encode_frames(model, selector.processor, read_frames(info, indices[:2], size=(side, side)), selector.vision_batch_size)
    warm_prefix = model.frame_prefix(warm, prefix_ids)
    model.score_with_prefix(warm_prefix, *single)
    model.score_with_prefix(warm_prefix, *batch[0])
    del warm, warm_prefix
    if cuda:
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)

    out: dict = {}
    seconds = {}
    seconds["decode"] = timed(lambda: out.__setitem__("pixels", read_frames(info, indices, size=(side, side))), repeats, device, warmup=False)
    seconds["vision"] = timed(lambda: out.__setitem__("features", encode_frames(model, selector.processor, out["pixels"], selector.vision_batch_size)),
                              repeats, device, warmup=False)
    seconds["prefix"] = timed(lambda: out.__setitem__("prefix", model.frame_prefix(out["features"], prefix_ids)),
                              repeats, device, warmup=False)
    prefix = out["prefix"]
    seconds["question"] = timed(lambda: model.score_with_prefix(prefix, *single), max(repeats, 3), device)
    seconds["questions"] = timed(lambda: [model.score_with_prefix(prefix, *b) for b in batch], max(repeats, 3), device)
    result = {
        "preset": preset, "device": device, "dtype": dtype_name, "attn": attn, "n": n, "q": q, "side": side,
        "description": describe(selector), "build_s": build_s, "weights_bytes": weights, **{f"{k}_s": v for k, v in seconds.items()},
        "question_tokens": int(single[1].sum()) + 1, "prefix_tokens": prefix.length, "threads": torch.get_num_threads(),
    }
    if cuda:
        result["peak_bytes"] = torch.cuda.max_memory_allocated(device)
        result["peak_kind"] = "max_memory_allocated"
    else:
        result["peak_bytes"] = peak_rss_bytes()
        result["peak_kind"] = "peak RSS" + ("" if rss_before < 2**30 else " (shared process)")
    if compiles(compile if model.packs_questions else "off", model):  # after the peak: eager's own
        step = CompiledQuestions(model, backend=compile_backend)
        started = time.perf_counter()
        step(prefix, *single)
        synchronize(device)
        result["compile_s"] = time.perf_counter() - started
        result["question_compiled_s"] = timed(lambda: step(prefix, *single), max(repeats, 3), device)
        result["compiled_with"] = f"{compile_backend}, {step.mode or 'default mode'}"
        result.update(_agreement(model, model.score_with_prefix(prefix, *single), step(prefix, *single), n))
    if profile:
        from torch.profiler import ProfilerActivity, profile as torch_profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with torch_profile(activities=activities) as prof:
            features = encode_frames(model, selector.processor, out["pixels"], selector.vision_batch_size)
            prefix = model.frame_prefix(features, prefix_ids)
            for b in batch:
                model.score_with_prefix(prefix, *b)
            synchronize(device)
        key = "cuda_time_total" if cuda else "self_cpu_time_total"
        result["profile"] = prof.key_averages().table(sort_by=key, row_limit=profile)
    return result


def _child(results: multiprocessing.Queue, kwargs: dict) -> None:
    try:
        results.put(measure(**kwargs))
    except BaseException as error:  # noqa: BLE001 - reported by the parent
        results.put({"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()})


def _isolated(kwargs: dict) -> dict:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_child, args=(results, kwargs))
    process.start()
    while True:
        try:
            result = results.get(timeout=5)
            break
        except queue.Empty:
            if not process.is_alive():
                result = {"error": f"the measuring process died (exit code {process.exitcode}; out of memory?)"}
                break
    process.join()
    return result


def run(args: Settings, report: Report) -> None:
    import torch

    from selector.video import probe

    device = check_device(args.device)
    cuda = device.startswith("cuda")
    at_least(args.candidates, 1, "--candidates")
    at_least(args.questions, 2, "--questions")
    at_least(args.repeats, 1, "--repeats")
    dtypes = choice_list(args.dtypes or ("bfloat16" if cuda else "float32,bfloat16"), "--dtypes", ["float32", "bfloat16", "float16"])
    attns = choice_list(args.attn, "--attn", ["sdpa", "eager", "flash_attention_2"])
    if args.video == "long":
        from .painted import painted_video

        args.video = str(painted_video(600))
    if not Path(args.video).is_file():
        raise UsageError(f"--video {args.video}: no such file")
    probe(args.video)
    rows, results = [], []
    for dtype in dtypes:
        for attn in attns:
            kwargs = dict(preset=args.preset, device=device, dtype_name=dtype, attn=attn, video=args.video, n=args.candidates,
                          q=args.questions, repeats=args.repeats, profile=args.profile, threads=torch.get_num_threads(),
                          compile=args.compile, compile_backend=args.compile_backend)
            started = time.perf_counter()
            result = measure(**kwargs) if args.in_process or cuda else _isolated(kwargs)
            result.update(config=f"{dtype}, {attn}", wall_s=time.perf_counter() - started)
            results.append(result)
            if "error" in result:
                report.note(f"{dtype}, {attn}: {result['error']}")
                continue
            if "profile" in result:
                report.note(f"\nprofile, {dtype} {attn}:\n{result['profile']}")
    ok = [r for r in results if "error" not in r]
    if not ok:
        raise RuntimeError("no configuration could be measured: " + "; ".join(r["error"] for r in results))
    first = ok[0]
    report.note(f"model: {args.preset}, {first['description'].split(' (')[0]}; video {Path(args.video).name}, {first['n']} "
                f"candidates at {first['side']}x{first['side']}; LLM prefix {first['prefix_tokens']} tokens, a question "
                f"{first['question_tokens']} tokens; device {device}, {first['threads']} torch threads")
    for r in ok:
        model_first = r["vision_s"] + r["prefix_s"] + r["question_s"]
        extra = (r["questions_s"] - r["question_s"]) / (r["q"] - 1)
        r.update(first_model_s=model_first, first_total_s=model_first + r["decode_s"], extra_s=extra)
        rows.append([r["config"], r["build_s"], gib(r["weights_bytes"]), gib(r["peak_bytes"]), r["decode_s"], r["vision_s"],
                     r["prefix_s"], r["question_s"], model_first, r["first_total_s"], extra, share(extra, model_first),
                     share(r["decode_s"], r["first_total_s"])])
    report.table(
        f"Selector ({args.preset}) at n = {first['n']} on {device}: seconds per question and peak memory",
        ["dtype, attention", "build s", "weights GiB", f"peak GiB ({first['peak_kind']})", "decode s", "vision s",
         "LLM prefix s", "question s", "first question s (model)", "first question s (with decode)",
         f"each extra question s (q={args.questions}, batched)", "extra / first (model)", "decode share"],
        rows,
        note="first question (model) = vision + LLM prefix + question; with decode adds decoding the candidates. "
             "Each extra question = (t(q questions) - t(1)) / (q - 1) on the same video, prefix reused.",
    )
    if len(ok) > 1:
        base = ok[0]
        comparison = [[r["config"], ratio(base["vision_s"], r["vision_s"]), ratio(base["prefix_s"], r["prefix_s"]),
                       ratio(base["question_s"], r["question_s"]), ratio(base["extra_s"], r["extra_s"]),
                       ratio(base["first_model_s"], r["first_model_s"]), ratio(r["peak_bytes"], base["peak_bytes"])] for r in ok]
        report.table(f"Against {base['config']} (speed-up; memory as a ratio)",
                     ["dtype, attention", "vision", "LLM prefix", "question", "extra question", "first question (model)",
                      "peak memory"], comparison)
    compiled = [r for r in ok if "question_compiled_s" in r]
    for r in compiled:
        r["first_model_compiled_s"] = r["vision_s"] + r["prefix_s"] + r["question_compiled_s"]
    if compiled:
        report.table(
            f"Compiled question step ({compiled[0]['compiled_with']}): a lone question on the cached prefix",
            ["dtype, attention", "compile s", "question s (eager)", "question s (compiled)", "speed-up",
             "first question s (model, eager)", "first question s (model, compiled)", "max logit difference",
             "logit spread", "same frames"],
            [[r["config"], r["compile_s"], r["question_s"], r["question_compiled_s"], ratio(r["question_s"], r["question_compiled_s"]),
              r["first_model_s"], r["first_model_compiled_s"], r["compiled_max_diff"], r["logit_spread"],
              "yes" if r["compiled_same_frames"] else "no"] for r in compiled],
            note="compile s: the compiled step's first call (its padded length compiled, and on CUDA its graph recorded). "
                 "max logit difference: compiled against eager for the lone question; logit spread: eager's max - min over "
                 "the candidates; same frames: NMS (k = 8) chooses the same from both (random weights score near-ties, so "
                 "a 'no' within bf16 rounding is no fault; tests/selector/test_compiling.py checks choices on a spread head).",
        )
    rows = [[r["config"], step, r[first] * 1e3, _target(r[first], TARGET_FIRST), r[question] * 1e3,
             _target(r[question], TARGET_QUESTION)]
            for r in ok for step, first, question in (("eager", "first_model_s", "question_s"),
                                                     ("compiled", "first_model_compiled_s", "question_compiled_s"))
            if question in r]
    report.table(
        f"Against the targets of one H100/H200 (first question {TARGET_FIRST * 1e3:.0f} ms, a lone further question "
        f"{TARGET_QUESTION * 1e3:.0f} ms; decoding not included; here {device})",
        ["dtype, attention", "question step", "first question ms (model)", f"<= {TARGET_FIRST * 1e3:.0f} ms",
         "lone further question ms", f"<= {TARGET_QUESTION * 1e3:.0f} ms"], rows)
    overhead = dispatch_overhead(args.preset, device, first["n"], args.questions)
    report.table(
        f"Dispatch overhead: questions through the same {overhead['layers']} LLM layers with negligible compute "
        f"(width 128, one head; {device})",
        ["questions in the call", "ms per call", "ms per question"],
        [[q, s * 1e3, s * 1e3 / q] for q, s in overhead["seconds"].items()],
        note=f"{overhead['ops']} top-level operator calls for one question (views included): Python and dispatcher "
             "time, plus a kernel launch for most of them on a GPU; the floor of a question's latency in eager mode.",
    )
    report.data["results"] = results
    report.data["dispatch_overhead"] = overhead


def _agreement(model, eager: torch.Tensor, compiled: torch.Tensor, n: int) -> dict:
    """How far the compiled step's logits for one question are from eager's, against their
    spread over the candidates, and whether NMS chooses the same frames (k = 8) from both."""
    from selector.selection import greedy_nms

    eager, compiled = eager[0, :n].float(), compiled[0, :n].float()
    chosen = [greedy_nms(model.candidate_scores(logits).cpu().numpy(), min(8, n)) for logits in (eager, compiled)]
    return {"compiled_max_diff": (compiled - eager).abs().max().item(), "logit_spread": (eager.max() - eager.min()).item(),
            "compiled_same_frames": chosen[0] == chosen[1]}


def _target(seconds: float, target: float) -> str:
    return "met" if seconds <= target else "missed"


@no_grad
def dispatch_overhead(preset: str, device: str, n: int, q: int) -> dict:
    """Seconds of a question call through as many LLM layers as `preset`, at a width where the
    arithmetic is negligible: what Python, the dispatcher and (on a GPU) kernel launches cost."""
    import torch
    from transformers import Qwen2Config, SiglipVisionConfig

    from selector.api import FrameSelector
    from selector.configuration import FrameSelectorConfig
    from selector.modeling import FrameSelectorForFrameScoring
    from selector.processing import processor_for
    from selector.tiny import build_tiny_tokenizer

    from .models import selector_config
    from .questions import questions_for
    from .timing import operator_calls, timed

    layers = selector_config(preset).text_config.num_hidden_layers
    tokenizer = build_tiny_tokenizer()
    config = FrameSelectorConfig(
        vision_config=SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=1,
                                         image_size=16, patch_size=8, vision_use_head=False),
        text_config=Qwen2Config(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=128, num_hidden_layers=layers,
                                num_attention_heads=1, num_key_value_heads=1, max_position_embeddings=4096),
        max_candidates=max(n, 8),
    )
    with torch.device(device):
        model = FrameSelectorForFrameScoring(config).eval()
    selector = FrameSelector(model, processor_for(None, tokenizer, config.vision_config.image_size), compile="off")
    features = torch.randn(n, config.tokens_per_frame, config.vision_config.hidden_size, device=device)
    prefix = selector.frame_prefix(features)
    seconds = {}
    for count in sorted({1, q}):
        ids, mask = selector.processor.question_batch(questions_for(count))
        seconds[count] = timed(lambda: model.score_with_prefix(prefix, ids, mask), 10, device)
    ids, mask = selector.processor.question_batch(questions_for(1))
    ops, _ = operator_calls(lambda: model.score_with_prefix(prefix, ids, mask), device)
    return {"layers": layers, "seconds": seconds, "ops": ops}


__all__ = ["Settings", "run", "measure"]
