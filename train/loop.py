"""Stage 1 and stage 2 of training, one loop, launched with `accelerate launch --no_python frame-selector train`.

Stage 1 trains the projector, score query and head with the vision tower and LLM frozen,
alternating the score loss (BCE against pseudo-labels) with the next-token loss on instruction
data. Stage 2 adds LoRA to the LLM and trains with the score loss only. Checkpoints are
accelerate states, and a resumed run is exact: same batches, same RNG, same final weights.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
import shutil
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator, DistributedDataParallelKwargs, PartialState
from accelerate.utils import ProjectConfiguration, set_seed
from torch.utils.data import ConcatDataset, DataLoader
from tqdm.auto import tqdm
from transformers import get_scheduler

from selector.api import encode_pixel_values
from selector.atomic import atomic_dir, write_atomic
from selector.processing import FrameSelectorProcessor, load_processor
from selector.modeling import FrameSelectorForFrameScoring
from selector.swap_control import with_other_questions
from selector.selection import greedy_nms, topk

from .config import TrainConfig
from .data import (
    AlternatingBatchSampler,
    FrameSource,
    InstructDataset,
    ScoreDataset,
    also_without_options,
    collate,
    label_request,
    read_instructions,
    split_by_video,
)
from .card import write_model_card
from .features import FeatureCache, vision_fingerprint
from .labels import LabelReport, training_labels

log = logging.getLogger(__name__)


class TrainState:
    """The optimizer-step counter, saved with every checkpoint."""

    def __init__(self) -> None:
        self.step = 0

    def state_dict(self) -> dict:
        return {"step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])


def _trainable(model: FrameSelectorForFrameScoring, config: TrainConfig) -> torch.nn.Module:
    """Freeze what the stage keeps fixed; in stage 2 wrap the LLM with LoRA."""
    model.requires_grad_(False)
    if config.stage == 1:
        model.projector.requires_grad_(True)
        model.score_head.requires_grad_(True)
        model.language_model.requires_grad_(config.train_llm)
        return model
    from peft import LoraConfig, get_peft_model

    # A regex, so LoRA lands in the language model only: SigLIP has q_proj/k_proj/v_proj too.
    targets = r"backbone\.language_model\..*\.(" + "|".join(map(re.escape, config.lora_target_modules)) + r")"
    saved = (["score_head"] if config.train_head else []) + (["projector"] if config.train_projector else [])
    lora = LoraConfig(
        r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
        target_modules=targets, modules_to_save=saved or None,
    )
    return get_peft_model(model, lora)


def _features(batch: dict, base: FrameSelectorForFrameScoring, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Cached features as they are, or decoded frames through the frozen tower, item by item."""
    if "vision_features" in batch:
        return batch["vision_features"].to(device, dtype)
    pixels = batch["pixel_values"]
    encoded = [encode_pixel_values(base, pixels[b, :n].cpu()) for b, n in enumerate(batch["num_candidates"].tolist())]
    out = torch.zeros((len(encoded), pixels.shape[1], *encoded[0].shape[1:]), device=device, dtype=dtype)
    for b, features in enumerate(encoded):
        out[b, : len(features)] = features.to(device, dtype)
    return out


def _inputs(batch: dict, base: FrameSelectorForFrameScoring, device: torch.device) -> dict:
    """The model's keyword arguments from a collated batch (the processor's output), on `device`,
    with decoded frames encoded by the frozen tower."""
    inputs = {name: batch[name].to(device) for name in ("input_ids", "attention_mask", "prefix_ids", "labels", "targets") if name in batch}
    return {**inputs, "vision_features": _features(batch, base, base.projector.linear_1.weight.dtype, device),
            "num_candidates": batch["num_candidates"]}


def _loss(model, batch: dict, base: FrameSelectorForFrameScoring, device) -> torch.Tensor:
    return model(**_inputs(batch, base, device)).loss


