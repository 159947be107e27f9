"""`FrameSelector`: one video, one or many questions, k frames each, with their true times.

The work per video (decoding, the vision tower, the frame prefix of the language model) is done
once, however many questions are asked about that video; each question then costs only its own
few tokens.
"""

from __future__ import annotations

import os
import re
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .candidates import CandidatePlan, candidate_frames
from .compiling import Compile, CompiledQuestions, question_step
from .frames import Frame
from .hardware import default_device, default_dtype
from .modeling import FramePrefix, FrameSelectorForFrameScoring
from .prefetch import Prefetched, decode_ahead, decode_candidates
from .processing import FrameSelectorProcessor, Options, Question, load_processor
from .records import VideoQuestion
from .selection import check_k, check_rule, choose, nms_delta
from .video import DecodedFrames, VideoInfo, decode_frames, probe


@dataclass(frozen=True)
class ScoredFrame(Frame):
    """A chosen frame record with the score it was chosen by (the selector's: a probability in
    [0, 1]); None when it was chosen without scores (the uniform baseline)."""

    score: float | None = None


def round_score(score: float | None) -> float | None:
    """A frame's score as JSON records show it: 6 decimals, or None when it has none."""
    return None if score is None else round(float(score), 6)


@dataclass
class Selection:
    """The answer to one question: the chosen frames in time order, every candidate's score (in
    candidate order; empty when the frames were chosen without scores), the settings that
    produced them, notes a reader of the choice must know (e.g. frames filled in uniformly
    because the video has fewer scene changes than k, or ``notes["substituted"]``: the source
    indices of candidates that did not decode, so the frame shown before each stood in for it
    when they were scored or handed over), and the question's answer options when it is
    multiple choice (the chooser read them with the question)."""

    video: str
    question: str
    k: int
    frames: list[ScoredFrame]
    scores: list[float]
    candidates: list[Frame]
    settings: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    options: list[str] | None = None

    @classmethod
    def from_positions(
        cls, video: str, question: str, k: int, candidates: Sequence[Frame], positions: Sequence[int],
        scores: Sequence[float] | None, settings: dict, notes: dict, options: Sequence[str] | None = None,
    ) -> Selection:
        """The selection of candidates at `positions` (in time order), each chosen frame carrying
        its score; `scores` None when the frames were chosen without any. Every chooser builds its
        answer here, so a selection reads the same whichever chose it."""
        values = [] if scores is None else [float(s) for s in scores]
        frames = [ScoredFrame(**candidates[p].to_dict(), score=values[p] if values else None) for p in positions]
        return cls(video, question, k, frames, values, list(candidates), settings, notes,
                   options=list(options) if options else None)

    @property
    def indices(self) -> list[int]:
        """Source frame indices of the chosen frames."""
        return [f.index for f in self.frames]

    @property
    def seconds(self) -> list[float]:
        return [f.seconds for f in self.frames]

    @property
    def positions(self) -> list[int]:
        """Candidate positions (0 .. n-1) of the chosen frames."""
        return [f.candidate for f in self.frames]

    def to_dict(self, scores: bool = True) -> dict:
        """A JSON-ready record; `scores=False` leaves out the per-candidate lists."""
        record = {
            "video": self.video,
            "question": self.question,
            "options": self.options,
            "k": self.k,
            "candidates": len(self.candidates),
            "frames": [
                {"candidate": f.candidate, "index": f.index, "seconds": round(f.seconds, 6), "score": round_score(f.score)}
                for f in self.frames
            ],
            "fps": self.candidates[0].fps if self.candidates else None,
            "settings": self.settings,
            "notes": self.notes,
        }
        if scores:
            record["candidate_seconds"] = [round(c.seconds, 6) for c in self.candidates]
            record["scores"] = [round(s, 6) for s in self.scores]
        return record


