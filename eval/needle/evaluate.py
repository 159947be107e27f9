"""Every chooser, at every k, on the same candidates of the held-out needle videos.

Results are one JSON line per (chooser, k, question), appended and flushed as they come, so an
interrupted evaluation resumes where it stopped. The summary averages evidence recall, needles
seen and oracle-reader accuracy per chooser and k, overall and per question kind.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from selector import CandidatePlan, probe
from selector.swap_control import with_other_questions as swap_questions
from selector.markdown import markdown_table

from ..choosers import Chooser
from .reader import score_choice

METRICS = ("recall", "needles_seen", "accuracy")
CONTROL = "selector NMS, other video's question"  # the name `with_other_questions` results go under
# The selector's own-question results on exactly the questions that have a control: the gap is
# taken on the same questions on both sides (a kind with one fixed wording has no control).
OWN_WITH_CONTROL = "selector NMS, its own question (where a control exists)"


def _read_results(path: Path) -> list[dict]:
    """The complete result lines; a last line cut short by a crash is dropped from the file, so
    that question is redone and appending goes on cleanly."""
    if not path.exists():
        return []
    text = path.read_text()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        path.write_text(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def evaluate_choosers(
    rows: Sequence[Mapping[str, Any]],
    choosers: Mapping[str, Chooser],
    ks: Sequence[int],
    plan: CandidatePlan,
    out: str | os.PathLike,
    progress: bool = True,
) -> list[dict]:
    """Run every chooser at every k on every question; returns all result rows (old and new).

    Candidate scores are stored once per (chooser, question), with the smallest k, for plots.
    """
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["chooser"], r["k"], r["id"]) for r in _read_results(path)}
    by_video: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_video[row["video"]].append(row)
    with path.open("a") as handle:
        for video, group in tqdm(sorted(by_video.items()), desc="evaluating", unit="video", disable=not progress):
            info = probe(video)
            for name, chooser in choosers.items():
                for k in sorted(ks):
                    todo = [i for i, r in enumerate(group) if (name, k, r["id"]) not in done]
                    if not todo:
                        continue
                    chosen = chooser.choose_many(info, plan, [group[i]["question"] for i in todo], k, [group[i]["id"] for i in todo],
                                                 options=[group[i]["options"] or None for i in todo])
                    for i, choice in zip(todo, chosen):
                        row = group[i]
                        result = {
                            "chooser": name, "k": k, "id": row["id"], "kind": row["kind"], "video": video,
                            "indices": choice.indices, "seconds": [round(s, 4) for s in choice.seconds],
                            **score_choice(row, choice.indices),
                        }
                        if k == min(ks) and choice.scores:
                            result["candidate_indices"] = [c.index for c in choice.candidates]
                            result["candidate_scores"] = [round(float(s), 5) for s in choice.scores]
                        handle.write(json.dumps(result) + "\n")
                    handle.flush()
    return _read_results(path)


def with_other_questions(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each question asked with the words (and options) of the next differently worded question
    of its kind about another video, while its own needles stay the evidence
    (`selector.swap_control`). In this world a question's words name what it asks about (the star,
    the red square), so other words ask about another needle. Multi-hop questions share one
    wording in every video: they have no control."""
    return swap_questions(rows, video_key="video", group_key="kind")


def own_where_controlled(results: Sequence[Mapping[str, Any]], selector: str = "selector NMS") -> list[dict[str, Any]]:
    """`selector`'s results on the questions the control was also asked, under `OWN_WITH_CONTROL`."""
    controlled = {r["id"] for r in results if r["chooser"] == CONTROL}
    return [{**r, "chooser": OWN_WITH_CONTROL} for r in results if r["chooser"] == selector and r["id"] in controlled]


def summarize(results: Sequence[Mapping[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    """{chooser: {k: {metric: mean, "by_kind": {kind: {metric: mean}}, "questions": n}}}."""
    grouped: dict[tuple[str, int], list[Mapping[str, Any]]] = defaultdict(list)
    for r in results:
        grouped[(r["chooser"], r["k"])].append(r)
    summary: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for (name, k), items in grouped.items():
        entry: dict[str, Any] = {m: float(np.mean([r[m] for r in items])) for m in METRICS}
        entry["questions"] = len(items)
        kinds: dict[str, list] = defaultdict(list)
        for r in items:
            kinds[r["kind"]].append(r)
        entry["by_kind"] = {kind: {m: float(np.mean([r[m] for r in rs])) for m in METRICS} for kind, rs in sorted(kinds.items())}
        summary[name][k] = entry
    return {name: dict(sorted(by_k.items())) for name, by_k in summary.items()}


def format_table(summary: Mapping[str, Mapping[int, Mapping[str, Any]]], metric: str = "recall") -> str:
    """A Markdown table: one row per chooser, one column per k."""
    ks = sorted({k for by_k in summary.values() for k in by_k})
    rows = [[name, *(f"{by_k[k][metric]:.3f}" if k in by_k else "" for k in ks)] for name, by_k in summary.items()]
    return markdown_table(["chooser", *(f"k={k}" for k in ks)], rows, align="l" + "r" * len(ks))


__all__ = ["with_other_questions", "own_where_controlled", "OWN_WITH_CONTROL", "CONTROL", "evaluate_choosers", "summarize", "format_table", "METRICS"]