@torch.no_grad()
def _measure(model, loader, base, accelerator: Accelerator, k: int) -> dict[str, torch.Tensor]:
    """Per item, over every process: BCE; recall@k, the share of the label's top-k frames that
    greedy NMS on the predicted scores recovers; and hit@1, whether the best-scored candidate is
    one the label marks (at least half the label's maximum)."""
    measured: dict[str, list[torch.Tensor]] = {"bce": [], "recall": [], "hit": []}
    for batch in loader:
        inputs = _inputs(batch, base, accelerator.device)
        inputs.pop("labels")  # the scores only: the metrics below read the labels themselves
        logits = model(**inputs).logits.float()
        per: dict[str, list[torch.Tensor]] = {"bce": [], "recall": [], "hit": []}
        for b, n in enumerate(batch["num_candidates"].tolist()):
            scores, labels = logits[b, :n], batch["labels"][b, :n].to(logits.device)
            per["bce"].append(torch.nn.functional.binary_cross_entropy_with_logits(scores, labels))
            kk = min(k, n)
            chosen = set(greedy_nms(scores.double().cpu().numpy(), kk))  # ranked on logits: no ties from a saturated sigmoid
            truth = set(topk(labels.cpu().numpy(), kk))
            per["recall"].append(torch.tensor(len(chosen & truth) / kk, device=logits.device))
            per["hit"].append(((labels[scores.argmax()] >= 0.5 * labels.max()) & (labels.max() > 0)).float())
        for name, values in per.items():
            measured[name].append(accelerator.gather_for_metrics(torch.stack(values)))
    return {name: torch.cat(values) if values else torch.empty(0) for name, values in measured.items()}


def evaluate(model, loader, base, accelerator: Accelerator, k: int, swapped_loader=None) -> dict[str, float]:
    """Validation BCE, recall@k and hit@1; with `swapped_loader` (the same items asked another
    video's question, `selector.swap_control`), the swap control's recall@k and hit@1 too: a selector
    that reads the question loses them when asked the wrong one."""
    model.eval()
    own = _measure(model, loader, base, accelerator, k)
    metrics = {}
    if len(own["bce"]):
        metrics = {"val_bce": float(own["bce"].mean()), f"val_recall@{k}": float(own["recall"].mean()), "val_hit@1": float(own["hit"].mean())}
        if swapped_loader is not None:
            swapped = _measure(model, swapped_loader, base, accelerator, k)
            if len(swapped["bce"]):
                metrics[f"val_swapped_recall@{k}"] = float(swapped["recall"].mean())
                metrics["val_swapped_hit@1"] = float(swapped["hit"].mean())
    model.train()
    return metrics


def _validation_line(step: int, metrics: dict[str, float], k: int) -> str:
    """Own question against another video's (the swap control): hit@1 and recall@k."""
    line = f"step {step}: val BCE {metrics['val_bce']:.4f}"
    for key in ("hit@1", f"recall@{k}"):
        line += f"; {key} own question {metrics[f'val_{key}']:.3f}"
        swapped = metrics.get(f"val_swapped_{key}")
        if swapped is not None:
            line += f", another video's {swapped:.3f} (gap {metrics[f'val_{key}'] - swapped:+.3f})"
    return line


def _plot(metrics_csv: Path, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(metrics_csv.open()))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for kind, color in (("score", "tab:blue"), ("lm", "tab:orange")):
        points = [(int(r["step"]), float(r["loss"])) for r in rows if r["kind"] == kind and r["loss"]]
        if points:
            axes[0].plot(*zip(*points), color=color, lw=1, label=f"{kind} loss")
    val = [(int(r["step"]), float(r["val_bce"])) for r in rows if r.get("val_bce")]
    if val:
        axes[0].plot(*zip(*val), "o-", color="black", label="val BCE")
    axes[0].set_xlabel("optimizer step")
    axes[0].legend(fontsize=8)
    recall = next((key[4:] for key in rows[0] if key.startswith("val_recall")), None) if rows else None
    for metric, color in ((recall, "tab:green"), ("hit@1", "tab:purple")):
        for key, style, whose in ((f"val_{metric}", "o-", "own question"), (f"val_swapped_{metric}", "x:", "another video's question")):
            points = [(int(r["step"]), float(r[key])) for r in rows if metric and r.get(key)]
            if points:
                axes[1].plot(*zip(*points), style, color=color, label=f"{metric}, {whose}")
    if axes[1].lines:
        axes[1].legend(fontsize=7)
    axes[1].set_title("validation: own question against the swap control")
    axes[1].set_xlabel("optimizer step")
    axes[1].set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@dataclass
class Stage:
    """One training stage, set up: the prepared model, data, optimizer and schedule, and the step
    counter that checkpoints save and resume."""

    config: TrainConfig
    accelerator: Accelerator
    model: torch.nn.Module  # prepared by accelerate (and wrapped by LoRA in stage 2)
    base: FrameSelectorForFrameScoring  # the selector inside it, for the frozen vision tower
    processor: FrameSelectorProcessor
    parameters: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    loader: DataLoader
    val_loader: DataLoader
    swapped_loader: DataLoader  # the validation items asked another video's question (the swap control)
    labels: LabelReport  # what the labels cover, for the log, label_report.json and the model card
    state: TrainState
    steps_per_epoch: int
    accumulation: int
    total: int

    @property
    def out(self) -> Path:
        return Path(self.config.output_dir)


