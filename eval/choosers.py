"""Frame choosers to compare: every one picks k of the same candidate frames of a video.

A comparison of frame selection only means something when every method sees the same
candidates (`selector.candidate_frames(info, plan)`), returns exactly k distinct frames (a method
that silently hands on fewer, or pads with uniform frames, measures something else: peers.md
pitfall 4) and records every setting it used (pitfall 6). The base class enforces the first two
for all choosers; each chooser lists its settings, and each result carries them together with
the plan and k.

Choosers (`make_chooser` spec in brackets):

* `uniform` [`uniform`]: the middle candidate of each of k equal runs: the baseline.
* `SimilarityChooser` [`siglip:MODEL[,nms=1][,delta=N]`, `clip:MODEL,...`]: image-text cosine
  similarity of a SigLIP or CLIP checkpoint, top-k or greedy NMS.
* `SceneChangeChooser` [`scene[:bins=8,size=64]`]: the candidates that open the k largest
  colour-histogram changes, question-agnostic.
* `BoltChooser` [`bolt[:MODEL][,power=P]`]: BOLT's inverse-transform sampling over the
  similarity scores.
* `SelectorChooser` [`selector:PATH[,rule=nms][,delta=N]`]: the trained selector.
* `OracleChooser` [`oracle:PATH[,signal=label][,rule=topk]`]: the top-k of the stored
  pseudo-labels: the ceiling the selector is trained towards.

A spec's arguments are comma-separated; the first may be positional (model id or path), so a
path cannot contain a comma.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F
from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

from selector import CandidatePlan, Frame, FrameSelector, ScoredFrame, Selection, VideoInfo, candidate_frames, greedy_nms, probe, read_frames, topk
from selector import choose as choose_rule
from selector import uniform as uniform_rule
from selector.selection import nms_delta

DEFAULT_SIGLIP = "google/siglip-so400m-patch14-384"
DEFAULT_CLIP = "openai/clip-vit-large-patch14"

# What a chooser decides for one question: chosen candidate positions, every candidate's score
# (None for score-free choosers), settings resolved for this choice, notes for the reader.
Choice = tuple[list[int], "np.ndarray | None", dict[str, Any], dict[str, Any]]


@dataclass
class ChosenFrames:
    """The frames a chooser picked for one question, in time order.

    Attributes:
        chooser: the chooser's name.
        video: the video file.
        question: the question.
        k: frames asked for (always `len(positions)`).
        positions: chosen candidate positions (0 .. n-1), ascending.
        candidates: every candidate frame of the video, in time order.
        candidate_scores: the chooser's score for every candidate; None for score-free
            choosers (uniform).
        settings: chooser settings, plan and k, and what was resolved for this choice (e.g. the
            NMS radius): enough to reproduce it.
        notes: facts about this choice a reader must know (e.g. frames filled in uniformly
            because the video has fewer scene changes than k).
    """

    chooser: str
    video: str
    question: str
    k: int
    positions: list[int]
    candidates: list[Frame]
    candidate_scores: list[float] | None
    settings: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def frames(self) -> list[Frame]:
        return [self.candidates[p] for p in self.positions]

    @property
    def indices(self) -> list[int]:
        """Source frame indices (presentation order) of the chosen frames."""
        return [f.index for f in self.frames]

    @property
    def seconds(self) -> list[float]:
        """Presentation times of the chosen frames."""
        return [f.seconds for f in self.frames]

    @property
    def scores(self) -> list[float] | None:
        """The chosen frames' scores, or None for a score-free chooser."""
        return None if self.candidate_scores is None else [self.candidate_scores[p] for p in self.positions]

    def to_selection(self) -> Selection:
        """The same choice as a `selector.Selection`, for `selector.handoff`, which turns it into
        model inputs; a score-free chooser's frames get score 0 and no candidate scores, and a
        chooser without a selection rule of its own is named as the rule."""
        scores = self.scores or [0.0] * self.k
        picked = [ScoredFrame(**f.to_dict(), score=float(s)) for f, s in zip(self.frames, scores)]
        settings = {"chooser": self.chooser, "rule": self.chooser, **self.settings}
        return Selection(self.video, self.question, self.k, picked, list(self.candidate_scores or []), list(self.candidates), settings)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record, with the chosen indices and seconds spelled out."""
        return {**asdict(self), "indices": self.indices, "seconds": self.seconds}


class Chooser:
    """Base class: lays out the candidates, checks k, and refuses any choice that is not
    exactly k distinct candidates. Subclasses implement `_choose`."""

    name = ""

    def settings(self) -> dict[str, Any]:
        """The chooser's own settings (model, rule, power, ...), recorded with every choice."""
        return {}

    def _choose(
        self, info: VideoInfo, plan: CandidatePlan, candidates: list[Frame], questions: Sequence[str], k: int, item_ids: Sequence[str | None]
    ) -> list[Choice]:
        """One `Choice` per question."""
        raise NotImplementedError

    def choose_many(
        self,
        video: VideoInfo | str | os.PathLike,
        plan: CandidatePlan | int,
        questions: Sequence[str],
        k: int,
        item_ids: Sequence[str | None] | None = None,
    ) -> list[ChosenFrames]:
        """k frames for each question about one video; work on the video is shared.

        Args:
            video: a probed video (saves a demux pass) or its path.
            plan: the candidate plan every chooser in a comparison must share.
            questions: the questions.
            k: frames per question, 1 <= k <= number of candidates.
            item_ids: the questions' ids, which the label oracle looks up.

        Raises:
            ValueError: k out of range, or a question the chooser cannot serve.
            RuntimeError: the chooser produced anything but k distinct candidates.
        """
        if isinstance(questions, str):
            raise TypeError("choose_many takes a list of questions; use choose() for one")
        info = video if isinstance(video, VideoInfo) else probe(video)
        plan = CandidatePlan(n=plan) if isinstance(plan, int) else plan
        candidates = candidate_frames(info, plan)
        n = len(candidates)
        if not 1 <= k <= n:
            raise ValueError(f"k={k} must be between 1 and the number of candidates ({n}) of {info.path}")
        ids = list(item_ids) if item_ids is not None else [None] * len(questions)
        if len(ids) != len(questions):
            raise ValueError(f"{len(questions)} questions but {len(ids)} item ids")
        results = []
        outputs = self._choose(info, plan, candidates, questions, k, ids)
        if len(outputs) != len(questions):
            raise RuntimeError(f"{self.name} answered {len(outputs)} of {len(questions)} questions")
        for question, (positions, scores, resolved, notes) in zip(questions, outputs):
            chosen = sorted({int(p) for p in positions})
            if len(positions) != k or len(chosen) != k or chosen[0] < 0 or chosen[-1] >= n:
                raise RuntimeError(
                    f"{self.name} chose {len(positions)} positions ({len(chosen)} distinct, within 0..{n - 1}) "
                    f"where exactly k={k} distinct candidates are required"
                )
            settings = {**self.settings(), **resolved, "k": k, "plan": plan.to_dict()}
            candidate_scores = None if scores is None else [float(s) for s in scores]
            results.append(ChosenFrames(self.name, info.path, question, k, chosen, list(candidates), candidate_scores, settings, notes))
        return results

    def choose(
        self, video: VideoInfo | str | os.PathLike, plan: CandidatePlan | int, question: str, k: int, item_id: str | None = None
    ) -> ChosenFrames:
        """k frames of `video` for one question."""
        return self.choose_many(video, plan, [question], k, [item_id])[0]


