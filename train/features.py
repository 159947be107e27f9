"""The feature cache: the frozen vision tower's pooled output per video, computed once.

The tower is frozen in both stages, so decoding video and running SigLIP again every epoch is
pure waste. Features are stored per (video content, candidate frames, vision checkpoint): the
folder name is a fingerprint of the tower's weights and input size, so a different tower never
reads stale features. Building the cache is itself a sharded, resumable job: every entry is
published atomically and skipped when present.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import xxhash
from PIL import Image
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from selector.api import encode_frames
from selector.atomic import atomic_path
from selector.modeling import FrameSelectorForFrameScoring
from selector.prefetch import decode_ahead
from selector.processing import FrameSelectorProcessor
from selector.video import read_frames

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"}


def vision_fingerprint(model: FrameSelectorForFrameScoring, processor: FrameSelectorProcessor) -> str:
    """Identity of what produces the features: tower weights, input size, pixel normalisation,
    pooling grid."""
    digest = xxhash.xxh3_128()
    config, image = model.config, processor.image_processor
    settings = [config.vision_config.image_size, config.pool_size, config.frame_pooling, list(image.image_mean),
                list(image.image_std), float(image.rescale_factor)]
    digest.update(json.dumps(settings).encode())
    for name, tensor in sorted(model.vision_tower.state_dict().items()):
        digest.update(name.encode())
        # Rounded to bfloat16 first: a cache built by a bf16 tower on a GPU is the cache of the same
        # tower that trains in float32 on the same checkpoint.
        digest.update(tensor.detach().to("cpu", torch.bfloat16).contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def media_key(content_hash: str, indices: Sequence[int]) -> str:
    """One cache entry per media file content and the frames taken from it."""
    return xxhash.xxh3_128_hexdigest(json.dumps([content_hash, [int(i) for i in indices]]).encode())


@dataclass(frozen=True)
class CacheRequest:
    """Frames wanted from one media file: a video's candidate indices, or [0] for an image."""

    path: str
    content_hash: str
    indices: tuple[int, ...]

    @property
    def key(self) -> str:
        return media_key(self.content_hash, self.indices)


class FeatureCache:
    """Reads and writes pooled vision features under `root/<fingerprint>/`."""

    def __init__(self, root: str | os.PathLike, fingerprint: str):
        self.dir = Path(root) / fingerprint

    def path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.safetensors"

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def get(self, key: str) -> torch.Tensor:
        path = self.path(key)
        if not path.is_file():
            raise KeyError(f"no cached features for {key} in {self.dir} (run `frame-selector cache` first)")
        return load_file(path)["features"]

    def put(self, key: str, features: torch.Tensor) -> None:
        with atomic_path(self.path(key)) as tmp:
            save_file({"features": features.contiguous().cpu()}, tmp)


def load_pixels(request: CacheRequest, size: int) -> np.ndarray:
    """uint8 (n, size, size, 3): video frames resized by the decoder, or one image."""
    if Path(request.path).suffix.lower() in IMAGE_SUFFIXES:
        with Image.open(request.path) as image:
            return np.array(image.convert("RGB").resize((size, size), Image.BICUBIC))[None]
    return read_frames(request.path, request.indices, size=(size, size))


def build_cache(
    model: FrameSelectorForFrameScoring,
    processor: FrameSelectorProcessor,
    requests: Iterable[CacheRequest],
    root: str | os.PathLike,
    shard: int = 0,
    num_shards: int = 1,
    batch_size: int = 32,
    dtype: torch.dtype = torch.float16,
    progress: bool = True,
) -> dict[str, int]:
    """Encode every request of this shard that is not cached yet; bad media are recorded in
    `failures.jsonl` and skipped."""
    cache = FeatureCache(root, vision_fingerprint(model, processor))
    size = model.config.vision_config.image_size
    unique = {r.key: r for r in requests}
    mine = [r for key, r in sorted(unique.items()) if int(key[:8], 16) % num_shards == shard]
    todo = [r for r in mine if r.key not in cache]
    counts = {"requests": len(mine), "cached_before": len(mine) - len(todo), "encoded": 0, "failed": 0}
    # The next media are decoded while the tower encodes this one (selector.prefetch).
    loaded = decode_ahead(todo, lambda request: load_pixels(request, size))
    for request, pixels in tqdm(loaded, total=len(todo), desc=f"features shard {shard}/{num_shards}", disable=not progress,
                                unit="video"):
        try:
            features = encode_frames(model, processor, pixels.result(), batch_size)
        except Exception as error:  # noqa: BLE001 - one bad file must not stop the job
            counts["failed"] += 1
            cache.dir.mkdir(parents=True, exist_ok=True)
            with (cache.dir / f"failures-shard-{shard:05d}.jsonl").open("a") as handle:
                handle.write(json.dumps({"path": request.path, "error": " ".join(str(error).split())}) + "\n")
            log.warning("%s: %s", request.path, error)
            continue
        cache.put(request.key, features.to(dtype))
        counts["encoded"] += 1
    return counts


__all__ = ["FeatureCache", "CacheRequest", "build_cache", "vision_fingerprint", "media_key", "load_pixels"]