def _accelerator(config: TrainConfig) -> tuple[Accelerator, int, int]:
    """The accelerator, the number of processes and the gradient accumulation steps."""
    cpu = config.cpu or not torch.cuda.is_available()
    precision = ("bf16" if not cpu else "no") if config.mixed_precision == "auto" else config.mixed_precision
    world = PartialState(cpu=cpu).num_processes  # the process layout decides the accumulation steps
    accumulation = max(1, math.ceil(config.batch_size / (config.micro_batch_size * world)))
    handlers = [DistributedDataParallelKwargs(find_unused_parameters=config.stage == 1 and config.lm_ratio > 0)]
    accelerator = Accelerator(
        cpu=cpu, mixed_precision=precision, gradient_accumulation_steps=accumulation, kwargs_handlers=handlers,
        project_config=ProjectConfiguration(project_dir=str(Path(config.output_dir))),
    )
    return accelerator, world, accumulation


def _loaders(
    config: TrainConfig, rows: list[dict], base: FrameSelectorForFrameScoring, processor: FrameSelectorProcessor, group: int
) -> tuple[AlternatingBatchSampler, DataLoader, DataLoader, DataLoader]:
    """The training sampler and loader (score and next-token batches alternating) over the label
    rows, the validation loader and its swap control; `group` is processes x accumulation steps."""
    train_rows, val_rows = split_by_video(rows, config.val_fraction, config.seed)
    cache = FeatureCache(config.features, vision_fingerprint(base, processor)) if config.features else None
    if cache is not None:
        missing = sum(label_request(r).key not in cache for r in rows)
        if missing:
            raise FileNotFoundError(f"{missing} of {len(rows)} label rows have no cached features in {cache.dir}; run `frame-selector cache` first")
    source = FrameSource(cache, base.config.vision_config.image_size)
    if config.also_without_options:
        train_rows = also_without_options(train_rows)
    datasets = [ScoreDataset(train_rows, source)]
    n_lm = 0
    if config.stage == 1 and config.lm_ratio > 0 and config.instruct:
        instruct = InstructDataset(read_instructions(config.instruct, config.instruct_frames), source)
        if cache is not None and any(e.request.key not in cache for e in instruct.examples):
            raise FileNotFoundError(f"instruction media without cached features in {cache.dir}; run `frame-selector cache --instruct` with the same --instruct-frames first")
        datasets.append(instruct)
        n_lm = len(instruct)
    sampler = AlternatingBatchSampler(len(datasets[0]), n_lm, config.micro_batch_size, group, config.lm_ratio, config.seed)
    workers = config.num_workers if cache is None else min(config.num_workers, 1)
    # The loader draws its worker seeds from its own generator, not the global RNG: a resumed run
    # starts a fresh iterator mid-epoch, and must not shift the dropout masks that follow.
    loader = DataLoader(
        ConcatDataset(datasets), batch_sampler=sampler, collate_fn=partial(collate, processor=processor), num_workers=workers,
        generator=torch.Generator().manual_seed(config.seed),
    )
    val_loader, swapped_loader = (
        DataLoader(ScoreDataset(part, source), batch_size=config.micro_batch_size,
                   collate_fn=partial(collate, processor=processor), num_workers=workers)
        for part in (val_rows, with_other_questions(val_rows, video_key="video_hash"))
    )
    return sampler, loader, val_loader, swapped_loader


