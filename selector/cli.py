"""`frame-selector`: assemble a selector (`init`), choose frames (`select`), measure (`bench`).

Bad input ends with exit code 2 and one `error: ...` line on stderr, never a traceback: these
commands sit inside shell pipelines and batch scripts that read the exit code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from importlib.metadata import entry_points
from pathlib import Path

import torch

from .configuration import SCORE_LOSSES

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class UsageError(Exception):
    """Bad input detected by the CLI itself."""


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _prepare_output_dir(out: Path, force: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not force:
            raise UsageError(f"{out} exists and is not empty (use --force to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def cmd_init(args: argparse.Namespace) -> None:
    from .assembly import assemble_selector
    from .tiny import build_tiny_selector

    out = Path(args.out)
    overrides = {"max_candidates": args.max_candidates, "pool_size": args.pool_size, "frame_pooling": args.frame_pooling,
                 "score_layer": args.score_layer, "score_readout": args.score_readout, "score_loss": args.score_loss}
    if args.tiny:
        if args.vision or args.llm:
            raise UsageError("--tiny builds its own parts; do not combine it with --vision/--llm")
        model, processor = build_tiny_selector(seed=args.seed, **overrides)
    else:
        if not (args.vision and args.llm):
            raise UsageError("give --vision and --llm (hub ids or local paths), or --tiny")
        torch.manual_seed(args.seed)
        model, processor = assemble_selector(args.vision, args.llm, dtype=DTYPES[args.dtype], **overrides)
    _prepare_output_dir(out, args.force)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    params = sum(p.numel() for p in model.parameters())
    print(f"wrote an untrained selector ({params:,} parameters) to {out}")


def _check_model_dir(path: str) -> None:
    if not os.path.isdir(path):
        raise UsageError(f"model directory {path} does not exist")
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise UsageError(f"model directory {path} has no config.json (make one with `frame-selector init`)")


def cmd_select(args: argparse.Namespace) -> None:
    from .api import FrameSelector, selections_to_json
    from .candidates import CandidatePlan, candidate_frames
    from .selection import check_k
    from .video import probe

    _check_model_dir(args.model)
    for target in (args.out, args.plot):
        if target and not Path(target).resolve().parent.is_dir():
            raise UsageError(f"cannot write {target}: its directory does not exist")
    plan = CandidatePlan.parse(args.candidates)
    info = probe(args.video)
    check_k(args.k, len(candidate_frames(info, plan)), info.path)  # before loading the model
    selector = FrameSelector.from_pretrained(args.model, device=args.device, dtype=DTYPES[args.dtype] if args.dtype else None)
    selections = selector.select_many(info, args.question, k=args.k, candidates=plan, rule=args.rule, delta=args.delta)
    if args.out:
        Path(args.out).write_text(selections_to_json(selections) + "\n")
    if args.plot:
        from .plot import plot_selections

        plot_selections(selections, info, args.plot)
    print(selections_to_json(selections, scores=args.scores))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="frame-selector", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    init = sub.add_parser("init", help="write an untrained selector assembled from pretrained parts, or a tiny random one")
    init.add_argument("out", help="output directory")
    init.add_argument("--vision", help="SigLIP checkpoint (hub id or path), e.g. google/siglip-large-patch16-256")
    init.add_argument("--llm", help="Qwen2 causal LM (hub id or path), e.g. Qwen/Qwen2.5-1.5B-Instruct")
    init.add_argument("--tiny", action="store_true", help="a tiny random selector built offline (tests, demos)")
    init.add_argument("--max-candidates", type=int, default=128)
    init.add_argument("--pool-size", type=int, default=3, help="pooling grid side (3 -> 9 tokens a frame)")
    init.add_argument("--frame-pooling", choices=["grid", "head"], default="grid",
                      help="grid: average patch tokens over the --pool-size grid (the paper); head: one token a frame from "
                           "the tower's own pooling head (SigLIP's MAP head)")
    init.add_argument("--score-layer", type=int, default=-2, help="LLM hidden state read by the score head")
    init.add_argument("--score-readout", choices=["query_mlp", "frame_match"], default="frame_match",
                      help="frame_match (default, the one shown to read the question): query state matched with each frame's "
                           "state; query_mlp: the paper's MLP from the query state to one logit per position")
    init.add_argument("--score-loss", choices=list(SCORE_LOSSES), default="bce",
                      help="training loss of the scores: bce (the paper), listwise (softmax over the candidates), or both")
    init.add_argument("--dtype", choices=sorted(DTYPES), default="bfloat16", help="weights dtype (not for --tiny)")
    init.add_argument("--seed", type=int, default=0)
    init.add_argument("--force", action="store_true", help="replace a non-empty output directory")
    init.set_defaults(func=cmd_init)

    select = sub.add_parser("select", help="choose the k frames that best help answer each question")
    select.add_argument("--model", required=True, help="selector directory")
    select.add_argument("--video", required=True)
    select.add_argument("--question", required=True, action="append", help="repeat for several questions")
    select.add_argument("--k", type=int, default=8)
    select.add_argument("--candidates", default="128", help="N, uniform:N or fps[:RATE[:MIN:MAX]] (default 128)")
    select.add_argument("--rule", choices=["nms", "topk", "uniform"], default="nms")
    select.add_argument("--delta", type=int, default=None, help="NMS suppression radius (default n // (4k))")
    select.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    select.add_argument("--dtype", choices=sorted(DTYPES), default=None,
                        help="default: bfloat16 on cuda, float32 on cpu (bfloat16 is about 3x faster on CPUs with "
                             "AVX512-BF16 or AMX: see `frame-selector bench real-size`)")
    select.add_argument("--out", help="write the JSON here, with every candidate's time and score")
    select.add_argument("--scores", action="store_true", help="print every candidate's time and score too")
    select.add_argument("--plot", help="PNG: score curve and chosen frames")
    select.set_defaults(func=cmd_select)

    from .bench import register as register_bench

    register_bench(sub)

    # Commands of the packages built on this one (`label`, `train`, `eval`) register themselves
    # through an entry point, so the core library never imports them.
    for entry in entry_points(group="frame_selector.commands"):
        entry.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for reports
    _quiet_transformers()
    from .video import VideoError

    try:
        args.func(args)
    except (UsageError, VideoError, ValueError, OSError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
