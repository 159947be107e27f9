"""Which slice of a job this process does, under `accelerate launch`, torchrun or by hand.

Sharded jobs (labelling, the feature cache) need no collective communication, so they read the
launcher's environment (torchrun's contract, which accelerate and multi-node launchers follow)
instead of starting a process group.
"""

from __future__ import annotations

import os

from .hardware import default_device


def process_shard(text: str | None = None) -> tuple[int, int, str | None]:
    """(shard, num_shards, device) from an `i/N` flag, else from RANK / WORLD_SIZE / LOCAL_RANK.

    device is None when the caller should choose (a single process, or a shard given by hand).
    """
    if text:
        index, _, total = text.partition("/")
        try:
            shard, num_shards = int(index), int(total)
        except ValueError:
            raise ValueError(f"--shard must look like i/N, not {text!r}") from None
        if not 0 <= shard < num_shards:
            raise ValueError(f"--shard {text}: i must be in 0..N-1")
        return shard, num_shards, None
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        return rank, world, f"cuda:{local}" if default_device() == "cuda" else "cpu"
    return 0, 1, None


__all__ = ["process_shard"]
