"""Stage 1 and stage 2 of training, one loop, launched with `accelerate launch --no_python frame-selector train`.

Stage 1 trains the projector, score query and head with the vision tower and LLM frozen,
alternating the score loss (BCE against pseudo-labels) with the next-token loss on instruction
data. Stage 2 adds LoRA to the LLM and trains with the score loss only. Checkpoints are
accelerate states, and a resumed run is exact: same batches, same RNG, same final weights.

This module sets a stage up, runs its steps and saves the result; a batch's forward pass is in
`forward`, validation in `validation`, metrics.csv and its plot in `run_log`, and checkpoints
in `checkpoints`.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import time
import warnings
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

from selector.atomic import write_atomic
from selector.processing import FrameSelectorProcessor, load_processor
from selector.modeling import FrameSelectorForFrameScoring
from selector.swap_control import with_other_questions

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
from .checkpoints import TrainState, restore_latest, save_checkpoint
from .features import FeatureCache, vision_fingerprint
from .forward import batch_loss
from .labels import LabelReport, training_labels
from .run_log import MetricsLog, plot_metrics
from .validation import evaluate, validation_line

log = logging.getLogger(__name__)


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
    with warnings.catch_warnings():
        # peft reads `is_gradient_checkpointing` inside get_peft_model, which transformers deprecated
        # for `is_activation_checkpointing`: peft's own call, nothing a training run can act on.
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
        return get_peft_model(model, lora)


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
        base.language_model.activation_checkpointing_enable()
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
    accelerator = stage.accelerator
    restored = restore_latest(accelerator, stage.out / "checkpoints")
    if restored is not None:
        accelerator.print(f"resumed from {restored} at step {stage.state.step}")
    if accelerator.is_main_process:
        stage.out.mkdir(parents=True, exist_ok=True)
        stage.config.save(stage.out / "train_config.yaml")
        write_atomic(stage.out / "label_report.json", json.dumps(stage.labels.to_dict(), indent=2))


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
        loss = batch_loss(stage.model, batch, stage.base, accelerator.device)
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
            bar.write(validation_line(stage.state.step, metrics, config.recall_k))
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
                save_checkpoint(stage.accelerator, stage.out / "checkpoints", state.step, config.save_total_limit)
            if state.step >= stage.total:
                break
        skip = 0
        epoch += 1
    bar.close()
    return _save_final(stage)


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
            plot_metrics(metrics, out / "training.png")
    accelerator.wait_for_everyone()
    return final if (config.stage == 1 or config.merge) else out / "adapter"


__all__ = ["train", "setup", "resume", "micro_step", "finish_step", "Stage"]