def setup(config: TrainConfig) -> Stage:
    """Accelerator, model (frozen or LoRA-wrapped for the stage), data, optimizer and schedule,
    prepared for the process layout, with the schedule and step counter registered for checkpoints.
    The labels are read and checked first, so a store with nothing to learn is refused before any
    model loads."""
    rows, labels = training_labels(config.labels, config.label_weights)
    accelerator, world, accumulation = _accelerator(config)
    accelerator.print(labels.line())
    set_seed(config.seed)
    base = FrameSelectorForFrameScoring.from_pretrained(config.init_from, dtype=torch.float32)
    if config.score_loss:
        base.config.score_loss = config.score_loss  # saved with the trained checkpoint
    processor = load_processor(config.init_from)
    if config.gradient_checkpointing:
        base.language_model.gradient_checkpointing_enable()
    sampler, loader, val_loader, swapped_loader = _loaders(config, rows, base, processor, world * accumulation)

    model = _trainable(base, config)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, len(sampler) // (world * accumulation))
    total = config.max_steps or max(1, math.ceil(config.epochs * steps_per_epoch))
    scheduler = get_scheduler(config.scheduler, optimizer, num_warmup_steps=math.ceil(config.warmup_ratio * total), num_training_steps=total)
    model, optimizer, loader, val_loader, swapped_loader = accelerator.prepare(model, optimizer, loader, val_loader, swapped_loader)
    state = TrainState()
    accelerator.register_for_checkpointing(scheduler, state)
    unwrapped = accelerator.unwrap_model(model)
    unwrapped = unwrapped.get_base_model() if hasattr(unwrapped, "get_base_model") else unwrapped
    return Stage(config, accelerator, model, unwrapped, processor, parameters, optimizer, scheduler, loader, val_loader,
                 swapped_loader, labels, state, steps_per_epoch, accumulation, total)


def resume(stage: Stage) -> None:
    """Continue from the newest complete checkpoint, if any (a half-written one is removed), and
    record the settings and the labels' report next to the outputs."""
    accelerator, checkpoints = stage.accelerator, stage.out / "checkpoints"
    if accelerator.is_main_process:
        for stale in checkpoints.glob(".step-*.tmp"):  # a save the last run did not finish
            shutil.rmtree(stale)
        checkpoints.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    existing = _checkpoints(checkpoints)
    if existing:
        accelerator.load_state(str(existing[-1]))
        accelerator.print(f"resumed from {existing[-1]} at step {stage.state.step}")
    if accelerator.is_main_process:
        stage.out.mkdir(parents=True, exist_ok=True)
        stage.config.save(stage.out / "train_config.yaml")
        write_atomic(stage.out / "label_report.json", json.dumps(stage.labels.to_dict(), indent=2))


class MetricsLog:
    """metrics.csv, one row per optimizer step (validation columns on evaluation steps); only the
    main process writes. A resumed run keeps the rows up to the step it resumes from and appends:
    steps a killed run logged after its last checkpoint are done again, so their rows go."""

    def __init__(self, path: Path, recall_k: int, main_process: bool, resumed_step: int = 0):
        self.path, self.main = path, main_process
        self.fields = ["step", "epoch", "kind", "loss", "lr", "seconds", "val_bce", f"val_recall@{recall_k}",
                       f"val_swapped_recall@{recall_k}", "val_hit@1", "val_swapped_hit@1"]
        if not self.main:
            return
        kept = [row for row in csv.DictReader(path.open(newline=""))] if path.exists() else []
        kept = [row for row in kept if row.get("step", "").isdigit() and int(row["step"]) <= resumed_step]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)
        write_atomic(path, buffer.getvalue())

    def write(self, row: dict) -> None:
        if self.main:
            with self.path.open("a", newline="") as handle:
                csv.DictWriter(handle, fieldnames=self.fields).writerow(row)


def _epoch_batches(stage: Stage, epoch: int, skip: int):
    """This process's batches of an epoch, after the first `skip` (already used before a resume)."""
    # accelerate's loader sets the sampler's epoch from its own iteration count when a pass
    # starts, which restarts at 0 in a resumed process: set it, on the loader, every epoch.
    stage.loader.set_epoch(epoch)
    batches = stage.accelerator.skip_first_batches(stage.loader, skip) if skip else stage.loader
    if batches is not stage.loader:
        batches.set_epoch(epoch)
    return batches


def micro_step(stage: Stage, batch: dict) -> torch.Tensor:
    """Forward and backward of one micro-batch; the optimizer steps when the accumulation is complete."""
    accelerator, config = stage.accelerator, stage.config
    with accelerator.accumulate(stage.model):
        loss = _loss(stage.model, batch, stage.base, accelerator.device)
        accelerator.backward(loss)
        if accelerator.sync_gradients and config.max_grad_norm > 0:
            accelerator.clip_grad_norm_(stage.parameters, config.max_grad_norm)
        stage.optimizer.step()
        stage.optimizer.zero_grad()
    return loss.detach().float()


