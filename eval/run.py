"""One evaluation: every question of a benchmark through a frame chooser and a frozen video LLM.

Results go to `results.jsonl`, one line per question, appended and synced as each finishes, so a
killed run resumes where it stopped (a line cut off by the kill is dropped and redone). Questions
whose video is missing or unreadable are recorded and counted, never dropped.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

from tqdm.auto import tqdm

from selector.candidates import CandidatePlan
from selector.api import round_score
from selector.markdown import markdown_table
from selector.plot import pyplot
from selector.prefetch import Prefetched, decode_ahead
from selector.prompts import question_with_options
from selector.video import VideoError

from .choosers import Chooser
from .downstream import Downstream
from .extract import extract_answer
from .judge import ActivityNetJudge
from .metrics import is_correct, make_result, summarize
from .records import Record

log = logging.getLogger(__name__)
MC_INSTRUCTION = "Answer with the option's letter from the given choices directly."
OPEN_INSTRUCTION = "Answer the question using a single word or phrase."


def prompt_for(record: Record) -> str:
    """The text the downstream model reads after the frames."""
    if record.answer_type == "mc":
        return question_with_options(record.question, record.options) + "\n" + MC_INSTRUCTION
    return record.question + "\n" + OPEN_INSTRUCTION


def _finished(path: Path) -> list[dict]:
    """Results written so far; a last line cut off by a crash is removed so it is redone."""
    if not path.exists():
        return []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        path.write_bytes(data)
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


def _append(handle, result: dict) -> None:
    handle.write(json.dumps(result) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def evaluate_one(record: Record, chooser: Chooser, downstream: Downstream, k: int, plan: CandidatePlan,
                 method: str, judge: ActivityNetJudge | None, prepared: Future[Prefetched] | None = None) -> dict:
    """One question end to end; any failure of this question becomes a `failed` result.

    `prepared`: the video probed and its candidates decoded ahead (`Chooser.prefetch`); without
    it that happens here. Its failures count as this question's, as if they happened here."""
    if record.problem is not None:
        return make_result(record)
    started = time.perf_counter()
    try:
        ready = prepared.result() if prepared is not None else chooser.prefetch(record.video, plan)
        info = ready.info
        with ready.handed_over():
            chosen = chooser.choose(info, plan, record.question, k, item_id=record.id, options=record.options or None)
        choose_s = time.perf_counter() - started
        prompt = prompt_for(record)
        answer = downstream.answer(chosen, info, prompt)
    except VideoError as error:
        return make_result(record, status="failed", error=f"video: {error}")
    except Exception as error:  # noqa: BLE001 - one question's failure is recorded, the run goes on
        log.warning("%s: %s", record.id, error)
        return make_result(record, status="failed", error=f"{type(error).__name__}: {' '.join(str(error).split())}")
    extra: dict = {}
    parsed = extract_answer(answer.reply, record, method)
    if record.answer_type == "mc":
        correct = is_correct(record, parsed)
    elif judge is not None:
        verdict = judge.judge(record.question, record.answer or "", answer.reply)
        correct, extra = verdict.correct, {"score": verdict.score, "judge": verdict.to_dict()}
    else:
        correct = None
    frames = [{"index": f.index, "seconds": round(f.seconds, 6), "score": round_score(f.score)} for f in chosen.frames]
    return make_result(
        record, correct=correct, video=record.video, question=record.question, frames=frames,
        chooser={"name": chosen.settings["chooser"], "settings": chosen.settings, "notes": chosen.notes}, prompt=prompt, reply=answer.reply, parsed=parsed, answer=record.answer_letter or record.answer,
        handoff=answer.handoff,
        cost={"choose_s": round(choose_s, 4), "handoff_s": round(answer.handoff_s, 4), "downstream_s": round(answer.downstream_s, 4),
              "frames": len(frames), "visual_tokens": answer.visual_tokens},
        **extra,
    )


