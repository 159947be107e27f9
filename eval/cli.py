"""`frame-selector eval`: a benchmark through a frame chooser and a frozen video LLM."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Literal

from selector.cli_support import add_command

from .benchmarks import BENCHMARKS


@dataclass
class EvalSettings:
    """What `frame-selector eval` runs: a benchmark, a frame chooser, a downstream model, and where results go."""

    bench: str = field(metadata={"help": f"{', '.join(BENCHMARKS)}, or needle (synthetic grid)"})
    out: str = field(metadata={"help": "results folder (resumes when it has results)"})
    root: str | None = field(default=None, metadata={"help": "local data root (official files or lmms-eval parquet); not for needle"})
    layout: Literal["auto", "official", "lmms-eval"] = "auto"
    downstream: str | None = field(default=None, metadata={
        "help": "hf:MODEL, openai:MODEL or vllm:MODEL; not for needle (its reader is the ground truth)"})
    base_url: str | None = field(default=None, metadata={"help": "OpenAI-compatible server for openai:/vllm: downstreams"})
    chooser: str = field(default="uniform", metadata={
        "help": "uniform, siglip:MODEL[,nms=1], clip:..., scene, bolt[:..], selector:CKPT, oracle:LABELS"})
    k: int = 8
    candidates: str = field(default="128", metadata={"help": "candidate plan: N, uniform:N, keyframes:N (approximate, faster) or fps[:RATE[:MIN:MAX]]"})
    extract: Literal["default", "official", "lmms-eval"] = field(default="default", metadata={"help": "answer extraction"})
    judge_model: str = field(default="gpt-4o-2024-11-20", metadata={"help": "ActivityNet-QA judge"})
    judge_base_url: str | None = field(default=None, metadata={"help": "judge server (default: --base-url, else OpenAI)"})
    max_new_tokens: int = 32
    limit: int | None = field(default=None, metadata={"help": "only the first N questions"})
    device: str | None = None
    grid_lengths: str = field(default="30,60,120,240", metadata={"help": "needle: video lengths in seconds"})
    grid_positions: str = field(default="0.05,0.25,0.5,0.75,0.95", metadata={"help": "needle: relative needle positions"})
    grid_videos: int = field(default=4, metadata={"help": "needle: videos per grid cell"})
    grid_jitter: float | None = field(default=None, metadata={
        "help": "needle: each needle starts within +-JITTER/2 of its cell's position (default 1/k, one uniform sampling period)"})
    seed: int = field(default=0, metadata={"help": "needle: world seed"})
    no_progress: bool = False


def cmd_needle(args: EvalSettings) -> None:
    """The needle grid: the world is generated, the reader is the world's ground truth, so no data
    root and no downstream model are involved."""
    from .needle.grid import format_grid, grid_settings_from, run_grid

    if not args.candidates.isdigit():
        raise ValueError(f"--candidates {args.candidates!r}: the needle grid takes a number of uniform candidates")
    grid = grid_settings_from(args.grid_lengths, args.grid_positions, args.grid_videos, args.k, int(args.candidates), args.seed, args.grid_jitter)
    summary = run_grid(args.out, args.chooser, grid, device=args.device, progress=not args.no_progress)
    print(format_grid(summary))
    print(f"results: {args.out}/results.jsonl, grid: {args.out}/grid.json, heatmap: {args.out}/grid.png")


def cmd_eval(args: EvalSettings) -> None:
    from selector.candidates import CandidatePlan

    from .choosers import make_chooser
    from .downstream import make_downstream
    from .judge import ActivityNetJudge
    from .benchmarks import benchmark_name, load_benchmark
    from .run import format_table, run_eval

    if args.bench == "needle":
        return cmd_needle(args)
    if not (args.root and args.downstream):
        raise ValueError(f"--bench {args.bench} needs --root (the local data) and --downstream (the answering model)")
    bench = benchmark_name(args.bench)
    plan = CandidatePlan.parse(args.candidates)
    records = load_benchmark(bench, args.root, layout=args.layout)
    if args.limit:
        records = records[: args.limit]
    if not records:
        raise ValueError(f"no questions found for {bench} under {args.root}")
    chooser = make_chooser(args.chooser, device=args.device)
    downstream = make_downstream(args.downstream, base_url=args.base_url, device=args.device, max_new_tokens=args.max_new_tokens)
    judge = None
    if BENCHMARKS[bench].open_ended:
        judge = ActivityNetJudge(args.judge_model, base_url=args.judge_base_url or args.base_url)
    summary = run_eval(records, chooser, downstream, args.out, k=args.k, plan=plan, method=args.extract, judge=judge,
                       progress=not args.no_progress)
    print(format_table(summary))
    print(f"results: {args.out}/results.jsonl, summary: {args.out}/summary.json, {args.out}/summary.png")


def register(sub: argparse._SubParsersAction) -> None:
    add_command(sub, "eval", EvalSettings, cmd_eval, help="evaluate a chooser + downstream model on a benchmark (resumable)")
