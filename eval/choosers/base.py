"""What every chooser shares: the candidates laid out by the plan, k checked, and a choice
refused unless it is exactly k distinct candidates (docs/evaluation.md, "Fair comparisons")."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from selector import CandidatePlan, Frame, Selection, VideoInfo, candidate_frames, probe
from selector.prefetch import Prefetched, decode_candidates
from selector.processing import Options
from selector.prompts import question_with_options
from selector.records import VideoQuestion
from selector.selection import check_k

# What a chooser decides for one question: chosen candidate positions, every candidate's score
# (None for score-free choosers), settings resolved for this choice, notes for the reader.
Choice = tuple[list[int], "np.ndarray | None", dict[str, Any], dict[str, Any]]


class Chooser:
    """Base class: lays out the candidates, checks k, and refuses any choice that is not
    exactly k distinct candidates. Subclasses implement `_choose`."""

    name = ""

    def settings(self) -> dict[str, Any]:
        """The chooser's own settings (model, rule, power, ...), recorded with every choice."""
        return {}

    def decode_size(self, info: VideoInfo) -> tuple[int, int] | None:
        """The (width, height) this chooser decodes the candidates of ``info`` at; None when it
        decodes none. The one place a chooser's reads take their size from, so `prefetch` decodes
        exactly what the chooser will ask for."""
        return None

    def prefetch(self, video: VideoInfo | str | os.PathLike, plan: CandidatePlan) -> Prefetched:
        """The video probed and its candidates decoded as `choose_many` will want them: run ahead
        (`selector.prefetch.decode_ahead`), then `choose_many` inside ``handed_over()`` decodes nothing."""
        return decode_candidates(video, plan, self.decode_size)

    def _choose(
        self,
        info: VideoInfo,
        plan: CandidatePlan,
        candidates: list[Frame],
        questions: Sequence[str],
        k: int,
        item_ids: Sequence[str | None],
        options: Sequence[Options],
    ) -> list[Choice]:
        """One `Choice` per question; `options[i]` are question i's answer options (or None)."""
        raise NotImplementedError

    def choose_many(
        self,
        video: VideoInfo | str | os.PathLike,
        plan: CandidatePlan | int,
        questions: Sequence[str] | Sequence[VideoQuestion],
        k: int,
        item_ids: Sequence[str | None] | None = None,
        options: Sequence[Options] | None = None,
    ) -> list[Selection]:
        """k frames for each question about one video; work on the video is shared.

        Each `Selection`'s settings name the chooser (`chooser`, and `rule` where the chooser has
        no selection rule of its own), its settings, what was resolved for this choice (e.g. the
        NMS radius), k and the plan: enough to reproduce it. A score-free chooser's selection
        has no scores.

        Args:
            video: a probed video (saves a demux pass) or its path.
            plan: the candidate plan every chooser in a comparison must share.
            questions: the questions: texts, or `VideoQuestion` records, which carry their own
                ids and options (then give neither `item_ids` nor `options`).
            k: frames per question, 1 <= k <= number of candidates.
            item_ids: the questions' ids, which the label oracle looks up.
            options: one answer-option list (or None) per question. The trained selector reads
                them as its processor wrote them in training; text-embedding baselines read
                `question_text` (the question with its lettered options).

        Raises:
            ValueError: k out of range, or a question the chooser cannot serve.
            RuntimeError: the chooser produced anything but k distinct candidates.
        """
        if isinstance(questions, str):
            raise TypeError("choose_many takes a list of questions; use choose() for one")
        questions, item_ids, options = unpack_records(questions, item_ids, options)
        info = video if isinstance(video, VideoInfo) else probe(video)
        plan = CandidatePlan(n=plan) if isinstance(plan, int) else plan
        candidates = candidate_frames(info, plan)
        n = len(candidates)
        check_k(k, n, info.path)
        ids = list(item_ids) if item_ids is not None else [None] * len(questions)
        if len(ids) != len(questions):
            raise ValueError(f"{len(questions)} questions but {len(ids)} item ids")
        options = list(options) if options is not None else [None] * len(questions)
        if len(options) != len(questions):
            raise ValueError(f"{len(questions)} questions but {len(options)} option lists")
        results = []
        outputs = self._choose(info, plan, candidates, questions, k, ids, options)
        if len(outputs) != len(questions):
            raise RuntimeError(f"{self.name} answered {len(outputs)} of {len(questions)} questions")
        for question, option_list, (positions, scores, resolved, notes) in zip(questions, options, outputs):
            chosen = sorted({int(p) for p in positions})
            if len(positions) != k or len(chosen) != k or chosen[0] < 0 or chosen[-1] >= n:
                raise RuntimeError(
                    f"{self.name} chose {len(positions)} positions ({len(chosen)} distinct, within 0..{n - 1}) "
                    f"where exactly k={k} distinct candidates are required"
                )
            settings = {"chooser": self.name, "rule": self.name, **self.settings(), **resolved, "k": k, "plan": plan.to_dict()}
            results.append(Selection.from_positions(info.path, question, k, candidates, chosen, scores, settings, dict(notes),
                                                    option_list))
        return results

    def choose(
        self,
        video: VideoInfo | str | os.PathLike,
        plan: CandidatePlan | int,
        question: str | VideoQuestion,
        k: int,
        item_id: str | None = None,
        options: Options = None,
    ) -> Selection:
        """k frames of `video` for one question (with its answer options, if multiple choice; a
        `VideoQuestion` brings its own id and options)."""
        return self.choose_many(video, plan, [question], k, None if item_id is None else [item_id],
                                None if options is None else [options])[0]


def unpack_records(
    questions: Sequence[str] | Sequence[VideoQuestion], item_ids: Sequence[str | None] | None, options: Sequence[Options] | None,
) -> tuple[list[str], Sequence[str | None] | None, Sequence[Options] | None]:
    """(texts, ids, options) the choosers work on: records give their own, texts keep the
    parallel lists. Mixing the two, or records with lists beside them, is refused: one of the two
    would be silently ignored."""
    records = [q for q in questions if isinstance(q, VideoQuestion)]
    if not records:
        return list(questions), item_ids, options
    if len(records) != len(questions):
        raise TypeError("questions must be all texts or all VideoQuestion records, not a mix")
    if item_ids is not None or options is not None:
        raise ValueError("VideoQuestion records carry their own ids and options: give neither item_ids nor options")
    return [r.question for r in records], [r.id for r in records], [list(r.options) or None for r in records]


def question_texts(questions: Sequence[str], options: Sequence[Options]) -> list[str]:
    """What a text-embedding baseline reads: each question with its lettered options, the text
    the pseudo-label scorers read too."""
    return [question_with_options(q, o) for q, o in zip(questions, options)]


__all__ = ["Choice", "Chooser", "question_texts", "unpack_records"]