def run_eval(records: Sequence[Record], chooser: Chooser, downstream: Downstream, out: str | os.PathLike, k: int = 8,
             plan: CandidatePlan | int = 128, method: str = "default", judge: ActivityNetJudge | None = None,
             progress: bool = True) -> dict:
    """Evaluate (or finish evaluating) `records`; returns the summary, also written to
    `summary.json` with a `summary.png`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plan = CandidatePlan(n=plan) if isinstance(plan, int) else plan
    results_path = out / "results.jsonl"
    done = {r["qid"] for r in _finished(results_path)}
    todo = [r for r in records if r.id not in done]
    with results_path.open("a", encoding="utf-8") as handle:
        # The next questions' videos are decoded while the models work on this one (selector.prefetch).
        loaded = decode_ahead(todo, lambda record: None if record.problem is not None else chooser.prefetch(record.video, plan))
        for record, prepared in tqdm(loaded, total=len(todo), desc=f"eval {records[0].bench if records else ''}",
                                     disable=not progress, unit="q"):
            _append(handle, evaluate_one(record, chooser, downstream, k, plan, method, judge, prepared))
    results = [r for r in _finished(results_path) if r["qid"] in {rec.id for rec in records}]
    summary = summarize(results)
    summary["run"] = {"k": k, "plan": plan.to_dict(), "extract": method, "downstream": downstream.describe(),
                      "judge": judge.settings() if judge else None, "cost": _costs(results)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    _plot(summary, out / "summary.png")
    return summary


def _costs(results: Sequence[dict]) -> dict:
    """Totals and means of the per-question costs of questions that ran."""
    ran = [r["cost"] for r in results if r.get("cost")]
    totals = {key: round(sum(c[key] or 0 for c in ran), 3) for key in ("choose_s", "handoff_s", "downstream_s", "frames")}
    tokens = [c["visual_tokens"] for c in ran if c.get("visual_tokens") is not None]
    totals["visual_tokens"] = sum(tokens) if tokens else None
    return {"questions": len(ran), "total": totals,
            "mean": {key: round(value / len(ran), 4) for key, value in totals.items() if value is not None and ran}}


def format_table(summary: dict) -> str:
    """A markdown table: overall, then each category value; the headline metric under it."""
    counts = ["n", "ran", "failed", "problem", "unparsed"]

    def row(name: str, t: dict) -> list[object]:
        return [name, *(t[c] for c in counts), "-" if t["accuracy"] is None else f"{100 * t['accuracy']:.1f}"]

    named = [("overall", summary["overall"])] + [(f"{key}={value}", tally) for key, values in summary["by"].items() for value, tally in values.items()]
    lines = [markdown_table(["", *counts, "accuracy"], [row(name, t) for name, t in named], align="l" + "r" * (len(counts) + 1))]
    headline = summary["headline"]
    if headline["value"] is not None:
        lines.append(f"headline {headline['metric']}: {100 * headline['value']:.1f}")
    return "\n".join(lines)


def _plot(summary: dict, path: Path) -> None:
    plt = pyplot()
    bars = [("overall", summary["overall"]["accuracy"])]
    for key, values in summary["by"].items():
        bars += [(f"{key}={value}", t["accuracy"]) for value, t in values.items()]
    bars = [(name, value) for name, value in bars if value is not None]
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(bars) + 2), 3.6))
    if bars:
        ax.bar(range(len(bars)), [100 * v for _, v in bars], color=["black"] + ["tab:blue"] * (len(bars) - 1))
        ax.set_xticks(range(len(bars)), [name for name, _ in bars], rotation=45, ha="right", fontsize=8)
    run = summary.get("run", {})
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{summary['bench']}: k={run.get('k')}, {run.get('downstream', {}).get('model', '')}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["run_eval", "evaluate_one", "prompt_for", "format_table", "MC_INSTRUCTION", "OPEN_INSTRUCTION"]
