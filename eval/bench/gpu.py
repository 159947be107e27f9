"""Everything a GPU machine should measure, in one command (`make bench-gpu`, about 10 minutes on one H100/H200).

Runs the other benchmarks at real sizes with random weights built from configs (no download):
selection with SigLIP-L/16-256 + Qwen2.5-1.5B in bf16 (128 candidates, the first question and
each further one, SDPA against flash attention where `flash_attn` is installed, peak memory; a
lone further question and the first question with the compiled question step beside eager, each
against issue 24's targets, met or missed); the question step alone, eager against compiled, with
its operator calls and kernel launches (`bench questions`); a
training step of stage 1 and of stage 2 (LoRA) at micro-batch 4 in bf16; labelling throughput
at the Qwen2-VL-7B shape, direct and reason modes, batch 1 against 16; decoding with 1, 4 and 16
workers and pipelined selection over 16 videos; GPU decoding through torchcodec where it is
installed. Writes one JSON file and one Markdown page of every table. A step that fails is
recorded and the others still run. `--dry-run` runs the same steps at tiny sizes on the CPU
(what the tests do), so the script is known to work before a GPU hour is spent on it; its
compiled step is captured and run by torch.compile's eager backend, which generates no code
(inductor on the CPU would cost a minute and say nothing about CUDA's kernels).
"""

from __future__ import annotations

import importlib.util
import json
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from selector.cli_support import UsageError
from selector.markdown import markdown_table

from .report import Report, fmt

IN_ALL = False  # `bench all` runs the benchmarks this one runs, at their defaults


@dataclass
class Settings:
    """Options of `bench gpu`."""

    out: str = field(default="docs/gpu-bench.json", metadata={"help": "the JSON file of every step (default docs/gpu-bench.json)"})
    markdown: str = field(default="docs/gpu-bench.md", metadata={"help": "the Markdown page of every table (default docs/gpu-bench.md)"})
    device: str = field(default="cuda", metadata={"help": "the GPU (default cuda)"})
    dry_run: bool = field(default=False, metadata={"help": "every step at tiny sizes on the CPU: checks the script, measures nothing"})
    skip: list[str] = field(default_factory=list, metadata={"repeat": True, "metavar": "STEP", "help": "leave a step out (repeatable)"})
    cache: str | None = field(default=None, metadata={"help": "folder of generated clips (default ~/.cache/frame-selector/bench)"})


def _flash_attention() -> bool:
    return importlib.util.find_spec("flash_attn") is not None


def steps(args: Settings) -> list[tuple[str, str, dict]]:
    """(step, benchmark, its settings): real sizes, or tiny ones for a dry run."""
    device = "cpu" if args.dry_run else args.device
    cache = {"cache": args.cache} if args.cache else {}
    if args.dry_run:
        return [
            ("selection", "real-size", dict(preset="tiny", device=device, dtypes="float32", candidates=8, questions=2, in_process=True,
                                            compile="on", compile_backend="eager")),
            ("question step", "questions", dict(preset="tiny", device=device, questions="1,2", candidates=8, repeats=1,
                                                compile_backend="eager")),
            ("train stage 1", "train-input", dict(preset="tiny", stage=1, micro_batch_size=2, candidates=8, videos=2, video_seconds=1,
                                                  steps=1, no_progress=True, **cache)),
            ("train stage 2", "train-input", dict(preset="tiny", stage=2, micro_batch_size=2, candidates=8, videos=2, video_seconds=1,
                                                  steps=1, no_progress=True, **cache)),
            ("label", "label", dict(preset="tiny", device=device, batch_sizes="1,2", frames=4, new_tokens=2, questions=0, repeats=1)),
            ("decode", "decode", dict(seconds=2, size="160x96", candidates=6, threads="1", workers="1,2", videos="", open_gop_seconds=0,
                                      selector="tiny", device=device, pipeline_videos=2, pipeline_seconds=1, repeats=1,
                                      no_progress=True, **cache)),
        ]
    return [
        ("selection", "real-size", dict(preset="real", device=device, dtypes="bfloat16", candidates=128, questions=8, repeats=3,
                                        attn="sdpa,flash_attention_2" if _flash_attention() else "sdpa", compile="on")),
        ("question step", "questions", dict(preset="real", device=device, questions="1,8", repeats=3)),
        ("train stage 1", "train-input", dict(preset="real", stage=1, micro_batch_size=4, candidates=128, videos=8, video_seconds=20,
                                              steps=8, no_progress=True, **cache)),
        ("train stage 2", "train-input", dict(preset="real", stage=2, micro_batch_size=4, candidates=128, videos=8, video_seconds=20,
                                              steps=8, no_progress=True, **cache)),
        ("label", "label", dict(preset="7b", device=device, batch_sizes="1,16", frames=32, questions=4, repeats=2)),
        ("decode", "decode", dict(seconds=120, candidates=128, threads="1", workers="1,4,16", videos="", open_gop_seconds=0,
                                  selector="small", device=device, pipeline_videos=16, pipeline_seconds=10, repeats=1,
                                  no_progress=True, **cache)),
    ]


