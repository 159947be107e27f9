"""The frame record every output of the package carries.

One record type, so that scores, selections, labels and hand-offs never have to guess which source
frame a candidate was or when it was shown: the seconds are the container's presentation time of
that frame, which stays right on variable-frame-rate video where ``index / fps`` does not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Frame:
    """A candidate frame.

    Attributes:
        candidate: position among the video's candidate frames (0 .. n-1, in time order).
        index: source frame index in presentation order (0 = first frame shown).
        seconds: presentation time of the frame, in seconds from the start of the container.
        fps: the source stream's average frame rate (frames / duration), for consumers such as
            Qwen3-VL that describe frames as (index, fps).
    """

    candidate: int
    index: int
    seconds: float
    fps: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)
