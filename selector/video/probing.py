"""Probing a video: one demux pass for every frame's presentation time, the keyframes and the
display size, and the errors that name a video that cannot be read."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np
import xxhash
from av.stream import Discard, Disposition

log = logging.getLogger(__name__)


class VideoError(Exception):
    """One error type for every unreadable video, so callers can skip a bad file with one clause.

    ``str(e) == f"{path}: {reason}"`` on one line, ready for a log.
    """

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self) -> tuple[type[VideoError], tuple[str, str]]:
        # Data-loader workers pickle exceptions; the default would call __init__ with one argument.
        return (type(self), (self.path, self.reason))


@dataclass(frozen=True)
class VideoInfo:
    """What the rest of the package needs to know about a video, from one cheap probe.

    Attributes:
        path: the file.
        stream_index: the decoded video stream (FFmpeg's best video stream).
        codec: the codec's canonical FFmpeg name (``h264``, ``hevc``, ``av1``, ``vp9``, ...).
        timestamps: float64 seconds, presentation time of every frame in presentation order,
            from the container start (a stream that starts later keeps its offset).
        duration: end of the last frame (its time plus its duration), from the container start.
        fps: frames / span of the frames; a description for records, not a clock.
        width, height: display size, after the sample aspect ratio and the rotation.
        rotation: degrees as PyAV reports them (0, 90, -90 or 180).
        keyframes: ascending indices of the frames decoding can start from. ``None`` on an info
            built by hand; ``read_frames`` then probes the file again to find them.
    """

    path: str
    stream_index: int
    codec: str
    timestamps: np.ndarray = field(compare=False, repr=False)
    duration: float
    fps: float
    width: int
    height: int
    rotation: int
    keyframes: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def num_frames(self) -> int:
        return len(self.timestamps)


@contextlib.contextmanager
def _av_errors(path: str, doing: str) -> Iterator[None]:
    """Turn FFmpeg's errors into ``VideoError`` so callers handle bad files with one clause."""
    try:
        yield
    except av.error.FFmpegError as e:
        raise VideoError(path, f"{doing} failed: {e.strerror or e}") from e
    except (OSError, EOFError, MemoryError) as e:
        raise VideoError(path, f"{doing} failed: {e}") from e


def _open(path: str) -> av.container.InputContainer:
    """Open a container, saying in the error which of the common reasons applies."""
    if not os.path.exists(path):
        raise VideoError(path, "file not found")
    if not os.path.isfile(path):
        raise VideoError(path, "not a regular file")
    if os.path.getsize(path) == 0:
        raise VideoError(path, "empty file (0 bytes)")
    with _av_errors(path, "opening as a media file"):
        # Undecodable metadata text must not make an otherwise good video unreadable.
        return av.open(path, "r", metadata_errors="replace")


def _video_stream(container: av.container.InputContainer, path: str) -> av.video.stream.VideoStream:
    stream = container.streams.best("video")
    # A cover picture (e.g. album art in an audio file) is a "video" stream of one still image.
    if stream is None or stream.disposition & Disposition.attached_pic:
        raise VideoError(path, "no video stream")
    if stream.codec_context is None:
        raise VideoError(path, f"no decoder for the video codec (stream {stream.index})")
    # Only this stream's packets are needed; mp4 then skips reading the others' bytes.
    for other in container.streams:
        if other.index != stream.index:
            other.discard = Discard.all
    return stream


def _check_complete(stream: av.video.stream.VideoStream, path: str) -> None:
    """Reject an mp4 whose index points past the end of the file (cut-off download or copy).

    The demuxer would silently hand out the samples that are still there, and decoding would fail
    (or return nothing) only when a caller asks for a frame from the missing part.
    """
    size = os.path.getsize(path)
    end = max((e.pos + e.size for e in stream.index_entries), default=0)
    if end > size:
        raise VideoError(path, f"truncated: the index needs {end} bytes, the file has {size}")


def _display_size(width: int, height: int, sar: Fraction | None, rotation: int) -> tuple[int, int]:
    if sar is not None and sar > 0:
        width = max(1, round(width * sar))
    return (height, width) if rotation % 180 else (width, height)


def _normalise_rotation(degrees: float) -> int:
    quarter = round(degrees / 90) % 4
    return (0, 90, 180, -90)[quarter]


@dataclass
class _Scan:
    """Raw per-frame data of one pass, in stream time-base units.

    ``keyframe_pts`` is ``None`` when seeking cannot be trusted (frames without pts), so that
    ``read_frames`` always decodes from the start and counts frames.
    """

    pts: list[int] = field(default_factory=list)
    durations: list[int] = field(default_factory=list)
    keyframe_pts: list[int] | None = field(default_factory=list)
    first: av.VideoFrame | None = None


def _scan_packets(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                  path: str) -> _Scan | None:
    """Timestamps from the packets alone; ``None`` when some packet carries no pts."""
    scan = _Scan()
    codec = stream.codec_context
    with _av_errors(path, "reading packets"):
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's end-of-stream marker, or an empty (dropped) frame
                continue
            if packet.pts is None:
                return None
            if packet.is_keyframe:
                scan.keyframe_pts.append(packet.pts)
            # Discard-flagged packets (before an mp4 edit list starts) decode to no frame.
            if not packet.is_discard:
                scan.pts.append(packet.pts)
                scan.durations.append(packet.duration or 0)
            if scan.first is None:
                scan.first = next(iter(codec.decode(packet)), None)
        if scan.first is None:
            scan.first = next(iter(codec.decode(None)), None)
    return scan


def _scan_frames(path: str, stream_index: int) -> _Scan:
    """Timestamps from decoded frames, for streams whose packets carry no pts.

    The decoder then mostly has no pts either; like FFmpeg's best-effort timestamp, the frame's
    dts stands in for it.
    """
    log.info("%s: packets without pts, decoding every frame for the timestamps", path)
    scan = _Scan(keyframe_pts=None)
    container = _open(path)
    with container, _av_errors(path, "decoding"):
        stream = container.streams[stream_index]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            pts = frame.pts if frame.pts is not None else frame.dts
            if pts is None:
                raise VideoError(path, "the video has no timestamps (a raw stream?); remux it into a container")
            if scan.first is None:
                scan.first = frame
            scan.pts.append(pts)
            scan.durations.append(frame.duration or 0)
    return scan


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read what frame selection needs without decoding the video.

    Raises:
        VideoError: the file is missing, empty, not a media file, truncated, has no video
            stream or no decodable frame.
    """
    path = os.fspath(path)
    container = _open(path)
    with container:
        stream = _video_stream(container, path)
        _check_complete(stream, path)
        time_base = float(stream.time_base)
        start = container.start_time / av.time_base if container.start_time is not None else 0.0
        scan = _scan_packets(container, stream, path) or _scan_frames(path, stream.index)
        if not scan.pts or scan.first is None:
            raise VideoError(path, "no decodable video frame")
        order = np.argsort(np.asarray(scan.pts, dtype=np.int64), kind="stable")
        pts = np.asarray(scan.pts, dtype=np.int64)[order]
        if len(pts) > 1 and not np.all(np.diff(pts)):
            # Seen with MPEG-PS holding several small frames per PES packet: the demuxer and the
            # decoder then disagree on which frame has which pts.
            log.warning("%s: several frames share a timestamp; frame-exact reads are not guaranteed", path)
        last_duration = scan.durations[order[-1]]
        if last_duration <= 0:
            last_duration = float(np.median(np.diff(pts))) if len(pts) > 1 else _nominal_duration(stream)
        timestamps = pts * time_base - start
        duration = float((pts[-1] + last_duration) * time_base - start)
        span = duration - float(timestamps[0])
        fps = len(pts) / span if span > 0 else float(stream.average_rate or 0)
        if scan.keyframe_pts is None:
            keyframes = np.zeros(1, dtype=np.int64)
        else:
            keyframes = np.unique(np.searchsorted(pts, np.asarray(scan.keyframe_pts, dtype=np.int64)))
            keyframes = keyframes[keyframes < len(pts)]
        rotation = _normalise_rotation(scan.first.rotation)
        sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
        width, height = _display_size(scan.first.width, scan.first.height, sar, rotation)
        codec = stream.codec_context.codec.canonical_name
        stream_index = stream.index
    timestamps.flags.writeable = False
    keyframes.flags.writeable = False
    return VideoInfo(path=path, stream_index=stream_index, codec=codec, timestamps=timestamps,
                     duration=duration, fps=fps, width=width, height=height, rotation=rotation,
                     keyframes=keyframes)


def content_hash(path: str | os.PathLike) -> str:
    """xxh3-128 of the whole file: the identity of a video's content for caches and provenance
    (a renamed file keeps it, an edited one does not), computed at GB/s."""
    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _nominal_duration(stream: av.video.stream.VideoStream) -> float:
    """One frame period in time-base units, for a single-frame video whose packet has no duration."""
    rate = stream.average_rate or stream.guessed_rate
    return float(1 / (rate * stream.time_base)) if rate else 0.0
