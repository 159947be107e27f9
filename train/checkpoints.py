"""Checkpoints of a training run: accelerate states under `checkpoints/step-N`, the step counter
saved with them, written atomically, the oldest removed past the limit, and the newest complete
one restored on resume."""

from __future__ import annotations

import shutil
from pathlib import Path

from accelerate import Accelerator

from selector.atomic import atomic_dir


class TrainState:
    """The optimizer-step counter, saved with every checkpoint."""

    def __init__(self) -> None:
        self.step = 0

    def state_dict(self) -> dict:
        return {"step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])


def complete_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints, oldest first (step-numbered; half-written ones have a temp name)."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.glob("step-*") if p.name[5:].isdigit()), key=lambda p: int(p.name[5:]))


def restore_latest(accelerator: Accelerator, folder: Path) -> Path | None:
    """Load the newest complete checkpoint in `folder` into the accelerator's registered state
    and return it (None when there is none), after removing the saves a killed run left half
    written."""
    if accelerator.is_main_process:
        for stale in folder.glob(".step-*.tmp"):  # a save the last run did not finish
            shutil.rmtree(stale)
        folder.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    existing = complete_checkpoints(folder)
    if not existing:
        return None
    accelerator.load_state(str(existing[-1]))
    return existing[-1]


def save_checkpoint(accelerator: Accelerator, folder: Path, step: int, keep: int) -> None:
    """accelerate's state, written under a temporary name and renamed when complete, so a run
    killed while saving resumes from the previous checkpoint instead of a broken one; then only
    the newest `keep` are kept (all when `keep` is 0)."""
    with atomic_dir(folder / f"step-{step}", owner=accelerator.is_main_process) as tmp:
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
        accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        for old in complete_checkpoints(folder)[:-keep] if keep > 0 else []:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()


__all__ = ["TrainState", "complete_checkpoints", "restore_latest", "save_checkpoint"]