# --------------------------------------------------------------------------------------------
# Uniform


class UniformChooser(Chooser):
    """The middle candidate of each of k equal runs of candidates (uniform in time, since the
    candidates are): what every method has to beat."""

    name = "uniform"

    def _choose(self, info, plan, candidates, questions, k, item_ids):
        positions = uniform_rule(np.zeros(len(candidates)), k)
        return [(positions, None, {}, {}) for _ in questions]


# --------------------------------------------------------------------------------------------
# SigLIP / CLIP similarity


def _pooled(output: Any) -> torch.Tensor:
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class SimilarityChooser(Chooser):
    """Frames ranked by the cosine similarity of their image embedding to the question's text
    embedding, from a SigLIP or CLIP checkpoint (the usual training-free baseline).

    Frames are decoded with their shorter side at the processor's input size (aspect ratio
    kept), then prepared by the checkpoint's own image processor, so resizing and cropping are
    the model's. SigLIP's text is padded to its full length, as it was trained. The image
    embeddings of the last video are kept, so questions asked one at a time about one video
    decode and encode it once.
    """

    def __init__(
        self,
        model_id: str,
        *,
        nms: bool = False,
        delta: int | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        batch_size: int = 32,
    ) -> None:
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
        self.model = AutoModel.from_pretrained(model_id, dtype=dtype).to(device).eval()
        self.family = self.model.config.model_type
        if self.family not in ("siglip", "clip"):
            raise ValueError(f"{model_id} is a {self.family!r} model; the similarity chooser takes SigLIP or CLIP")
        self.tokenizer = AutoTokenizer.from_pretrained(model_id)
        self.processor = AutoImageProcessor.from_pretrained(model_id)
        self.model_id = model_id
        self.name = self.family
        self.nms = nms
        self.delta = delta
        self.batch_size = batch_size
        self._cache: tuple[tuple[str, tuple[int, ...]], torch.Tensor] | None = None

    def settings(self) -> dict[str, Any]:
        return {"model": self.model_id, "rule": "nms" if self.nms else "topk", "delta": self.delta, "dtype": str(self.model.dtype)}

    def _decode_size(self, info: VideoInfo) -> tuple[int, int]:
        size = self.processor.size
        side = size.get("shortest_edge") or min(size.get("height"), size.get("width"))
        scale = side / min(info.width, info.height)
        return max(1, round(info.width * scale)), max(1, round(info.height * scale))

    @torch.no_grad()
    def image_embeddings(self, info: VideoInfo, candidates: Sequence[Frame]) -> torch.Tensor:
        """L2-normalised image embeddings of the candidates, (n, d), float32."""
        key = (info.path, tuple(c.index for c in candidates))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        frames = read_frames(info, [c.index for c in candidates], size=self._decode_size(info))
        chunks = []
        for start in range(0, len(frames), self.batch_size):
            pixels = self.processor(images=list(frames[start : start + self.batch_size]), return_tensors="pt")["pixel_values"]
            features = _pooled(self.model.get_image_features(pixel_values=pixels.to(self.model.device, self.model.dtype)))
            chunks.append(F.normalize(features.float(), dim=-1))
        embeddings = torch.cat(chunks)
        self._cache = (key, embeddings)
        return embeddings

    @torch.no_grad()
    def text_embeddings(self, questions: Sequence[str]) -> torch.Tensor:
        """L2-normalised text embeddings of the questions, (q, d), float32."""
        length = self.model.config.text_config.max_position_embeddings
        padding = "max_length" if self.family == "siglip" else True
        encoded = self.tokenizer(list(questions), padding=padding, truncation=True, max_length=length, return_tensors="pt")
        inputs = {k: v.to(self.model.device) for k, v in encoded.items() if k in ("input_ids", "attention_mask")}
        return F.normalize(_pooled(self.model.get_text_features(**inputs)).float(), dim=-1)

    def similarities(self, info: VideoInfo, candidates: Sequence[Frame], questions: Sequence[str]) -> np.ndarray:
        """Cosine similarity of every question to every candidate, (q, n)."""
        return (self.text_embeddings(questions) @ self.image_embeddings(info, candidates).T).cpu().numpy()

    def _choose(self, info, plan, candidates, questions, k, item_ids):
        results = []
        for row in self.similarities(info, candidates, questions):
            if self.nms:
                delta = nms_delta(len(row), k) if self.delta is None else self.delta
                results.append((greedy_nms(row, k, delta), row, {"delta": delta}, {}))
            else:
                results.append((topk(row, k), row, {}, {}))
        return results


