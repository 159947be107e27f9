"""Video probing and frame decoding.

Every frame the package handles is named by its index in presentation order and carries the
container's presentation time, so a selection made on decoded pixels can be mapped back to the
moment it was shown, also on variable-frame-rate video where ``index / fps`` drifts.

* ``probe`` reads the timestamps from one demux pass over the packets of FFmpeg's best video
  stream (no decoding, about 70 ms for a 10-minute, 215 MB clip) and decodes one frame for the
  rotation and the coded size.
* ``read_frames`` decodes the requested indices, resized by the scaler and turned upright, and
  raises when a frame cannot be had exactly; ``decode_frames`` hands over the frame shown before
  it instead, and says which frames are such substitutes. Runs of indices that share a keyframe
  are decoded by parallel threads, each with its own decoder (``default_workers``).

Backend policy for ``backend="auto"``: PyAV, always. Measured with ``frame-selector bench decode``
(2 cores, PyAV 18.1, decord 0.6, 256x256 output), correctness first:

* decord's random access is not frame-exact when GOPs are open: 14 of 128 sorted and 3 of 32
  random reads were the wrong frame on an open-GOP H.264 clip (GOP 15, B-pyramid), 18 of 32 on
  the HEVC test file; closed-GOP H.264 and VP8 were exact. Containers do not flag open GOPs,
  and broadcast and camera encoders use them, so no codec rule makes decord safe.
* PyAV was exact on every file and never slower: time pyav/decord 0.53 on a 10-minute
  640x360 H.264 clip (128 sorted indices 2.9 s vs 5.4 s, 32 random 0.71 s vs 1.35 s), 0.65-1.0
  on the other files.
* decord also cannot open the AV1 test file, ignores the sample aspect ratio, fails on some
  resizes of rotated video, and has wheels for Linux x86_64 only.

``backend="decord"`` stays available for comparison; it falls back to PyAV (logged, never
raised) when decord is missing, fails, or counts a different number of frames.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import operator
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np
import xxhash
from av.stream import Discard, Disposition
from av.video.reformatter import VideoReformatter

log = logging.getLogger(__name__)

BACKENDS = ("auto", "decord", "pyav")
# Decoding this many frames is cheaper than a seek (demuxer jump, decoder flush, refilling the
# decoder's threads): on dense reads a threshold of 4 cut seeks from 128 to 1 and time by 40%.
_SEEK_GAP = 4
# Frames on the way to a wanted frame that no other frame refers to (most B-frames) are not
# decoded at all: FFmpeg's skip_frame=NONREF, set packet by packet (codecs that cannot tell
# ignore it). 128 candidates of a 10-minute 720p H.264 clip (GOP 250, 2 B-frames): see
# `frame-selector bench decode`. libdav1d (AV1) reads skip_frame once, when it opens, and then
# drops every non-reference frame, wanted or not (every other frame of SVT-AV1's mini-GOPs):
# the decoder is therefore opened before the first packet sets it, so such decoders never skip.
_SKIP_NONREF = True


class _SkipUnsafe(Exception):
    """A packet without pts after skipped ones: counting frames would go wrong; decode all."""


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


class _Decoder:
    """Forward-only PyAV decoding that jumps (seeks) only when a jump skips work.

    A target is decoded from the last keyframe at or before it. While decoding is no more than
    ``_SEEK_GAP`` frames short of that keyframe, continuing costs less than seeking, so the
    decoder keeps going; otherwise it seeks. Decoded frames are matched to indices by pts, which
    makes the result independent of where the demuxer lands and of what the decoder outputs
    around the seek point.
    """

    def __init__(self, info: VideoInfo, keyframes: np.ndarray, num_threads: int,
                 wanted: np.ndarray | None = None) -> None:
        self.info = info
        self.keyframes = keyframes
        self.num_threads = num_threads
        self.wanted = wanted  # indices whose frames are returned; None: skip nothing
        self.container: av.container.InputContainer | None = None
        self.frames: Iterator[tuple[int, av.VideoFrame]] | None = None
        self.peeked: tuple[int, av.VideoFrame] | None = None
        self.last = -1  # index of the last frame taken since the last (re)start
        self.previous: av.VideoFrame | None = None
        self.anchor: int | None = None  # after a seek: the keyframe's index, until it shows up
        self.substituted: list[int] = []  # targets handed over as the frame shown before them

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None

    def _open(self) -> None:
        self.close()
        self.container = _open(self.info.path)
        try:
            self.stream = self.container.streams[self.info.stream_index]
        except IndexError:
            raise VideoError(self.info.path, f"no stream {self.info.stream_index}") from None
        if self.stream.type != "video":
            raise VideoError(self.info.path, f"stream {self.info.stream_index} is not video")
        for other in self.container.streams:
            if other.index != self.stream.index:
                other.discard = Discard.all
        self.stream.thread_type = "AUTO"
        self.stream.codec_context.thread_count = self.num_threads
        self.stream.codec_context.open(strict=False)  # before _decode sets skip_frame: see _SKIP_NONREF
        start = self.container.start_time / av.time_base if self.container.start_time is not None else 0.0
        seconds = np.asarray(self.info.timestamps) + start
        self.pts = np.rint(seconds / float(self.stream.time_base)).astype(np.int64)
        self.keep = None if self.wanted is None or not _SKIP_NONREF else set(self.pts[self.wanted].tolist())

    def _restart(self, kpos: int, reopen: bool = False) -> None:
        """Continue from keyframe ``self.keyframes[kpos]``; from the very start if there is none.

        ``reopen``: with a fresh decoder, which forgets settings a decoder reads only when it opens.
        """
        from_start = kpos < 0 or self.keyframes[kpos] == 0
        if from_start or reopen or self.container is None:
            self._open()
            if not from_start:
                self._prime()
        if not from_start:
            try:
                target = int(self.pts[self.keyframes[kpos]])
                self.container.seek(target, backward=True, any_frame=False, stream=self.stream)
            except av.error.FFmpegError as e:  # not seekable: reopening is the only way back
                log.info("%s: seek failed (%s), decoding from the start", self.info.path, e)
                from_start = True
                self._open()
        self.frames = self._indexed(self._decode(), from_start)
        self.peeked, self.last, self.previous = None, -1, None
        self.anchor = None if from_start else int(self.keyframes[kpos])

    def _prime(self) -> None:
        """Decode up to the first frame of the file before a fresh decoder's first seek.

        Parameter sets sent in the stream (H.264 SPS/PPS that differ from the container's copy)
        then reach the decoder as on a pass from the start; without them the keyframe at frame 76
        of imageio__cockatoo.mp4 decoded to garbage, flagged corrupt. Costs a frame or two.
        """
        codec = self.stream.codec_context
        for packet in self.container.demux(self.stream):
            if codec.decode(packet):
                return

    def _decode(self) -> Iterator[av.VideoFrame]:
        """Decoded frames from the current position, non-reference frames that are not wanted
        skipped by the decoder (they shape no other frame, so every returned frame is exact)."""
        codec = self.stream.codec_context
        skipped = False
        for packet in self.container.demux(self.stream):
            if self.keep is not None:
                if packet.pts is None:
                    if skipped and packet.size:  # frames would be indexed by count (see _indexed)
                        raise _SkipUnsafe
                    codec.skip_frame = "DEFAULT"
                else:
                    skip = packet.pts not in self.keep
                    codec.skip_frame = "NONREF" if skip else "DEFAULT"
                    skipped |= skip
            yield from codec.decode(packet)

    def _indexed(self, frames: Iterator[av.VideoFrame], from_start: bool) -> Iterator[tuple[int, av.VideoFrame]]:
        """Index frames by pts; a frame without pts (see ``_scan_frames``) by its count from the start."""
        for count, frame in enumerate(frames):
            if frame.pts is None:
                if from_start:
                    yield count, frame
                continue
            i = int(np.searchsorted(self.pts, frame.pts))
            if i < len(self.pts) and self.pts[i] == frame.pts:
                yield i, frame

    def frame_at(self, target: int) -> av.VideoFrame:
        """The frame shown at ``timestamps[target]``; targets must come in ascending order.

        A target that does not come out is decoded once more, from the keyframe before its own and
        without skipping: that recovers frames a decoder dropped while skipping and frames whose
        keyframe is no true entry point. Only a frame that fails then too (damaged or dropped
        in the file) is replaced by the frame shown before it, and listed in ``substituted``.
        """
        kpos = int(np.searchsorted(self.keyframes, target, side="right")) - 1
        if self.frames is None or (kpos >= 0 and self.keyframes[kpos] > self.last + _SEEK_GAP):
            self._restart(kpos)
        retried = False
        while True:
            if self.peeked is None:
                self.peeked = next(self.frames, None)
            if self.anchor is not None:  # the first frame from the keyframe on must be the keyframe
                if self.peeked is not None and self.peeked[0] < self.anchor:
                    self.peeked = None  # shown before the keyframe, may need frames before the seek point
                    continue
                if self.peeked is None or self.peeked[0] > self.anchor:
                    # The seek landed after the keyframe (common with MPEG-TS, where seeking
                    # searches timestamps in the byte stream): try one keyframe earlier.
                    kpos -= 1
                    self._restart(kpos)
                    continue
                self.anchor = None
            if (self.peeked is None or self.peeked[0] > target) and not retried:
                log.info("%s: frame %d did not come out; decoding again from an earlier keyframe, every frame",
                         self.info.path, target)
                retried = True
                # From now on every frame, by a fresh decoder: one that lost a wanted frame while
                # skipping cannot be trusted to tell reference frames apart.
                self.wanted = None
                kpos = max(kpos - 1, -1)
                self._restart(kpos, reopen=True)
                continue
            if self.peeked is None:
                raise VideoError(self.info.path, f"frame {target} is missing: decoding ended after frame "
                                 f"{self.last} (truncated or damaged file)")
            index, frame = self.peeked
            if index > target:
                # The decoder produced no picture for this pts (damaged or dropped frame): what a
                # player shows at that time is the frame before it.
                stand_in = self.last if self.previous is not None else index
                log.warning("%s: frame %d did not decode; frame %d stands in for it, marked as a substitute",
                            self.info.path, target, stand_in)
                self.substituted.append(target)
                return self.previous if self.previous is not None else frame
            self.peeked = None
            self.last, self.previous = index, frame
            if index == target:
                return frame


def _runs(keyframes: np.ndarray, unique: np.ndarray) -> list[slice]:
    """Split ascending targets where the serial decoder seeks: each run starts at a keyframe and
    is decoded on from there, so runs decode independently and give the serial path's frames."""
    if not len(keyframes):
        return [slice(0, len(unique))]
    kpos = np.searchsorted(keyframes, unique, side="right") - 1
    entry = np.where(kpos >= 0, keyframes[np.maximum(kpos, 0)], 0)
    starts = [0] + [j for j in range(1, len(unique)) if entry[j] > unique[j - 1] + _SEEK_GAP]
    return [slice(a, b) for a, b in zip(starts, starts[1:] + [len(unique)])]


def _read_pyav(info: VideoInfo, keyframes: np.ndarray, unique: np.ndarray, width: int, height: int,
               num_threads: int | None, workers: int) -> tuple[np.ndarray, list[int]]:
    """The frames of ``unique`` (ascending) and those of them that are substitutes.

    Runs (see ``_runs``) go to up to ``workers`` threads in ascending order, each thread with its
    own container and decoder: PyAV releases the GIL while FFmpeg decodes and scales (two threads
    decoding gave 2.0x the frames of one on 2 cores). A thread takes the next run when it is done,
    so a run far from its keyframe does not hold the others up.
    """
    quarter_turns = round(info.rotation / 90) % 4
    scale_w, scale_h = (height, width) if quarter_turns % 2 else (width, height)
    out = np.empty((len(unique), height, width, 3), dtype=np.uint8)
    runs = _runs(keyframes, unique)
    for wanted in (unique, None):  # None: again without skipping, for streams where that is unsafe
        used = max(1, min(workers, len(runs))) if wanted is not None else 1
        threads = num_threads if num_threads is not None else max(1, _default_threads() // used)
        taken = itertools.count()  # next() on a count is atomic: each run goes to one thread
        failed: list[bool] = []  # a thread that fails stops the others taking more runs

        def work() -> list[int]:
            decoder = _Decoder(info, keyframes, threads, wanted)
            # One scaler per thread for all its frames: frame.to_ndarray(width=...) builds a new
            # one per frame, which took 2.3x longer on 1080p input.
            scaler = VideoReformatter()
            try:
                with _av_errors(info.path, "decoding"):
                    while not failed and (r := next(taken)) < len(runs):
                        for j in range(runs[r].start, runs[r].stop):
                            frame = scaler.reformat(decoder.frame_at(int(unique[j])), width=scale_w, height=scale_h,
                                                    format="rgb24")
                            rgb = frame.to_ndarray()
                            out[j] = np.rot90(rgb, k=quarter_turns) if quarter_turns else rgb
                return decoder.substituted
            except BaseException:
                failed.append(True)
                raise
            finally:
                decoder.close()

        try:
            if used == 1:
                return out, work()
            with ThreadPoolExecutor(used, thread_name_prefix="decode") as pool:
                pending = [pool.submit(work) for _ in range(used)]
                return out, sorted(i for p in pending for i in p.result())
        except _SkipUnsafe:
            log.info("%s: packets without pts, decoding every frame", info.path)
    raise AssertionError("unreachable")


def _read_decord(info: VideoInfo, unique: np.ndarray, width: int, height: int, num_threads: int) -> np.ndarray | None:
    """decord's batch read, or ``None`` (logged) whenever it cannot be trusted to match PyAV's frames."""
    try:
        import decord
    except ImportError:
        log.info("decord is not installed; decoding %s with PyAV", info.path)
        return None
    try:
        # A fresh reader per call, dropped on return: a long-lived reader keeps decoding in the
        # background and grows in memory (dmlc/decord#197, #208).
        reader = decord.VideoReader(info.path, ctx=decord.cpu(0), width=width, height=height,
                                    num_threads=num_threads)
        if len(reader) != info.num_frames:
            log.warning("%s: decord counts %d frames, the container %d; decoding with PyAV",
                        info.path, len(reader), info.num_frames)
            return None
        batch = reader.get_batch(unique.tolist())
        frames = np.asarray(batch.asnumpy() if hasattr(batch, "asnumpy") else batch)
    except Exception as e:  # decord raises DECORDError, RuntimeError and others; any means "use PyAV"
        log.warning("%s: decord failed (%s); decoding with PyAV", info.path, " ".join(str(e).split())[:200])
        return None
    if frames.shape != (len(unique), height, width, 3) or frames.dtype != np.uint8:
        log.warning("%s: decord returned %s %s; decoding with PyAV", info.path, frames.shape, frames.dtype)
        return None
    return frames


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _default_threads() -> int:
    return min(8, _usable_cores())


WORKERS_ENV = "FRAME_SELECTOR_DECODE_WORKERS"


def default_workers() -> int:
    """Decoding threads for one video: ``$FRAME_SELECTOR_DECODE_WORKERS``, else one per usable core.

    The one setting of parallel decoding, read where it is needed so that every command (select,
    label, cache, eval, lmms-eval) follows it without an option of its own.
    """
    text = os.environ.get(WORKERS_ENV, "").strip()
    if not text:
        return _usable_cores()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{WORKERS_ENV} must be a whole number >= 1, not {text!r}")
    return int(text)


@dataclass(frozen=True)
class DecodedFrames:
    """What ``decode_frames`` hands over: the pixels, and which of them are not the frame named.

    Attributes:
        frames: uint8 ``(len(indices), height, width, 3)``, RGB, in the order of the request.
        substituted: ascending source indices whose frame did not decode even after decoding
            again from an earlier keyframe (damaged or dropped in the file); their rows hold
            the frame shown before them, what a player shows at that time. Empty on an exact read.
    """

    frames: np.ndarray
    substituted: tuple[int, ...] = ()


# Frames decoded ahead (``selector.prefetch``), handed over by ``decode_frames`` when the very same
# request comes: the consumer's code (a chooser, the selector) stays the same with or without it.
_SERVED: ContextVar[dict[tuple, DecodedFrames] | None] = ContextVar("served_frames", default=None)


def _request_key(path: str, indices: Sequence[int], size: tuple[int, int] | None, backend: str) -> tuple:
    return (path, tuple(int(i) for i in indices), None if size is None else (int(size[0]), int(size[1])), backend)


@contextlib.contextmanager
def serving(info: VideoInfo, indices: Sequence[int], size: tuple[int, int] | None, decoded: DecodedFrames,
            backend: str = "auto") -> Iterator[None]:
    """Within the block, ``decode_frames(info, indices, size, backend)`` returns ``decoded`` without
    decoding (frames decoded ahead while the model worked on the video before)."""
    served = dict(_SERVED.get() or {})
    served[_request_key(info.path, indices, size, backend)] = decoded
    token = _SERVED.set(served)
    try:
        yield
    finally:
        _SERVED.reset(token)


def read_frames(video: str | os.PathLike | VideoInfo, indices: Sequence[int],
                size: tuple[int, int] | None = None, backend: str = "auto", *,
                num_threads: int | None = None, workers: int | None = None) -> np.ndarray:
    """Decode frames by presentation index, upright and already at the size the caller needs.

    Every returned frame is the one named; a caller that can use a stand-in for a frame the file
    does not hold intact, and record it as such, calls ``decode_frames`` instead.

    Args: as ``decode_frames``.

    Returns:
        uint8 array ``(len(indices), height, width, 3)``, RGB, in the order of ``indices``.

    Raises:
        VideoError: unreadable video, an index outside ``0 .. num_frames - 1``, or a frame that
            does not decode (damaged or dropped in the file).
        ValueError: an unknown backend or a malformed size (caller bugs, not bad videos).
    """
    decoded = decode_frames(video, indices, size, backend, num_threads=num_threads, workers=workers)
    if decoded.substituted:
        path = video.path if isinstance(video, VideoInfo) else video
        listed = ", ".join(map(str, decoded.substituted))
        raise VideoError(path, f"frames that do not decode (damaged or dropped in the file): {listed}; "
                         "decode_frames hands over the frame shown before each, marked as a substitute")
    return decoded.frames


def decode_frames(video: str | os.PathLike | VideoInfo, indices: Sequence[int],
                  size: tuple[int, int] | None = None, backend: str = "auto", *,
                  num_threads: int | None = None, workers: int | None = None) -> DecodedFrames:
    """Decode frames by presentation index, upright and already at the size the caller needs; a
    frame the file does not hold intact is replaced by the frame shown before it and listed in
    ``substituted`` (and logged as a warning), never handed over silently. Inside ``serving``
    (``selector.prefetch``), the very request decoded ahead is handed over without decoding.

    Args:
        video: a path, or the ``VideoInfo`` of an earlier ``probe`` (saves the demux pass).
        indices: frame indices in presentation order, any order, duplicates allowed.
        size: ``(width, height)`` of the output after rotation; ``None`` = display size. Scaling
            happens in the decoder's scaler, which is much cheaper than resizing full frames.
        backend: ``"auto"`` (PyAV; see the module docstring for why), ``"pyav"`` or ``"decord"``.
        num_threads: FFmpeg threads of each decoder. ``None`` = the usable cores (capped at 8)
            shared among the workers: on 2 cores one decoder with 2 threads was 25% faster than
            FFmpeg's own choice (cores + 1), and more threads only lengthen the pipeline to refill
            after every seek. Pass 1 when several worker processes decode.
        workers: decoders working on the video at once, each from its own keyframes on (runs
            of candidates that share a keyframe; the frames are those one decoder returns).
            ``None`` = ``default_workers()`` (``$FRAME_SELECTOR_DECODE_WORKERS`` or the usable
            cores); never more than the video has runs.

    Raises:
        VideoError: unreadable video, or an index outside ``0 .. num_frames - 1``.
        ValueError: an unknown backend or a malformed size (caller bugs, not bad videos).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if size is not None and (len(size) != 2 or any(operator.index(s) <= 0 for s in size)):
        raise ValueError(f"size must be (width, height) with positive integers, not {size!r}")
    info = video if isinstance(video, VideoInfo) else probe(video)
    wanted = np.asarray([operator.index(i) for i in indices], dtype=np.int64)
    outside = wanted[(wanted < 0) | (wanted >= info.num_frames)]
    if len(outside):
        raise VideoError(info.path, f"frame index {int(outside[0])} out of range: the video has "
                         f"{info.num_frames} frames (0..{info.num_frames - 1})")
    width, height = (int(size[0]), int(size[1])) if size is not None else (info.width, info.height)
    served = (_SERVED.get() or {}).get(_request_key(info.path, wanted.tolist(), size, backend))
    if served is not None:
        return served
    if workers is None:
        workers = default_workers()
    elif operator.index(workers) < 1:
        raise ValueError(f"workers must be >= 1, not {workers!r}")
    unique = np.unique(wanted)
    if not len(unique):
        return DecodedFrames(np.empty((0, height, width, 3), dtype=np.uint8))
    frames, substituted = None, []
    if backend == "decord":
        frames = _read_decord(info, unique, width, height, num_threads or _default_threads())
    if frames is None:
        keyframes = info.keyframes if info.keyframes is not None else probe(info.path).keyframes
        frames, substituted = _read_pyav(info, keyframes, unique, width, height, num_threads, workers)
    return DecodedFrames(frames[np.searchsorted(unique, wanted)], tuple(substituted))