def finish_step(stage: Stage, losses: list[torch.Tensor], kind: str, epoch: int, started: float, bar: tqdm) -> dict:
    """After an optimizer step: advance the schedule and the counter, validate when due (own
    question against the swap control), and return the step's metrics row (`started`: the
    perf_counter at the start of training)."""
    config, accelerator = stage.config, stage.accelerator
    stage.scheduler.step()
    stage.state.step += 1
    step_loss = float(accelerator.gather(torch.stack(losses).mean()[None]).mean())
    row = {"step": stage.state.step, "epoch": epoch, "kind": kind, "loss": f"{step_loss:.6f}",
           "lr": f"{stage.scheduler.get_last_lr()[0]:.3e}", "seconds": f"{time.perf_counter() - started:.2f}"}
    if config.eval_every and (stage.state.step % config.eval_every == 0 or stage.state.step == stage.total):
        metrics = evaluate(stage.model, stage.val_loader, stage.base, accelerator, config.recall_k, stage.swapped_loader)
        row.update({k: f"{v:.6f}" for k, v in metrics.items()})
        if metrics and accelerator.is_main_process:
            bar.write(_validation_line(stage.state.step, metrics, config.recall_k))
    bar.update(1)
    bar.set_postfix(loss=f"{step_loss:.4f}", kind=kind, refresh=False)
    return row


def train(config: TrainConfig) -> Path:
    """Run one stage; returns the folder of the final selector (loadable by
    `FrameSelector.from_pretrained`)."""
    stage = setup(config)
    resume(stage)
    state, main = stage.state, stage.accelerator.is_main_process
    metrics = MetricsLog(stage.out / "metrics.csv", config.recall_k, main, resumed_step=state.step)
    stage.model.train()
    bar = tqdm(total=stage.total, initial=state.step, desc=f"stage {config.stage}", disable=not (config.progress and main))
    started = time.perf_counter()
    epoch = state.step // stage.steps_per_epoch
    skip = (state.step % stage.steps_per_epoch) * stage.accumulation  # this process's batches already used
    losses: list[torch.Tensor] = []
    while state.step < stage.total:
        for batch in _epoch_batches(stage, epoch, skip):
            losses.append(micro_step(stage, batch))
            if not stage.accelerator.sync_gradients:
                continue
            metrics.write(finish_step(stage, losses, batch["kind"], epoch, started, bar))
            losses = []
            if config.save_every and state.step % config.save_every == 0:
                _save_checkpoint(stage.accelerator, stage.out / "checkpoints", state.step, config.save_total_limit)
            if state.step >= stage.total:
                break
        skip = 0
        epoch += 1
    bar.close()
    return _save_final(stage)


def _checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints, oldest first (step-numbered; half-written ones have a temp name)."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.glob("step-*") if p.name[5:].isdigit()), key=lambda p: int(p.name[5:]))


def _save_checkpoint(accelerator: Accelerator, folder: Path, step: int, keep: int) -> None:
    """accelerate's state, written under a temporary name and renamed when complete, so a run
    killed while saving resumes from the previous checkpoint instead of a broken one."""
    with atomic_dir(folder / f"step-{step}", owner=accelerator.is_main_process) as tmp:
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
        accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        for old in _checkpoints(folder)[:-keep] if keep > 0 else []:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()


def _save_final(stage: Stage) -> Path:
    """The trained selector (`final/`; in stage 2 also the LoRA `adapter/`), each folder with its
    model card, and the training plot."""
    accelerator, config, processor, out = stage.accelerator, stage.config, stage.processor, stage.out
    accelerator.wait_for_everyone()
    final = out / "final"
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(stage.model)
        metrics = out / "metrics.csv"
        card = partial(write_model_card, config=config, labels=stage.labels, model_config=stage.base.config, metrics=metrics)
        if config.stage == 2:
            unwrapped.save_pretrained(out / "adapter")
            processor.save_pretrained(out / "adapter")
            (out / "adapter" / "selector_base.json").write_text(json.dumps({"base": str(config.init_from)}))
            card(out / "adapter", adapter=True)  # after peft's save, which writes a generic README.md of its own
        if config.stage == 1 or config.merge:
            merged = unwrapped.merge_and_unload() if config.stage == 2 else unwrapped
            if final.exists():
                shutil.rmtree(final)
            merged.save_pretrained(final)
            processor.save_pretrained(final)
            card(final, adapter=False)
        if metrics.exists() and metrics.stat().st_size > 0:
            _plot(metrics, out / "training.png")
    accelerator.wait_for_everyone()
    return final if (config.stage == 1 or config.merge) else out / "adapter"


__all__ = ["train", "setup", "resume", "micro_step", "finish_step", "evaluate", "Stage", "TrainState", "MetricsLog"]
