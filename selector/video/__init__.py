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


from .decoder import DecodeOptions
from .probing import VideoError, VideoInfo, content_hash, probe
from .reading import (BACKENDS, WORKERS_ENV, DecodedFrames, decode_frames, default_threads, default_workers, keyframe_runs,
                      read_frames, serving)

__all__ = [
    "BACKENDS",
    "WORKERS_ENV",
    "DecodedFrames",
    "DecodeOptions",
    "VideoError",
    "VideoInfo",
    "content_hash",
    "decode_frames",
    "default_threads",
    "default_workers",
    "keyframe_runs",
    "probe",
    "read_frames",
    "serving",
]
