"""Atomic publishing: write under a temporary name beside the target, rename over it when complete.

Every output a later run trusts (label parts, cached features, manifests, videos, checkpoints,
batch state) goes through here, so a process killed mid-write leaves either the old file or the
new one, never half of one. The temporary name sits in the target's own folder (a rename is only
atomic within one filesystem) and ends in ``.tmp``, so globs for real outputs never match it and a
cleanup can find what a killed run left.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(target: str | os.PathLike, *, durable: bool = False) -> Iterator[Path]:
    """Yield a fresh path beside ``target`` for the caller to write; on a clean exit it replaces
    ``target``, on an exception it is removed and ``target`` is left as it was.

    The name is unique per call (``.NAME.RANDOM.tmp``), so concurrent writers of one target never
    write into each other's file; it is not created in advance, so the writer's tool may open it
    any way it likes and the file gets the usual permissions. ``durable`` flushes the bytes to
    disk before the rename, for files whose loss after a power cut would cost more than the fsync.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        if durable:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(target: str | os.PathLike, data: str | bytes, *, durable: bool = False) -> Path:
    """Publish ``data`` (text is written as UTF-8) at ``target`` in one step; returns ``target``."""
    with atomic_path(target, durable=durable) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
    return Path(target)


@contextmanager
def atomic_dir(target: str | os.PathLike, *, owner: bool = True) -> Iterator[Path]:
    """Yield a folder beside ``target`` to fill; on a clean exit it is renamed to ``target``.

    Its name is fixed (``.NAME.tmp``), so every process of one job agrees on it and a restart can
    find it. Only the ``owner`` clears what an earlier, killed attempt left there, renames it, and removes
    it on an exception; other processes of the same job (``owner=False``, e.g. the non-main ranks
    of a distributed save) only write into it, and must be done before the owner leaves the block.
    """
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    if owner:
        shutil.rmtree(tmp, ignore_errors=True)
    try:
        yield tmp
        if owner:
            os.replace(tmp, target)
    except BaseException:
        if owner:
            shutil.rmtree(tmp, ignore_errors=True)
        raise


__all__ = ["atomic_path", "write_atomic", "atomic_dir"]
