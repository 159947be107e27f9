"""`frame-selector label`: run a labelling job, and `label merge` / `label stats` on its store.

Registered into the `frame-selector` command through the `frame_selector.commands` entry point.
Under `accelerate launch`, each process labels one shard on its own device.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from selector.cli_support import UsageError, add_command

DEFAULT_VLM = "Qwen/Qwen2-VL-7B-Instruct"
DEFAULT_TEXT_LLM = "gpt-4o-mini"


@dataclass
class LabelCommandSettings:
    """What `frame-selector label` labels, with which scorers, into which store."""

    out: str = field(default="", metadata={"help": "label store folder (required)"})
    manifest: str | None = field(default=None, metadata={"help": "JSONL or Parquet: id, video, question[, options, answer, spans]"})
    video_root: str | None = field(default=None, metadata={"help": "resolve relative video paths here (default: the manifest's folder)"})
    shard: str | None = field(default=None, metadata={"help": "i/N: label shard i of N (default: the accelerate process, else 0/1)"})
    candidates: str = field(default="128", metadata={"help": "candidate plan: N, uniform:N, keyframes:N (approximate, faster) or fps[:RATE[:MIN:MAX]]"})
    frame_pixels: int = field(default=448 * 448, metadata={"help": "pixel budget of a frame given to the scorers"})
    spatial: Literal["hf", "openai", "none"] = "hf"
    spatial_model: str = DEFAULT_VLM
    spatial_mode: Literal["direct", "reason"] = "reason"
    captioner: Literal["hf", "openai", "none"] = "hf"
    captioner_model: str = DEFAULT_VLM
    temporal: Literal["openai", "batch", "hf", "none"] = field(default="openai", metadata={
        "help": "openai: one request per item; batch: all items through the OpenAI Batch API (resumable); "
                "hf: a transformers causal LM in-process (--temporal-model: hub id or local path)"})
    temporal_model: str = field(default=DEFAULT_TEXT_LLM, metadata={"help": f"the text LLM (default {DEFAULT_TEXT_LLM} for openai/batch)"})
    temporal_base_url: str | None = field(default=None, metadata={"help": "OpenAI-compatible URL of the text LLM (default: OpenAI)"})
    vlm_base_url: str | None = field(default=None, metadata={
        "help": "OpenAI-compatible URL serving the VLM, for --spatial/--captioner openai"})
    api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "environment variable holding the API key"})
    batch_size: int = field(default=16, metadata={"help": "frames (spatial, captions) or prompts (temporal) per forward pass (hf backends)"})
    batch_poll: float = field(default=30.0, metadata={"help": "seconds between Batch API status checks"})
    device: str | None = None
    weights: str = field(default="spatial=1,temporal=1,spans=1", metadata={"help": "signal weights of the combined label"})
    span_mode: Literal["binary", "overlap"] = "binary"
    flush_every: int = field(default=16, metadata={"help": "items per published part"})
    retry_failed: bool = field(default=False, metadata={"help": "label again the items that failed before"})
    no_progress: bool = False


@dataclass
class MergeSettings:
    """`label merge`: the shards of a store into one labels.parquet and failures.parquet."""

    out: str = field(metadata={"help": "label store folder"})
    dest: str | None = field(default=None, metadata={"help": "output folder (default: --out)"})


@dataclass
class StatsSettings:
    """`label stats`: a summary of a store."""

    out: str = field(metadata={"help": "label store folder"})
    plot: str | None = field(default=None, metadata={"help": "also write this PNG"})


def build_scorers(args: LabelCommandSettings, device: str | None):
    """The three scorers the flags ask for (None where switched off). Backends are imported only
    when used, so a spans-only job needs neither transformers models nor a server."""
    device = args.device or device
    spatial = captioner = temporal = None
    if args.spatial == "hf":
        from .hf_scorers import HFSpatialScorer

        spatial = HFSpatialScorer.from_pretrained(
            args.spatial_model, device=device, mode=args.spatial_mode, batch_size=args.batch_size, max_pixels=args.frame_pixels
        )
    elif args.spatial == "openai":
        from .remote import OpenAISpatialScorer

        spatial = OpenAISpatialScorer(model=args.spatial_model, base_url=args.vlm_base_url, api_key_env=args.api_key_env)
    if args.temporal != "none":
        if args.captioner == "hf":
            from .hf_scorers import HFCaptioner

            if args.spatial == "hf" and args.captioner_model == args.spatial_model:  # one model serves both
                captioner = HFCaptioner(
                    spatial.model, spatial.processor, batch_size=args.batch_size, max_pixels=args.frame_pixels,
                    model_id=spatial.model_id, revision=spatial.revision,
                )
            else:
                captioner = HFCaptioner.from_pretrained(
                    args.captioner_model, device=device, batch_size=args.batch_size, max_pixels=args.frame_pixels
                )
        elif args.captioner == "openai":
            from .remote import OpenAICaptioner

            captioner = OpenAICaptioner(model=args.captioner_model, base_url=args.vlm_base_url, api_key_env=args.api_key_env)
        else:
            raise ValueError("--temporal needs captions: choose --captioner hf or openai")
        if args.temporal == "hf":
            from .hf_temporal import HFTemporalSelector

            temporal = HFTemporalSelector.from_pretrained(args.temporal_model, device=device, batch_size=args.batch_size)
        else:
            from .remote import OpenAITemporalSelector

            temporal = OpenAITemporalSelector(model=args.temporal_model, base_url=args.temporal_base_url, api_key_env=args.api_key_env)
    return spatial, captioner, temporal


def check_model_sources(args: LabelCommandSettings) -> None:
    """Every in-process model named by a path must be a checkpoint folder, checked before anything
    is loaded or decoded: a typo then costs one line, not a model load and a failed job. (A hub id
    is checked by loading it.)"""
    if args.temporal == "hf" and args.temporal_model == DEFAULT_TEXT_LLM:
        raise UsageError("--temporal hf needs --temporal-model: a transformers causal LM with a chat template (hub id or local path)")
    named = {"--spatial-model": (args.spatial, args.spatial_model), "--captioner-model": (args.captioner, args.captioner_model),
             "--temporal-model": (args.temporal, args.temporal_model)}
    for option, (backend, source) in named.items():
        if backend != "hf" or (option == "--captioner-model" and args.temporal == "none"):
            continue
        path = Path(source).expanduser()
        looks_local = path.is_absolute() or source.startswith((".", "~")) or path.exists()
        if looks_local and not path.is_dir():
            raise UsageError(f"{option} {source} does not exist")
        if looks_local and not (path / "config.json").is_file():
            raise UsageError(f"{option} {source} has no config.json: not a transformers checkpoint folder")


def cmd_merge(args: MergeSettings) -> None:
    from .store import merge

    labels, failures = merge(args.out, args.dest)
    print(f"wrote {labels} and {failures}")


def cmd_stats(args: StatsSettings) -> None:
    from .stats import label_stats, plot_stats

    print(json.dumps(label_stats(args.out), indent=2))
    if args.plot:
        plot_stats(args.out, args.plot)


def cmd_label(args: LabelCommandSettings) -> None:
    from selector.candidates import CandidatePlan
    from selector.sharding import process_shard

    from .job import LabelJob, LabelSettings
    from .manifest import read_manifest
    from .signals import parse_weights

    if not args.out:
        raise UsageError("label needs --out (the label store folder)")
    if not args.manifest:
        raise UsageError("label needs --manifest (or use `label merge` / `label stats`)")
    settings = LabelSettings(
        plan=CandidatePlan.parse(args.candidates),
        frame_pixels=args.frame_pixels,
        span_mode=args.span_mode,
        weights=parse_weights(args.weights),
        flush_every=args.flush_every,
        retry_failed=args.retry_failed,
    )
    check_model_sources(args)
    items = read_manifest(args.manifest, args.video_root)
    shard, num_shards, device = process_shard(args.shard)
    spatial, captioner, temporal = build_scorers(args, device)
    job = LabelJob(args.out, spatial, captioner, temporal, settings, shard=shard, num_shards=num_shards)
    if args.temporal == "batch":
        from .temporal_batch import run_temporal_batch

        answers = run_temporal_batch(job, items, temporal, poll_interval=args.batch_poll, progress=not args.no_progress)
        job = LabelJob(args.out, spatial, captioner, answers, settings, shard=shard, num_shards=num_shards)
    summary = job.run(items, progress=not args.no_progress)
    print(summary.line())
    for reason, count in sorted(summary.failures.items(), key=lambda kv: -kv[1]):
        print(f"  failed: {count} x {reason}, e.g. {summary.examples[reason]}")


def register(sub: argparse._SubParsersAction) -> None:
    label = add_command(sub, "label", LabelCommandSettings, cmd_label, help="pseudo-label a manifest (or: label merge / label stats)")
    # `label --manifest ...` runs a job; `label merge` and `label stats` are subcommands with options of their own.
    actions = label.add_subparsers(dest="action", metavar="{merge,stats}")
    add_command(actions, "merge", MergeSettings, cmd_merge, help="merge the shards into labels.parquet and failures.parquet")
    add_command(actions, "stats", StatsSettings, cmd_stats, help="summarise the store (JSON on stdout)")


__all__ = ["LabelCommandSettings", "MergeSettings", "StatsSettings", "cmd_label", "cmd_merge", "cmd_stats", "build_scorers", "check_model_sources", "register"]
