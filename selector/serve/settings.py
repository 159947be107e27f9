"""`frame-selector serve`'s options (`ServeSettings`, read by `selector.cli_support`); the command
itself is `command.cmd_serve`.

This module imports neither aiohttp nor torch: `frame-selector --help` and the other commands must
work where the `serve` extra is not installed, and `app` reads these settings without importing the
command that builds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..cli_support import Dtype, UsageError
from ..compiling import COMPILE_HELP, Compile

INSTALL_HINT = "frame-selector serve needs aiohttp and prometheus_client: pip install frame-selector[serve]"


@dataclass
class ServeSettings:
    """What `frame-selector serve` selects with, forwards to, and refuses."""

    selector: str = field(metadata={"help": "selector directory (frame-selector init / train output)"})
    upstream: str = field(metadata={"help": "base URL of the OpenAI-compatible video LLM server, e.g. http://localhost:8000/v1"})
    route: Literal["openai", "vllm_video"] = field(default="openai", metadata={
        "help": "hand-off: openai (each frame as an image after its true time; any server) or vllm_video (one "
                "video/jpeg data URL with the source clock in media_io_kwargs; newer vLLM, Qwen3-VL)"})
    k: int = field(default=8, metadata={"help": "frames chosen per request (a request may override it)"})
    candidates: str = field(default="128", metadata={"help": "N, uniform:N or fps[:RATE[:MIN:MAX]] (default 128)"})
    rule: Literal["nms", "topk", "uniform"] = "nms"
    media_root: str | None = field(default=None, metadata={
        "help": "serve local video files under this directory only (default: no local files)"})
    allow_url_prefix: list[str] = field(default_factory=list, metadata={
        "repeat": True, "metavar": "URL", "help": "fetch http(s) videos whose URL starts with this (repeatable; default: none)"})
    host: str = "127.0.0.1"
    port: int = 8100
    token_env: str | None = field(default=None, metadata={
        "metavar": "NAME", "help": "require 'Authorization: Bearer $NAME' from clients (the token is read from this "
                                   "environment variable, never from the command line)"})
    upstream_key_env: str = field(default="UPSTREAM_API_KEY", metadata={
        "metavar": "NAME", "help": "environment variable with upstream's API key (unset: the placeholder EMPTY, which keyless servers take)"})
    upstream_timeout: float = field(default=300.0, metadata={"help": "seconds to wait for upstream's answer"})
    upstream_retries: int = field(default=0, metadata={
        "help": "retries of a failed upstream call (default 0: clients retry a 502/504 themselves)"})
    max_body_mb: float = field(default=64.0, metadata={"help": "largest request body (and downloaded video), MB: else 413"})
    max_duration: float = field(default=3600.0, metadata={"help": "longest video, seconds: else 413"})
    max_in_flight: int = field(default=64, metadata={"help": "chat requests served at once: more get 429"})
    cache_videos: int = field(default=32, metadata={"help": "videos whose probe and frame prefix are kept (LRU; 0: none)"})
    max_batch: int = field(default=32, metadata={"help": "requests scored in one micro-batch at most (1: one at a time)"})
    batch_window_ms: float = field(default=2.0, metadata={"help": "how long a lone request waits for company"})
    decode_threads: int = field(default=2, metadata={"help": "threads decoding videos and encoding the chosen frames"})
    trim_interval: float = field(default=1.0, metadata={
        "help": "seconds between handing freed memory back to the kernel (glibc's malloc_trim; 0: never)"})
    max_side: int = field(default=768, metadata={"help": "longer side of the frames sent upstream (never upscaled)"})
    device: str | None = field(default=None, metadata={"help": "cpu, cuda, cuda:1 ... (default: cuda if available)"})
    dtype: Dtype | None = field(default=None, metadata={
        "help": "default: bfloat16 on cuda, float32 on cpu"})
    compile: Compile = field(default="off", metadata={"help": COMPILE_HELP + " (default off until it is measured on a GPU)"})

    def check(self) -> None:
        """One-line errors for values no server could run with, before anything loads."""
        for name, value, minimum in (("--k", self.k, 1), ("--max-in-flight", self.max_in_flight, 1),
                                     ("--max-batch", self.max_batch, 1), ("--decode-threads", self.decode_threads, 1),
                                     ("--cache-videos", self.cache_videos, 0), ("--upstream-retries", self.upstream_retries, 0),
                                     ("--max-side", self.max_side, 16), ("--port", self.port, 0)):
            if value < minimum:
                raise UsageError(f"{name} must be >= {minimum}, got {value}")
        for name, value in (("--upstream-timeout", self.upstream_timeout), ("--max-body-mb", self.max_body_mb),
                            ("--max-duration", self.max_duration)):
            if not value > 0:
                raise UsageError(f"{name} must be > 0, got {value}")
        for name, value in (("--batch-window-ms", self.batch_window_ms), ("--trim-interval", self.trim_interval)):
            if value < 0:
                raise UsageError(f"{name} must be >= 0, got {value}")
        if not self.upstream.startswith(("http://", "https://")):
            raise UsageError(f"--upstream must be an http(s) URL, not {self.upstream!r}")

    @property
    def max_bytes(self) -> int:
        return int(self.max_body_mb * (1 << 20))


__all__ = ["INSTALL_HINT", "ServeSettings"]
