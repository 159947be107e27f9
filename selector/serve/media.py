"""Where a request's video comes from, and what the proxy refuses to open.

A `video_url` may be:

* a local file: `file:///abs/path`, an absolute path or one relative to `--media-root`. Without
  `--media-root` no local file is opened. The path is resolved (`..` and every symlink followed)
  before it is checked, so `../`, absolute paths elsewhere and symlinks pointing out of the root
  are all refused alike, with a 403 that does not say whether the file exists;
* `data:video/...;base64,...`: written to a private temporary file for the request;
* `http(s)://...`: only when the URL starts with an `--allow-url-prefix`; fetched without
  following redirects (a redirect could leave the allowed prefixes), at most `max_bytes`.

Nothing else is fetched: the proxy never touches the network for a video unless told to.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .errors import bad_request, forbidden, too_large

_DATA_URL = re.compile(r"data:(video/[\w.+-]+)(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.IGNORECASE)
_SUFFIX = {"video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov", "video/x-matroska": ".mkv"}


@dataclass(frozen=True)
class LocalVideo:
    """A request's video as a file the decoder can open; `temporary` files are the proxy's own
    (a data URL or a download) and are removed with `discard` when the request is done."""

    path: str
    temporary: bool = False

    def discard(self) -> None:
        if self.temporary:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


@dataclass(frozen=True)
class MediaPolicy:
    """What a request may point at: files under `root` (None: no local files), URLs under
    `url_prefixes`, videos of at most `max_bytes` (downloads; data URLs are bounded by the body
    cap), temporary files in `spool` (None: the system's temporary directory)."""

    root: str | None = None
    url_prefixes: tuple[str, ...] = ()
    max_bytes: int = 64 << 20
    spool: str | None = None

    @classmethod
    def build(cls, root: str | None, url_prefixes: Sequence[str], max_bytes: int, spool: str | None = None) -> MediaPolicy:
        """A policy with its root resolved once and its prefixes checked (startup errors)."""
        if root is not None:
            if not os.path.isdir(root):
                raise ValueError(f"--media-root {root}: not a directory")
            root = os.path.realpath(root)
        for prefix in url_prefixes:
            parts = urlsplit(prefix)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"--allow-url-prefix {prefix!r}: give an http:// or https:// URL with a host")
        return cls(root, tuple(url_prefixes), int(max_bytes), spool)

    def local_path(self, reference: str) -> str:
        """The real path of a `file://` URL or plain path, if it lies under the media root."""
        if reference.lower().startswith("file://"):
            parts = urlsplit(reference)
            if parts.netloc not in ("", "localhost"):
                raise bad_request(f"file URL with host {parts.netloc!r}: only local files are read")
            reference = unquote(parts.path)
        if "\x00" in reference:
            raise bad_request("video path contains a NUL byte")
        if self.root is None:
            raise forbidden("local video paths are off: start the proxy with --media-root DIR to serve files under DIR")
        candidate = reference if os.path.isabs(reference) else os.path.join(self.root, reference)
        real = os.path.realpath(candidate)
        if os.path.commonpath([real, self.root]) != self.root:
            raise forbidden("video path is outside the media root (after resolving '..' and symlinks)")
        if not os.path.isfile(real):
            raise bad_request(f"video {reference!r} not found under the media root", code="video_not_found")
        return real

    def _spool(self, data: bytes, suffix: str) -> LocalVideo:
        handle, path = tempfile.mkstemp(prefix="frame-selector-", suffix=suffix, dir=self.spool)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        return LocalVideo(path, temporary=True)

    def data_url(self, url: str) -> LocalVideo:
        """A `data:video/...;base64,` URL written to a temporary file."""
        match = _DATA_URL.match(url)
        if not match:
            raise bad_request("data URL must be data:video/<type>;base64,<data>")
        try:
            data = base64.b64decode(url[match.end():], validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("data URL is not valid base64") from None
        if not data:
            raise bad_request("data URL holds no bytes")
        return self._spool(data, _SUFFIX.get(match.group(1).lower(), ".bin"))

    def allowed_url(self, url: str) -> bool:
        return any(url.startswith(prefix) for prefix in self.url_prefixes)

    async def fetch(self, url: str, session) -> LocalVideo:  # session: aiohttp.ClientSession
        """Download an allowed URL (no redirects, at most `max_bytes`)."""
        import asyncio

        import aiohttp

        if not self.allowed_url(url):
            raise forbidden("http(s) video URLs are off unless --allow-url-prefix names them", code="url_not_allowed")
        try:
            async with session.get(url, allow_redirects=False) as response:
                if response.status != 200:
                    raise bad_request(f"fetching the video URL gave HTTP {response.status}", code="video_fetch_failed")
                data = bytearray()
                async for chunk in response.content.iter_chunked(1 << 16):
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise too_large(f"the video at the URL is over {self.max_bytes} bytes (--max-body-mb)")
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise bad_request(f"fetching the video URL failed: {type(error).__name__}", code="video_fetch_failed") from None
        suffix = os.path.splitext(urlsplit(url).path)[1][:8] or ".bin"
        return await asyncio.to_thread(self._spool, bytes(data), suffix)

    async def open(self, reference: str, session) -> LocalVideo:
        """The request's video as a local file, whatever form the reference takes."""
        import asyncio

        scheme = reference.split(":", 1)[0].lower() if ":" in reference else ""
        if scheme == "data":
            return await asyncio.to_thread(self.data_url, reference)
        if scheme in ("http", "https"):
            return await self.fetch(reference, session)
        if scheme in ("", "file") or os.path.isabs(reference):
            return LocalVideo(await asyncio.to_thread(self.local_path, reference))
        raise bad_request(f"video URL scheme {scheme!r} is not served (file, data, or allowed http(s))")


__all__ = ["LocalVideo", "MediaPolicy"]