# --------------------------------------------------------------------------------------------
# Scene changes


class SceneChangeChooser(Chooser):
    """The candidates that open the k largest visual changes: a question-agnostic baseline that
    spends the budget on distinct shots rather than on evenly spaced moments.

    A candidate's change is the total-variation distance (0..1) between the joint RGB colour
    histograms of it and the candidate before it; the first candidate opens the first shot and
    counts as a full change (1.0). When fewer than k candidates differ from their predecessor at
    all (a still video), the rest are spread uniformly over the remaining candidates, and the
    choice's notes say how many.
    """

    name = "scene"

    def __init__(self, bins: int = 8, size: int = 64) -> None:
        if not 2 <= bins <= 64 or size < 8:
            raise ValueError(f"scene chooser needs 2 <= bins <= 64 and size >= 8, got bins={bins}, size={size}")
        self.bins = bins
        self.size = size

    def settings(self) -> dict[str, Any]:
        return {"bins": self.bins, "size": self.size, "histogram": "joint RGB", "distance": "total variation"}

    def changes(self, info: VideoInfo, candidates: Sequence[Frame]) -> np.ndarray:
        """Every candidate's colour change from the one before, in [0, 1]."""
        frames = read_frames(info, [c.index for c in candidates], size=(self.size, self.size))
        q = (frames.astype(np.int64) * self.bins) // 256
        codes = (q[..., 0] * self.bins + q[..., 1]) * self.bins + q[..., 2]
        hist = np.stack([np.bincount(c.ravel(), minlength=self.bins**3) for c in codes]).astype(np.float64)
        hist /= hist.sum(axis=1, keepdims=True)
        return np.concatenate([[1.0], 0.5 * np.abs(np.diff(hist, axis=0)).sum(axis=1)])

    def _choose(self, info, plan, candidates, questions, k, item_ids):
        change = self.changes(info, candidates)
        moving = int((change > 0).sum())
        if moving >= k:
            positions, notes = topk(change, k), {}
        else:
            picked = [int(i) for i in np.flatnonzero(change > 0)]
            rest = [int(i) for i in np.flatnonzero(change == 0)]
            filled = [rest[j] for j in uniform_rule(np.zeros(len(rest)), k - len(picked))]
            positions, notes = picked + filled, {"filled_uniformly": k - len(picked)}
        return [(positions, change, {}, dict(notes)) for _ in questions]