def _argv(name: str, settings: dict) -> list[str]:
    """The command line that runs one step on its own (shown in its report)."""
    argv = ["bench", name]
    for key, value in settings.items():
        option = "--" + key.replace("_", "-")
        if value is True:
            argv.append(option)
        elif value is not False:
            argv += [option, str(value)]
    return argv


def gpu_decoding(report: Report, device: str, dry_run: bool) -> dict:
    """128 candidates of the bundled 30 s clip decoded on the GPU by torchcodec, where installed."""
    if importlib.util.find_spec("torchcodec") is None:
        report.note("GPU decoding: torchcodec is not installed here (optional); not measured")
        return {"skipped": "torchcodec not installed"}
    from torchcodec.decoders import VideoDecoder

    from selector.candidates import candidate_frames
    from selector.video import probe, read_frames

    from .realsize import VIDEO

    info = probe(VIDEO)
    indices = [f.index for f in candidate_frames(info, 8 if dry_run else 128)]
    rows = []
    start = time.perf_counter()
    read_frames(info, indices, size=(256, 256))
    rows.append(["PyAV on the CPU, default workers, 256x256", time.perf_counter() - start])
    try:
        start = time.perf_counter()
        decoder = VideoDecoder(str(VIDEO), device="cpu" if dry_run else device)
        decoder.get_frames_at(indices)
        rows.append([f"torchcodec on {'cpu' if dry_run else device}, full resolution", time.perf_counter() - start])
    except Exception as error:  # noqa: BLE001 - optional: recorded, never fatal
        report.note(f"GPU decoding with torchcodec failed: {' '.join(str(error).split())[:300]}")
        return {"error": str(error)}
    report.table(f"GPU decoding of {len(indices)} candidates ({Path(VIDEO).name})", ["decoder", "seconds"], rows)
    return {"rows": rows}


def _markdown(results: list[dict], machine: str) -> str:
    lines = ["# GPU benchmark", "", f"machine: {machine}", "",
             "Made by `make bench-gpu` (`frame-selector bench gpu`); random weights at real shapes, no downloads.", ""]
    for result in results:
        lines += [f"## {result['step']}", ""]
        if "error" in result:
            lines += [f"failed: `{result['error']}`", ""]
            continue
        data = result["data"]
        lines += [f"`{data['command']}` ({result['seconds']:.0f} s)", ""]
        lines += [f"- {note}" for note in data["notes"] if "\n" not in note]
        for table in data["tables"]:
            lines += ["", f"### {table['title']}", "", markdown_table(table["columns"], [[fmt(c) for c in row] for row in table["rows"]])]
            if table.get("note"):
                lines += ["", table["note"]]
        lines.append("")
    return "\n".join(lines)


def run(args: Settings, report: Report) -> None:
    import torch

    from . import BenchOutput, benchmarks, run_benchmark

    planned = steps(args)
    unknown = sorted(set(args.skip) - {step for step, _, _ in planned} - {"gpu decoding"})
    if unknown:
        raise UsageError(f"--skip: no step named {', '.join(unknown)}")
    if not args.dry_run and not (args.device.startswith("cuda") and torch.cuda.is_available()):
        raise UsageError(f"bench gpu needs a CUDA device, not {args.device!r} here; --dry-run checks it on the CPU at tiny sizes")
    for target in (args.out, args.markdown):
        if not Path(target).resolve().parent.is_dir():
            raise UsageError(f"cannot write {target}: its directory does not exist")
    found = benchmarks()
    results: list[dict] = []

    def write() -> None:  # after every step: a run cut short still leaves what it measured
        Path(args.out).write_text(json.dumps({"machine": report.data["machine"], "dry_run": args.dry_run, "steps": results},
                                             indent=2, default=str) + "\n")
        Path(args.markdown).write_text(_markdown(results, report.data["machine"]))

    for step, name, settings in planned:
        if step in args.skip:
            continue
        print(f"\n## {step}\n", flush=True)
        started = time.perf_counter()
        try:
            module = found[name]
            data = run_benchmark(name, module, module.Settings(**settings), BenchOutput(), _argv(name, settings))
            results.append({"step": step, "data": data, "seconds": time.perf_counter() - started})
        except Exception as error:  # noqa: BLE001 - one failed step must not cost the others
            report.note(f"{step} failed: {type(error).__name__}: {error}")
            results.append({"step": step, "error": f"{type(error).__name__}: {' '.join(str(error).split())[:500]}",
                            "traceback": traceback.format_exc(), "seconds": time.perf_counter() - started})
        write()
    if "gpu decoding" not in args.skip:
        started = time.perf_counter()
        sub = Report("gpu decoding", ["bench", "gpu"], None if args.dry_run else args.device)
        extra = gpu_decoding(sub, args.device, args.dry_run)
        sub.data["results"] = extra
        results.append({"step": "gpu decoding", "data": sub.data, "seconds": time.perf_counter() - started})
    report.table("Steps", ["step", "seconds", "status"],
                 [[r["step"], r["seconds"], "failed" if "error" in r else "ok"] for r in results])
    write()
    report.data["results"] = [{"step": r["step"], "seconds": r["seconds"], "ok": "error" not in r} for r in results]


__all__ = ["Settings", "run", "steps", "IN_ALL"]
