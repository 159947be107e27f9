"""`frame-selector demo`: the needle world, labelled, trained on and evaluated, end to end."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def cmd_demo(args: argparse.Namespace) -> None:
    from .demo import DemoSettings, run_demo

    ks = tuple(int(k) for k in args.ks.split(","))
    if any(k < 1 or k > args.candidates for k in ks):
        raise ValueError(f"--ks {args.ks}: every k must be between 1 and --candidates ({args.candidates})")
    if args.train_videos < 2 or args.test_videos < 1:
        raise ValueError("--train-videos must be >= 2 and --test-videos >= 1")
    out = Path(args.out)
    if args.fresh and out.exists():
        shutil.rmtree(out)
    settings = DemoSettings(
        seed=args.seed, train_videos=args.train_videos, test_videos=args.test_videos, candidates=args.candidates, ks=ks,
        readout=args.readout, tower=args.tower, stage1_epochs=args.stage1_epochs, stage2_epochs=args.stage2_epochs,
        similarity_steps=args.similarity_steps,
    )
    if args.seeds:
        from .seeds import run_seeds

        run_seeds(out, settings, _seeds(args.seeds), progress=not args.no_progress)
    else:
        run_demo(out, settings, progress=not args.no_progress)


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise ValueError(f"--seeds {text!r} is not a comma-separated list of integers") from None


def register(sub: argparse._SubParsersAction) -> None:
    from .demo import DemoSettings

    defaults = DemoSettings()
    demo = sub.add_parser("demo", help="build the needle world, label it, train a small selector, compare choosers, write a report")
    demo.add_argument("--out", default="demo-out/needle", help="working folder (an interrupted demo resumes here)")
    seed = demo.add_mutually_exclusive_group()
    seed.add_argument("--seed", type=int, default=defaults.seed, help="world, model and training seed")
    seed.add_argument("--seeds", help="comma-separated seeds: one run each under --out/seed-N, then mean ± sd over them")
    demo.add_argument("--train-videos", type=int, default=defaults.train_videos)
    demo.add_argument("--test-videos", type=int, default=defaults.test_videos)
    demo.add_argument("--candidates", type=int, default=defaults.candidates)
    demo.add_argument("--ks", default=",".join(map(str, defaults.ks)), help="comma-separated k values to compare")
    demo.add_argument("--readout", choices=["frame_match", "query_mlp"], default=defaults.readout,
                      help="score read-out: frame_match (ours) or query_mlp (the paper's)")
    demo.add_argument("--tower", choices=["world", "random"], default=defaults.tower,
                      help="vision tower: world (the similarity baseline's SigLIP, pretrained on this world's captions) "
                           "or random (frozen random; the selector then ignores the question)")
    demo.add_argument("--stage1-epochs", type=float, default=defaults.stage1_epochs)
    demo.add_argument("--stage2-epochs", type=float, default=defaults.stage2_epochs)
    demo.add_argument("--similarity-steps", type=int, default=defaults.similarity_steps)
    demo.add_argument("--fresh", action="store_true", help="delete --out first instead of resuming")
    demo.add_argument("--no-progress", action="store_true")
    demo.set_defaults(func=cmd_demo)
