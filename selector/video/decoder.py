"""Exact decoding of chosen frames from one container: forward decoding that seeks only when a
jump saves work, skips frames nothing refers to, and recovers a frame a decoder lost."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np
from av.stream import Discard

from .probing import VideoError, VideoInfo, _open, _scan_frames

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class DecodeOptions:
    """How the PyAV decoder gets from one wanted frame to the next. The defaults are what every
    command uses; the other values are there to be measured against them
    (`frame-selector bench decode`). Every setting returns the same frames; only the work differs.

    Attributes:
        seek_gap: frames the decoder decodes on through rather than seek. Decoding this many
            frames is cheaper than a seek (demuxer jump, decoder flush, refilling the decoder's
            threads): on dense reads a gap of 4 cut seeks from 128 to 1 and time by 40%.
            ``float("inf")`` never seeks (sequential decoding up to the last wanted frame),
            ``float("-inf")`` seeks before every wanted frame.
        skip_nonref: frames on the way to a wanted frame that no other frame refers to (most
            B-frames) are not decoded at all: FFmpeg's skip_frame=NONREF, set packet by packet
            (codecs that cannot tell ignore it). libdav1d (AV1) reads skip_frame once, when it
            opens, and then drops every non-reference frame, wanted or not (every other frame of
            SVT-AV1's mini-GOPs): the decoder is therefore opened before the first packet sets
            it, so such decoders never skip. False decodes every frame on the way.
    """

    seek_gap: float = 4
    skip_nonref: bool = True


class _SkipUnsafe(Exception):
    """A packet without pts after skipped ones: counting frames would go wrong; decode all."""


class _Decoder:
    """Forward-only PyAV decoding that jumps (seeks) only when a jump skips work.

    A target is decoded from the last keyframe at or before it. While decoding is no more than
    ``options.seek_gap`` frames short of that keyframe, continuing costs less than seeking, so the
    decoder keeps going; otherwise it seeks. Decoded frames are matched to indices by pts, which
    makes the result independent of where the demuxer lands and of what the decoder outputs
    around the seek point.
    """

    def __init__(self, info: VideoInfo, keyframes: np.ndarray, num_threads: int,
                 wanted: np.ndarray | None = None, options: DecodeOptions | None = None) -> None:
        self.info = info
        self.options = options or DecodeOptions()
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
        """Close the container and drop the frame generator and the frames kept for the next
        target. The generator refers back to this decoder (``self.frames`` runs ``self._decode``):
        left in place, that cycle waits for Python's cyclic collector, and until a full collection
        the closed decoder keeps its codec context alive, with FFmpeg's decoding threads and
        their frame buffers, none of which the collector sees as memory (issue 25: hundreds of
        MiB and dozens of threads in `frame-selector serve`). Dropped here, all of it is freed
        as soon as the caller lets go of the decoder."""
        self.frames = self.peeked = self.previous = None
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
        self.stream.codec_context.open(strict=False)  # before _decode sets skip_frame: see DecodeOptions.skip_nonref
        start = self.container.start_time / av.time_base if self.container.start_time is not None else 0.0
        seconds = np.asarray(self.info.timestamps) + start
        self.pts = np.rint(seconds / float(self.stream.time_base)).astype(np.int64)
        self.keep = None if self.wanted is None or not self.options.skip_nonref else set(self.pts[self.wanted].tolist())

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
        if self.frames is None or (kpos >= 0 and self.keyframes[kpos] > self.last + self.options.seek_gap):
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
