"""`frame-selector eval`: a benchmark through a frame chooser and a frozen video LLM."""

from __future__ import annotations

import argparse


def cmd_needle(args: argparse.Namespace) -> None:
    """The needle grid: the world is generated, the reader is the world's ground truth, so no data
    root and no downstream model are involved."""
    from .needle.grid import format_grid, grid_settings_from, run_grid

    if not args.candidates.isdigit():
        raise ValueError(f"--candidates {args.candidates!r}: the needle grid takes a number of uniform candidates")
    grid = grid_settings_from(args.grid_lengths, args.grid_positions, args.grid_videos, args.k, int(args.candidates), args.seed, args.grid_jitter)
    summary = run_grid(args.out, args.chooser, grid, device=args.device, progress=not args.no_progress)
    print(format_grid(summary))
    print(f"results: {args.out}/results.jsonl, grid: {args.out}/grid.json, heatmap: {args.out}/grid.png")


def cmd_eval(args: argparse.Namespace) -> None:
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
    if bench == "activitynetqa":
        judge = ActivityNetJudge(args.judge_model, base_url=args.judge_base_url or args.base_url)
    summary = run_eval(records, chooser, downstream, args.out, k=args.k, plan=plan, method=args.extract, judge=judge,
                       progress=not args.no_progress)
    print(format_table(summary))
    print(f"results: {args.out}/results.jsonl, summary: {args.out}/summary.json, {args.out}/summary.png")


def register(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval", help="evaluate a chooser + downstream model on a benchmark (resumable)")
    ev.add_argument("--bench", required=True, help="videomme, longvideobench, nextqa, egoschema, activitynetqa, mlvu, or needle (synthetic grid)")
    ev.add_argument("--root", help="local data root (official files or lmms-eval parquet); not for needle")
    ev.add_argument("--layout", choices=["auto", "official", "lmms-eval"], default="auto")
    ev.add_argument("--downstream", help="hf:MODEL, openai:MODEL or vllm:MODEL; not for needle (its reader is the ground truth)")
    ev.add_argument("--base-url", help="OpenAI-compatible server for openai:/vllm: downstreams")
    ev.add_argument("--chooser", default="uniform", help="uniform, siglip:MODEL[,nms=1], clip:..., scene, bolt[:..], selector:CKPT, oracle:LABELS")
    ev.add_argument("--k", type=int, default=8)
    ev.add_argument("--candidates", default="128", help="candidate plan: N, uniform:N or fps[:RATE[:MIN:MAX]]")
    ev.add_argument("--extract", choices=["default", "official", "lmms-eval"], default="default", help="answer extraction")
    ev.add_argument("--judge-model", default="gpt-4o-2024-11-20", help="ActivityNet-QA judge")
    ev.add_argument("--judge-base-url", help="judge server (default: --base-url, else OpenAI)")
    ev.add_argument("--max-new-tokens", type=int, default=32)
    ev.add_argument("--limit", type=int, help="only the first N questions")
    ev.add_argument("--device", default=None)
    ev.add_argument("--out", required=True, help="results folder (resumes when it has results)")
    ev.add_argument("--grid-lengths", default="30,60,120,240", help="needle: video lengths in seconds")
    ev.add_argument("--grid-positions", default="0.05,0.25,0.5,0.75,0.95", help="needle: relative needle positions")
    ev.add_argument("--grid-videos", type=int, default=4, help="needle: videos per grid cell")
    ev.add_argument("--grid-jitter", type=float, default=None,
                    help="needle: each needle starts within +-JITTER/2 of its cell's position (default 1/k, one uniform sampling period)")
    ev.add_argument("--seed", type=int, default=0, help="needle: world seed")
    ev.add_argument("--no-progress", action="store_true")
    ev.set_defaults(func=cmd_eval)
