"""`frame-selector`: assemble a selector (`init`), choose frames (`select`), serve them in front of a
video LLM server (`serve`), measure (`bench`).

Bad input ends with exit code 2 and one `error: ...` line on stderr, never a traceback: these
commands sit inside shell pipelines and batch scripts that read the exit code.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Literal

from .cli_support import (
    Dtype, SettingsParser, UsageError, add_command, check_model_dir, command_parser, run_parsed, torch_dtype,
)
from .compiling import COMPILE_HELP, Compile
from .score_names import ScoreLoss, ScoreReadout
from .serve.command import cmd_serve
from .serve.settings import ServeSettings


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


@dataclass
class InitSettings:
    """What `frame-selector init` assembles, and where it writes it."""

    out: str = field(metadata={"positional": True, "help": "output directory"})
    vision: str | None = field(default=None, metadata={"help": "SigLIP checkpoint (hub id or path), e.g. google/siglip-large-patch16-256"})
    llm: str | None = field(default=None, metadata={"help": "Qwen2 causal LM (hub id or path), e.g. Qwen/Qwen2.5-1.5B-Instruct"})
    tiny: bool = field(default=False, metadata={"help": "a tiny random selector built offline (tests, demos)"})
    max_candidates: int = 128
    pool_size: int = field(default=3, metadata={"help": "pooling grid side (3 -> 9 tokens a frame)"})
    frame_pooling: Literal["grid", "head"] = field(default="grid", metadata={
        "help": "grid: average patch tokens over the --pool-size grid (the paper); head: one token a frame from the "
                "tower's own pooling head (SigLIP's MAP head)"})
    score_layer: int = field(default=-2, metadata={"help": "LLM hidden state read by the score head"})
    score_readout: ScoreReadout = field(default="frame_match", metadata={
        "help": "frame_match (default, the one shown to read the question): query state matched with each frame's "
                "state; query_mlp: the paper's MLP from the query state to one logit per position"})
    score_loss: ScoreLoss = field(default="bce", metadata={
        "help": "training loss of the scores: bce (the paper), listwise (softmax over the candidates), or both"})
    dtype: Dtype = field(default="bfloat16", metadata={"help": "weights dtype (not for --tiny)"})
    seed: int = 0
    force: bool = field(default=False, metadata={"help": "replace a non-empty output directory"})


def cmd_init(args: InitSettings) -> None:
    import torch

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
        model, processor = assemble_selector(args.vision, args.llm, dtype=torch_dtype(args.dtype), **overrides)
    _prepare_output_dir(out, args.force)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    params = sum(p.numel() for p in model.parameters())
    print(f"wrote an untrained selector ({params:,} parameters) to {out}")


@dataclass
class SelectSettings:
    """What `frame-selector select` asks of which selector and video, and where the answer goes."""

    model: str = field(metadata={"help": "selector directory"})
    video: str
    question: list[str] = field(metadata={"repeat": True, "help": "repeat for several questions"})
    option: list[str] = field(default_factory=list, metadata={
        "repeat": True,
        "help": "an answer option of the question (repeat --option for each; the selector reads them as in training; one --question only)"})
    k: int = 8
    candidates: str = field(default="128", metadata={"help": "N, uniform:N, keyframes:N (approximate, faster) or fps[:RATE[:MIN:MAX]] (default 128)"})
    rule: Literal["nms", "topk", "uniform"] = "nms"
    delta: int | None = field(default=None, metadata={"help": "NMS suppression radius (default n // (4k))"})
    device: str | None = field(default=None, metadata={"help": "cpu, cuda, cuda:1 ... (default: cuda if available)"})
    dtype: Dtype | None = field(default=None, metadata={
        "help": "default: bfloat16 on cuda, float32 on cpu (bfloat16 is about 3x faster on CPUs with AVX512-BF16 or AMX: "
                "see `frame-selector bench real-size`)"})
    out: str | None = field(default=None, metadata={"help": "write the JSON here, with every candidate's time and score"})
    scores: bool = field(default=False, metadata={"help": "print every candidate's time and score too"})
    plot: str | None = field(default=None, metadata={"help": "PNG: score curve and chosen frames"})
    compile: Compile = field(default="off", metadata={
        "help": COMPILE_HELP + " (default off: one command's few questions do not repay compiling)"})


def cmd_select(args: SelectSettings) -> None:
    check_model_dir(args.model)  # the checks come before torch loads: a usage error answers at once
    if args.option and len(args.question) > 1:
        raise UsageError("--option belongs to one question: give a single --question with its options")
    for target in (args.out, args.plot):
        if target and not Path(target).resolve().parent.is_dir():
            raise UsageError(f"cannot write {target}: its directory does not exist")
    from .candidates import CandidatePlan, candidate_frames
    from .selection import check_k
    from .video import probe

    plan = CandidatePlan.parse(args.candidates)
    info = probe(args.video)
    check_k(args.k, len(candidate_frames(info, plan)), info.path)  # before loading the model
    from .api import FrameSelector, selections_to_json

    selector = FrameSelector.from_pretrained(args.model, device=args.device, dtype=torch_dtype(args.dtype),
                                             compile=args.compile)
    selections = selector.select_many(info, args.question, k=args.k, candidates=plan, rule=args.rule, delta=args.delta,
                                      options=[args.option] if args.option else None)
    if args.out:
        Path(args.out).write_text(selections_to_json(selections) + "\n")
    if args.plot:
        from .plot import plot_selections

        plot_selections(selections, info, args.plot)
    print(selections_to_json(selections, scores=args.scores))


def build_parser() -> SettingsParser:
    parser, sub = command_parser(prog="frame-selector", description=__doc__.split("\n")[0])
    add_command(sub, "init", InitSettings, cmd_init,
                help="write an untrained selector assembled from pretrained parts, or a tiny random one")
    add_command(sub, "select", SelectSettings, cmd_select, help="choose the k frames that best help answer each question")
    add_command(sub, "serve", ServeSettings, cmd_serve,
                help="an OpenAI-compatible proxy that selects each request's frames before a video LLM server")

    # Commands of the packages built on this one (`bench`, `label`, `train`, `eval`, `demo`)
    # register themselves through an entry point, so the core library never imports them.
    for entry in entry_points(group="frame_selector.commands"):
        entry.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for reports
    _quiet_transformers()
    from .video import VideoError

    return run_parsed(args, (UsageError, VideoError, ValueError, OSError))


if __name__ == "__main__":
    sys.exit(main())