def selections_to_json(selections: Sequence[Selection], scores: bool = True) -> str:
    """Indented JSON with the long number lists kept on one line each."""
    text = json.dumps([s.to_dict(scores) for s in selections], indent=2)
    return re.sub(r"\[\s+([-0-9.,eE\s]+?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)


@torch.no_grad()
def encode_pixel_values(model: FrameSelectorForFrameScoring, pixel_values: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """Pooled vision features (n, T, Dv) of normalised (n, 3, H, W) frames, in chunks to bound memory."""
    parameter = next(model.vision_tower.parameters())
    return torch.cat([model.vision_features(c.to(parameter.device, parameter.dtype)) for c in pixel_values.split(batch_size)])


def encode_frames(
    model: FrameSelectorForFrameScoring, processor: FrameSelectorProcessor, frames: np.ndarray, batch_size: int = 32
) -> torch.Tensor:
    """Pooled vision features (n, T, Dv) of decoded uint8 frames, in chunks to bound memory."""
    return encode_pixel_values(model, processor.pixel_values(frames), batch_size)


class FrameSelector:
    """A trained (or freshly assembled) selector with its processor, ready to choose frames."""

    def __init__(
        self,
        model: FrameSelectorForFrameScoring,
        processor: FrameSelectorProcessor,
        question_batch_size: int = 16,
        vision_batch_size: int = 32,
        name: str | None = None,
        compile: Compile = "off",
        packed: bool = True,
    ):
        """`compile`: whether questions on a cached frame prefix run through `torch.compile`
        ("auto": on CUDA only; "on"; "off": eager), decided here for the model's device now
        (`selector.compiling`). Each padded question length compiles at its first use.
        `packed=False` scores questions over a per-question copy of the prefix cache, the path
        before packing, for benchmarks to measure against (never compiled)."""
        self.model = model.eval()
        self.processor = processor
        self.question_batch_size = question_batch_size
        self.vision_batch_size = vision_batch_size
        self.name = name or getattr(model.config, "_name_or_path", "") or "frame-selector"
        self._question_step = question_step(self.model, compile, packed)

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike, device: str | torch.device | None = None, dtype: torch.dtype | None = None, **kwargs
    ) -> FrameSelector:
        """Load a selector directory (config, safetensors weights, processor).

        Defaults: CUDA in bfloat16 when available, else CPU in float32. Other keywords go to the
        constructor (`compile`, the batch sizes).
        """
        if device is None:
            device = default_device()
        if dtype is None:
            dtype = default_dtype(device)
        model = FrameSelectorForFrameScoring.from_pretrained(path, dtype=dtype).to(device)
        return cls(model, load_processor(path), name=str(path), **kwargs)

    def save_pretrained(self, path: str | os.PathLike) -> None:
        """Weights, config and the processor in one directory: the text a selector reads is part
        of the checkpoint, so they are never saved apart."""
        self.model.save_pretrained(path)
        self.processor.save_pretrained(path)

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def prefix_ids(self) -> torch.Tensor:
        """Token ids of the processor's frames prefix: with a video's vision features, what
        `FrameSelectorForFrameScoring.frame_prefix` takes (`frame_prefix` passes them)."""
        return self.processor.prefix_ids()

    @property
    def compiled(self) -> bool:
        """Whether questions run through the compiled step (the `compile` setting, resolved)."""
        return isinstance(self._question_step, CompiledQuestions)

    def _records(
        self, video: str | os.PathLike | VideoInfo, questions: Sequence[Question], options: Sequence[Options] | None
    ) -> list[VideoQuestion]:
        """One `VideoQuestion` per question, every text checked before any decoding. A question
        comes as a record (with its options) or as a text, whose options are then `options[i]`
        (the older form: one option list, or None, per question). One flat list for several
        questions is the common slip, so it gets its own message."""
        if options is None:
            options = [None] * len(questions)
        elif options and all(isinstance(o, str) for o in options):
            raise TypeError("options is one option list per question; use select(..., options=[...]) for one question")
        if len(options) != len(questions):
            raise ValueError(f"{len(options)} option lists for {len(questions)} questions")
        path = str(video.path if isinstance(video, VideoInfo) else video)
        records = []
        for i, (question, option_list) in enumerate(zip(questions, options)):
            if isinstance(question, VideoQuestion):
                if option_list is not None:
                    raise ValueError(f"question {question.id!r} is a VideoQuestion: its options are its own, not options[{i}]")
                self.processor.question_text(question.question, question.options or None)
                records.append(question)
            else:
                self.processor.question_text(question, option_list)
                records.append(VideoQuestion(str(i), path, question, list(option_list or [])))
        return records

    @property
    def image_size(self) -> int:
        return self.model.config.vision_config.image_size

    # --- scoring ------------------------------------------------------------------------------

    def candidates(self, video: str | os.PathLike | VideoInfo, plan: CandidatePlan | int = 128) -> tuple[VideoInfo, list[Frame]]:
        """Probe a video and lay out its candidates, checking they fit the model."""
        info = video if isinstance(video, VideoInfo) else probe(video)
        plan = CandidatePlan(n=plan) if isinstance(plan, int) else plan
        frames = candidate_frames(info, plan)
        limit = self.model.config.max_candidates
        if len(frames) > limit:
            raise ValueError(f"{len(frames)} candidates exceed this model's max_candidates={limit}")
        return info, frames

    def read_candidates(self, info: VideoInfo, frames: Sequence[Frame]) -> DecodedFrames:
        """The candidates decoded at the vision tower's resolution, with the source indices that
        did not decode (a stand-in shown before them takes their place, for the selections to
        record): apart from `encode_pixels` so a server can decode on its own threads."""
        size = self.image_size
        return decode_frames(info, [f.index for f in frames], size=(size, size))

    def encode_pixels(self, pixels: np.ndarray) -> torch.Tensor:
        """Pooled vision features (n, T, Dv) of decoded candidates; the candidates of several
        videos may be stacked into one call (the tower sees frames, not videos) and split after."""
        return encode_frames(self.model, self.processor, pixels, self.vision_batch_size)

    def encode_video(self, info: VideoInfo, frames: Sequence[Frame]) -> torch.Tensor:
        """Decode the candidates at the tower's resolution and run the frozen vision part."""
        return self.encode_pixels(self.read_candidates(info, frames).frames)

    @torch.no_grad()
    def frame_prefix(self, features: torch.Tensor) -> FramePrefix:
        """One video's question-independent work (its frames through the LLM, key/value cache
        kept): computed once, it serves every later question on the video (`score_questions`)."""
        return self.model.frame_prefix(features, self.prefix_ids)

    @torch.no_grad()
    def score_questions(self, prefix: FramePrefix, questions: Sequence[Question]) -> np.ndarray:
        """Scores (len(questions), n) of questions (texts, or records with their options) on the
        video of `prefix`, packed `question_batch_size` at a time."""
        rows = []
        for start in range(0, len(questions), self.question_batch_size):
            logits = self._question_step(prefix, **self.processor(questions=questions[start : start + self.question_batch_size]))
            rows.append(self.model.candidate_scores(logits[:, : prefix.num_candidates]).cpu().numpy())
        return np.concatenate(rows)

    def score(
        self,
        video: str | os.PathLike | VideoInfo,
        questions: Sequence[Question],
        candidates: CandidatePlan | int = 128,
        options: Sequence[Options] | None = None,
    ) -> tuple[VideoInfo, list[Frame], np.ndarray]:
        """Scores in [0, 1], shape (len(questions), n), for every candidate of one video
        (`FrameSelectorForFrameScoring.candidate_scores`: a listwise checkpoint's sum to 1 over the candidates).
        `questions`: `VideoQuestion` records, or texts with `options` holding one answer-option
        list (or None) per question."""
        records = self._records(video, questions, options)
        info, frames = self.candidates(video, candidates)
        return info, frames, self._score(info, frames, records)[0]

    @torch.no_grad()
    def _score(self, info: VideoInfo, frames: Sequence[Frame], questions: Sequence[VideoQuestion]) -> tuple[np.ndarray, tuple[int, ...]]:
        """The scores, and the candidates scored from a stand-in frame (see `read_candidates`)."""
        decoded = self.read_candidates(info, frames)
        prefix = self.frame_prefix(self.encode_pixels(decoded.frames))
        return self.score_questions(prefix, questions), decoded.substituted

    def select_many(
        self,
        video: str | os.PathLike | VideoInfo,
        questions: Sequence[Question],
        k: int = 8,
        candidates: CandidatePlan | int = 128,
        rule: str = "nms",
        delta: int | None = None,
        options: Sequence[Options] | None = None,
    ) -> list[Selection]:
        """One `Selection` per question; the video is decoded and encoded once.

        `questions`: `VideoQuestion` records (each with its answer options), or texts with
        `options` holding one answer-option list (or None) per question. The selector reads the
        options, lettered after the question, exactly as its processor wrote them in training."""
        if isinstance(questions, (str, VideoQuestion)):
            raise TypeError("select_many takes a list of questions; use select() for one")
        if not questions:
            raise ValueError("no questions given")
        records = self._records(video, questions, options)
        check_rule(rule)
        info, frames = self.candidates(video, candidates)
        check_k(k, len(frames), info.path)  # before any decoding or model work
        scores, substituted = self._score(info, frames, records)
        return self.selections(info, frames, candidates, records, scores, k, rule, delta, substituted)

    def selections(
        self,
        info: VideoInfo,
        frames: Sequence[Frame],
        candidates: CandidatePlan | int,
        questions: Sequence[VideoQuestion],
        scores: np.ndarray,
        k: int,
        rule: str = "nms",
        delta: int | None = None,
        substituted: Sequence[int] = (),
    ) -> list[Selection]:
        """One `Selection` per row of `scores` (from `score_questions` on `frames`): the k frames
        the rule chooses, with the settings that chose them and the candidates scored from a
        stand-in frame (`substituted`, from `read_candidates`). Public for callers that score
        apart from choosing (a server batching many requests' questions)."""
        plan = CandidatePlan(n=candidates) if isinstance(candidates, int) else candidates
        notes = {"substituted": list(substituted)} if substituted else {}
        n = len(frames)
        settings = {
            "rule": rule,
            "delta": (nms_delta(n, k) if delta is None else delta) if rule == "nms" else None,
            "plan": plan.to_dict(),
            "model": self.name,
        }
        selections = []
        for question, row in zip(questions, scores):
            selections.append(Selection.from_positions(info.path, question.question, k, frames, choose(rule, row, k, delta), row,
                                                       dict(settings), dict(notes), question.options))
        return selections

    def select_videos(
        self,
        requests: Iterable[tuple[str | os.PathLike | VideoInfo, Sequence[Question]]],
        k: int = 8,
        candidates: CandidatePlan | int = 128,
        rule: str = "nms",
        delta: int | None = None,
        prefetch: int | None = None,
    ) -> Iterator[list[Selection]]:
        """`select_many` over many videos: one list of selections per ``(video, questions)`` (texts
        or `VideoQuestion` records) or ``(video, questions, options)``, in order, the same as a loop over `select_many` gives.

        The next videos' candidates are decoded while the model works on this one, at most
        ``prefetch`` videos ahead (``None``: ``selector.prefetch.default_depth()``; 0: none). A
        video that cannot be read raises when its turn comes, as in the loop."""
        plan = CandidatePlan(n=candidates) if isinstance(candidates, int) else candidates
        side = self.image_size

        def load(request: tuple) -> Prefetched:
            return decode_candidates(request[0], plan, lambda info: (side, side))

        for request, pending in decode_ahead(requests, load, prefetch):
            _, questions, *options = request
            prepared = pending.result()
            with prepared.handed_over():
                yield self.select_many(prepared.info, questions, k, plan, rule, delta, options=options[0] if options else None)

    def select(
        self,
        video: str | os.PathLike | VideoInfo,
        question: Question,
        k: int = 8,
        candidates: CandidatePlan | int = 128,
        rule: str = "nms",
        delta: int | None = None,
        options: Options = None,
    ) -> Selection:
        """The k frames of `video` that best help answer `question` (a text with its answer
        `options` when it is multiple choice, or a `VideoQuestion` carrying them), in time order."""
        return self.select_many(video, [question], k, candidates, rule, delta, options=None if options is None else [options])[0]


__all__ = ["FrameSelector", "Selection", "ScoredFrame", "round_score", "selections_to_json", "encode_frames", "encode_pixel_values"]
