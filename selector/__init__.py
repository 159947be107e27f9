"""Question-aware video frame selection (Hu et al., CVPR 2025): score many candidate frames of a
video against a question and hand the best k, with their true timestamps, to a video LLM.

The public names below load on first use (`selector.lazy`): `import selector` costs nothing, so a
command's `--help` or a usage error answers before torch and transformers would have finished
loading. `FrameSelectorConfig` and `FrameSelectorModel` register themselves with `AutoConfig` /
`AutoModel` in the modules that define them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports

# Each public name and the submodule that defines it.
_HOMES = {
    "CandidatePlan": "candidates",
    "candidate_frames": "candidates",
    "FrameSelectorConfig": "configuration",
    "Frame": "frames",
    "FrameSelectorModel": "modeling",
    "FrameSelectorForFrameScoring": "modeling",
    "FrameSelectorProcessor": "processing",
    "VideoQuestion": "records",
    "choose": "selection",
    "greedy_nms": "selection",
    "topk": "selection",
    "uniform": "selection",
    "DecodedFrames": "video",
    "VideoError": "video",
    "VideoInfo": "video",
    "decode_frames": "video",
    "probe": "video",
    "read_frames": "video",
    "FrameSelector": "api",
    "ScoredFrame": "api",
    "Selection": "api",
}

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time `__getattr__` imports each on first use
    from .api import FrameSelector, ScoredFrame, Selection
    from .candidates import CandidatePlan, candidate_frames
    from .configuration import FrameSelectorConfig
    from .frames import Frame
    from .modeling import FrameSelectorForFrameScoring, FrameSelectorModel
    from .processing import FrameSelectorProcessor
    from .records import VideoQuestion
    from .selection import choose, greedy_nms, topk, uniform
    from .video import DecodedFrames, VideoError, VideoInfo, decode_frames, probe, read_frames


__getattr__, __dir__ = lazy_exports(__name__, _HOMES)

__all__ = sorted(_HOMES)
