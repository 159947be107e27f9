"""Backends that send one frame per request (the spatial scorer, the captioner).

A frame goes as a JPEG data URL followed by the text, the order Qwen2-VL was trained with; the
frames of one call go concurrently, at most `concurrency` requests in flight, and come back in
frame order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, TypeVar

import numpy as np

from selector.handoff import jpeg_base64

from .backend import OpenAIBackend

T = TypeVar("T")
R = TypeVar("R")


def encode_jpeg_data_url(frame: np.ndarray, quality: int = 90) -> str:
    """An RGB uint8 (H, W, 3) frame as a `data:image/jpeg;base64,...` URL."""
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 (H, W, 3) frame, got {frame.dtype} {frame.shape}")
    return "data:image/jpeg;base64," + jpeg_base64(frame, quality)


def image_message(image_url: str, text: str) -> list[dict[str, Any]]:
    """One user turn: the image first, then the text (the order Qwen2-VL was trained with)."""
    return [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": image_url}},
                {"type": "text", "text": text},
            ],
        }
    ]


def _map_ordered(fn: Callable[[int, T], R], items: Sequence[T], concurrency: int, name: str) -> list[R]:
    """`[fn(i, x) for i, x in enumerate(items)]` on at most `concurrency` threads, results in
    order. The first failure (in item order, among those done) is raised once the requests already
    in flight have finished; requests not started yet are cancelled."""
    n = len(items)
    if n == 0:
        return []
    workers = max(1, min(int(concurrency), n))
    if workers == 1:
        return [fn(i, x) for i, x in enumerate(items)]
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    try:
        futures = [pool.submit(fn, i, x) for i, x in enumerate(items)]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future.done() and not future.cancelled() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class FrameBackend(OpenAIBackend):
    """A backend that sends one frame per request, several requests at a time.

    Its own settings: `concurrency` (requests in flight) and `jpeg_quality`; the rest are
    `OpenAIBackend`'s, passed through as keywords.
    """

    def __init__(self, model: str, *, concurrency: int = 8, jpeg_quality: int = 90, **settings: Any) -> None:
        super().__init__(model, **settings)
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.concurrency = int(concurrency)
        self.jpeg_quality = int(jpeg_quality)

    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "concurrency": self.concurrency, "jpeg_quality": self.jpeg_quality, "temperature": 0.0}

    def _map_frames(self, frames: Sequence[np.ndarray], ask: Callable[[int, str], R]) -> list[R]:
        """`ask(i, image_url)` for every frame, concurrently, results in frame order (the JPEG
        encoding runs in the worker threads too)."""
        return _map_ordered(
            lambda i, frame: ask(i, encode_jpeg_data_url(frame, self.jpeg_quality)), list(frames), self.concurrency, self.kind
        )


__all__ = ["FrameBackend", "encode_jpeg_data_url", "image_message"]
