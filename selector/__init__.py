"""Question-aware video frame selection (Hu et al., CVPR 2025): score many candidate frames of a
video against a question and hand the best k, with their true timestamps, to a video LLM."""

from transformers import AutoConfig, AutoModel

from .candidates import CandidatePlan, candidate_frames
from .configuration import FrameSelectorConfig
from .frames import Frame
from .modeling import FrameSelectorForFrameScoring, FrameSelectorModel
from .processing import FrameSelectorProcessor
from .records import VideoQuestion
from .selection import choose, greedy_nms, topk, uniform
from .video import DecodedFrames, VideoError, VideoInfo, decode_frames, probe, read_frames

AutoConfig.register(FrameSelectorConfig.model_type, FrameSelectorConfig, exist_ok=True)
# As for transformers' own models, `AutoModel` is the backbone; the scoring model is loaded by name.
AutoModel.register(FrameSelectorConfig, FrameSelectorModel, exist_ok=True)

from .api import FrameSelector, ScoredFrame, Selection  # noqa: E402  (needs the registration above)

__all__ = [
    "CandidatePlan",
    "DecodedFrames",
    "Frame",
    "FrameSelector",
    "FrameSelectorConfig",
    "FrameSelectorForFrameScoring",
    "FrameSelectorModel",
    "FrameSelectorProcessor",
    "ScoredFrame",
    "Selection",
    "VideoError",
    "VideoInfo",
    "VideoQuestion",
    "candidate_frames",
    "choose",
    "decode_frames",
    "greedy_nms",
    "probe",
    "read_frames",
    "topk",
    "uniform",
]