# --------------------------------------------------------------------------------------------
# BOLT


def inverse_transform_sample(scores: Sequence[float] | np.ndarray, k: int, power: float = 1.0) -> list[int]:
    """BOLT's inverse-transform sampling: k distinct positions drawn at evenly spaced quantiles
    of the score distribution, so frames land densely where scores are high and sparsely (but
    not never) elsewhere, unlike top-k.

    The scores are min-max normalised and raised to `power` (higher: more concentrated), made a
    CDF, and position i is the first candidate whose CDF exceeds (i + 0.5) / k, so that power 0
    gives exactly the uniform chooser's frames. Several
    quantiles can fall on one candidate; each repeat moves to the nearest free candidate (the
    higher-weighted side first, then the earlier one), so there are always exactly k.
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1 or not np.isfinite(values).all():
        raise ValueError("scores must be a finite one-dimensional array")
    n = len(values)
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and the number of candidates ({n})")
    if power < 0:
        raise ValueError(f"power must be >= 0, got {power}")
    low, high = values.min(), values.max()
    weights = ((values - low) / (high - low)) ** power if high > low else np.ones(n)
    cdf = np.cumsum(weights) / weights.sum()
    targets = (np.arange(k) + 0.5) / k
    used: set[int] = set()
    for position in np.minimum(np.searchsorted(cdf, targets, side="right"), n - 1):
        position = int(position)
        for distance in range(1, n) if position in used else ():
            free = [p for p in (position - distance, position + distance) if 0 <= p < n and p not in used]
            if free:
                position = max(free, key=lambda p: (weights[p], -p))
                break
        used.add(position)
    return sorted(used)


class BoltChooser(Chooser):
    """BOLT (Liu et al., CVPR 2025): inverse-transform sampling over SigLIP/CLIP similarity."""

    name = "bolt"

    def __init__(self, scorer: SimilarityChooser, power: float = 1.0) -> None:
        if power < 0:
            raise ValueError(f"power must be >= 0, got {power}")
        self.scorer = scorer
        self.power = power

    def settings(self) -> dict[str, Any]:
        return {"model": self.scorer.model_id, "power": self.power, "dtype": str(self.scorer.model.dtype)}

    def _choose(self, info, plan, candidates, questions, k, item_ids):
        rows = self.scorer.similarities(info, candidates, questions)
        return [(inverse_transform_sample(row, k, self.power), row, {}, {}) for row in rows]


# --------------------------------------------------------------------------------------------
# The trained selector


class SelectorChooser(Chooser):
    """The trained frame selector, scoring the same candidates as every other chooser."""

    name = "selector"

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        rule: str = "nms",
        delta: int | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        if rule not in ("nms", "topk", "uniform"):
            raise ValueError(f"unknown selection rule {rule!r}; choose nms, topk or uniform")
        self.selector = FrameSelector.from_pretrained(path, device=device)
        self.path = os.fspath(path)
        self.rule = rule
        self.delta = delta
        self._cache: tuple[tuple, np.ndarray] | None = None

    def settings(self) -> dict[str, Any]:
        return {"model": self.path, "rule": self.rule, "delta": self.delta, "dtype": str(self.selector.model.dtype)}

    def scores(self, info: VideoInfo, plan: CandidatePlan, candidates: Sequence[Frame], questions: Sequence[str]) -> np.ndarray:
        """Every candidate's score for every question, (q, n). The last video's scores are kept,
        so comparing several k on one video scores it once."""
        key = (info.path, plan, tuple(c.index for c in candidates), tuple(questions))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        _, frames, scores = self.selector.score(info, list(questions), plan)
        if [f.index for f in frames] != [c.index for c in candidates]:
            raise RuntimeError(f"the selector laid out other candidates than the plan gives for {info.path}")
        self._cache = (key, scores)
        return scores

    def _choose(self, info, plan, candidates, questions, k, item_ids):
        scores = self.scores(info, plan, candidates, questions)
        results = []
        for row in scores:
            resolved = {"delta": nms_delta(len(row), k) if self.delta is None else self.delta} if self.rule == "nms" else {}
            results.append((choose_rule(self.rule, row, k, self.delta), row, resolved, {}))
        return results


# --------------------------------------------------------------------------------------------
# The label oracle

LABEL_SIGNALS = ("label", "spatial", "temporal", "spans_label")


class OracleChooser(Chooser):
    """The top-k frames by the stored pseudo-labels of each question: what a selector trained
    on those labels could at best reproduce, so the gap to it measures the selector, and the gap
    from it to the answer ceiling measures the labels.

    Reads the label store's documented Parquet format: a `labels.parquet` file, or a store
    folder, whose parts (`labels/shard-*/part-*.parquet`, the newest row of an id winning, as the
    store's merge does) are preferred over its merged `labels.parquet`, which may be older.
    Questions are found by item id (the manifest id the labels were made under); a missing or
    failed item, or labels made over other candidates than the plan gives, is an error.
    """

    name = "oracle"

    def __init__(self, path: str | os.PathLike, *, signal: str = "label", rule: str = "topk", delta: int | None = None) -> None:
        if signal not in LABEL_SIGNALS:
            raise ValueError(f"unknown label signal {signal!r}; choose from {LABEL_SIGNALS}")
        if rule not in ("topk", "nms"):
            raise ValueError(f"unknown rule {rule!r}; choose topk or nms")
        self.path = os.fspath(path)
        self.signal = signal
        self.rule = rule
        self.delta = delta
        self._rows: dict[str, dict[str, Any]] | None = None

    def settings(self) -> dict[str, Any]:
        return {"labels": self.path, "signal": self.signal, "rule": self.rule, "delta": self.delta}

    def _files(self) -> list[Path]:
        root = Path(self.path)
        if root.is_file():
            return [root]
        parts = sorted(root.glob("labels/shard-*/part-*.parquet"))
        if parts:
            return parts
        if (root / "labels.parquet").is_file():
            return [root / "labels.parquet"]
        raise FileNotFoundError(f"no label store at {root} (neither labels/shard-*/part-*.parquet nor labels.parquet)")

    def rows(self) -> dict[str, dict[str, Any]]:
        """id -> stored row (id, status, error, frames and the chosen signal), read once."""
        if self._rows is None:
            rows: dict[str, dict[str, Any]] = {}
            for path in self._files():
                table = pq.read_table(path, columns=["id", "status", "error", "frames", self.signal])
                for row in table.to_pylist():
                    rows[row["id"]] = row
            self._rows = rows
        return self._rows

    def _scores(self, item_id: str | None, candidates: list[Frame]) -> np.ndarray:
        if item_id is None:
            raise ValueError("the label oracle needs each question's item id")
        row = self.rows().get(item_id)
        if row is None:
            raise ValueError(f"no labels for item {item_id!r} in {self.path} (a merged labels.parquet holds only successful items)")
        if row["status"] != "ok":
            raise ValueError(f"labelling item {item_id!r} failed: {row['error']}")
        stored = row["frames"] or []
        same = len(stored) == len(candidates) and all(
            s["index"] == c.index and abs(s["seconds"] - c.seconds) < 1e-4 for s, c in zip(stored, candidates)
        )
        if not same:
            raise ValueError(
                f"labels of item {item_id!r} cover {len(stored)} other candidates than the plan's {len(candidates)}: "
                "label and evaluate with the same candidate plan"
            )
        scores = row[self.signal]
        if scores is None or len(scores) != len(candidates):
            raise ValueError(f"item {item_id!r} has no {self.signal!r} signal for its {len(candidates)} candidates")
        return np.asarray(scores, dtype=np.float64)

    def _choose(self, info, plan, candidates, questions, k, item_ids):
        results = []
        for item_id in item_ids:
            row = self._scores(item_id, candidates)
            if self.rule == "nms":
                delta = nms_delta(len(row), k) if self.delta is None else self.delta
                results.append((greedy_nms(row, k, delta), row, {"delta": delta, "item_id": item_id}, {}))
            else:
                results.append((topk(row, k), row, {"item_id": item_id}, {}))
        return results


# --------------------------------------------------------------------------------------------
# Registry


def _flag(value: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a yes/no value")


CHOOSER_NAMES = ("uniform", "siglip", "clip", "scene", "bolt", "selector", "oracle")


def make_chooser(spec: str, *, device: str | torch.device | None = None) -> Chooser:
    """A chooser from a spec such as `uniform`, `siglip:google/siglip-so400m-patch14-384,nms=1`,
    `clip:openai/clip-vit-large-patch14`, `scene:bins=8`, `bolt:power=2`,
    `selector:/path/to/ckpt,rule=topk` or `oracle:/path/to/labels,signal=spatial`.

    Raises:
        ValueError: an unknown chooser, argument or value.
    """
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower()
    parts = [p.strip() for p in rest.split(",") if p.strip()] if rest else []
    positional = [p for p in parts if "=" not in p]
    options = dict(p.split("=", 1) for p in parts if "=" in p)
    options = {k.strip(): v.strip() for k, v in options.items()}
    if len(positional) > 1:
        raise ValueError(f"{spec!r}: at most one positional argument (a model id or path); a path cannot contain ','")
    target = positional[0] if positional else None
    allowed = {
        "uniform": set(),
        "siglip": {"model", "nms", "delta", "batch"},
        "clip": {"model", "nms", "delta", "batch"},
        "scene": {"bins", "size"},
        "bolt": {"model", "power", "batch"},
        "selector": {"path", "rule", "delta"},
        "oracle": {"path", "signal", "rule", "delta"},
    }
    if name not in allowed:
        raise ValueError(f"unknown chooser {name!r}; choose from {CHOOSER_NAMES}")
    unknown = set(options) - allowed[name]
    if unknown or (target is not None and name in ("uniform", "scene")):
        raise ValueError(f"{spec!r}: {name} takes {sorted(allowed[name]) or 'no arguments'}")
    delta = int(options["delta"]) if "delta" in options else None
    if name == "uniform":
        return UniformChooser()
    if name == "scene":
        return SceneChangeChooser(bins=int(options.get("bins", 8)), size=int(options.get("size", 64)))
    if name in ("siglip", "clip", "bolt"):
        model = target or options.get("model") or (DEFAULT_CLIP if name == "clip" else DEFAULT_SIGLIP)
        scorer = SimilarityChooser(
            model, nms=_flag(options.get("nms", "0")), delta=delta, device=device, batch_size=int(options.get("batch", 32))
        )
        if name == "bolt":
            return BoltChooser(scorer, power=float(options.get("power", 1.0)))
        if scorer.family != name:
            raise ValueError(f"{model} is a {scorer.family} checkpoint, not {name}")
        return scorer
    path = target or options.get("path")
    if not path:
        raise ValueError(f"{spec!r}: {name} needs a path ({name}:PATH)")
    if name == "selector":
        return SelectorChooser(path, rule=options.get("rule", "nms"), delta=delta, device=device)
    return OracleChooser(path, signal=options.get("signal", "label"), rule=options.get("rule", "topk"), delta=delta)


__all__ = [
    "BoltChooser",
    "CHOOSER_NAMES",
    "ChosenFrames",
    "Chooser",
    "OracleChooser",
    "SceneChangeChooser",
    "SelectorChooser",
    "SimilarityChooser",
    "UniformChooser",
    "inverse_transform_sample",
    "make_chooser",
]
