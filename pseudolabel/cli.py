"""`frame-selector label`: run a labelling job, and `label merge` / `label stats` on its store.

Registered into the `frame-selector` command through the `frame_selector.commands` entry point.
Under `accelerate launch`, each process labels one shard on its own device.
"""

from __future__ import annotations

import argparse
import json

DEFAULT_VLM = "Qwen/Qwen2-VL-7B-Instruct"


def build_scorers(args: argparse.Namespace, device: str | None):
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
        from .remote import OpenAITemporalSelector

        temporal = OpenAITemporalSelector(model=args.temporal_model, base_url=args.temporal_base_url, api_key_env=args.api_key_env)
    return spatial, captioner, temporal


def cmd_label(args: argparse.Namespace) -> None:
    from selector.candidates import CandidatePlan
    from selector.runtime import process_shard

    from .job import LabelJob, LabelSettings
    from .manifest import read_manifest
    from .signals import parse_weights
    from .stats import label_stats, plot_stats
    from .store import merge

    if args.action == "merge":
        labels, failures = merge(args.out, args.dest)
        print(f"wrote {labels} and {failures}")
        return
    if args.action == "stats":
        print(json.dumps(label_stats(args.out), indent=2))
        if args.plot:
            plot_stats(args.out, args.plot)
        return
    if not args.manifest:
        raise ValueError("label needs --manifest (or use `label merge` / `label stats`)")
    settings = LabelSettings(
        plan=CandidatePlan.parse(args.candidates),
        frame_pixels=args.frame_pixels,
        span_mode=args.span_mode,
        weights=parse_weights(args.weights),
        flush_every=args.flush_every,
        retry_failed=args.retry_failed,
    )
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
        print(f"  failed: {count} x {reason}")


def register(sub: argparse._SubParsersAction) -> None:
    label = sub.add_parser("label", help="pseudo-label a manifest (or: label merge / label stats)")
    label.add_argument("action", nargs="?", choices=["merge", "stats"], help="merge the shards, or summarise the store")
    label.add_argument("--out", required=True, help="label store folder")
    label.add_argument("--manifest", help="JSONL or Parquet: id, video, question[, options, answer, spans]")
    label.add_argument("--video-root", help="resolve relative video paths here (default: the manifest's folder)")
    label.add_argument("--shard", help="i/N: label shard i of N (default: the accelerate process, else 0/1)")
    label.add_argument("--candidates", default="128", help="candidate plan: N, uniform:N or fps[:RATE[:MIN:MAX]]")
    label.add_argument("--frame-pixels", type=int, default=448 * 448, help="pixel budget of a frame given to the scorers")
    label.add_argument("--spatial", choices=["hf", "openai", "none"], default="hf")
    label.add_argument("--spatial-model", default=DEFAULT_VLM)
    label.add_argument("--spatial-mode", choices=["direct", "reason"], default="reason")
    label.add_argument("--captioner", choices=["hf", "openai", "none"], default="hf")
    label.add_argument("--captioner-model", default=DEFAULT_VLM)
    label.add_argument("--temporal", choices=["openai", "batch", "none"], default="openai",
                       help="openai: one request per item; batch: all items through the OpenAI Batch API (resumable)")
    label.add_argument("--temporal-model", default="gpt-4o-mini")
    label.add_argument("--temporal-base-url", default=None, help="OpenAI-compatible URL of the text LLM (default: OpenAI)")
    label.add_argument("--vlm-base-url", default=None, help="OpenAI-compatible URL serving the VLM, for --spatial/--captioner openai")
    label.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    label.add_argument("--batch-size", type=int, default=16, help="frames per forward pass (hf backends)")
    label.add_argument("--batch-poll", type=float, default=30.0, help="seconds between Batch API status checks")
    label.add_argument("--device", default=None)
    label.add_argument("--weights", default="spatial=1,temporal=1,spans=1", help="signal weights of the combined label")
    label.add_argument("--span-mode", choices=["binary", "overlap"], default="binary")
    label.add_argument("--flush-every", type=int, default=16, help="items per published part")
    label.add_argument("--retry-failed", action="store_true", help="label again the items that failed before")
    label.add_argument("--dest", help="merge: output folder (default: --out)")
    label.add_argument("--plot", help="stats: also write this PNG")
    label.add_argument("--no-progress", action="store_true")
    label.set_defaults(func=cmd_label)
