"""The docs to choose frames for, from the package's loaders, from any rows, or from an lmms-eval
task as lmms-eval loads it: each a `VideoQuestion` whose id is the doc's key (what the doc key
template gives for it), with the question and answer options the chooser is asked; a doc that
cannot be served (its video is missing) is kept with its `problem` and written as a failed row."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from selector.records import VideoQuestion

from .docs import doc_key_template, doc_question, format_key


def items_from_records(records: Iterable, key: Callable[[Any], str] | None = None) -> list[VideoQuestion]:
    """Items from `eval.Record`s (`load_benchmark`): key `record.id` unless `key` says
    otherwise, the record's question and options; a flagged record stays flagged."""
    return [
        VideoQuestion(str(key(r) if key else r.id), r.video, r.question, list(r.options), problem=r.problem)
        for r in records
    ]


def items_from_docs(
    docs: Iterable[dict],
    *,
    key: str | Callable[[dict], str],
    video: str | Callable[[dict], str],
    question: str | Callable[[dict], str] = "question",
    options: str | Callable[[dict], list[str] | None] | None = "auto",
) -> list[VideoQuestion]:
    """Items from any rows: `key` a template or a function, `video` and `question` a field name or
    a function of the row, `options` as `eval.lmms.docs.doc_question` takes them ("auto" finds the
    known option fields). A row whose video or question cannot be had becomes a flagged item."""
    items = []
    for i, doc in enumerate(docs):
        k = key(doc) if callable(key) else format_key(key, doc)
        try:
            path = video(doc) if callable(video) else doc[video]
            text, found = doc_question(doc, question, options)
            items.append(VideoQuestion(str(k), os.fspath(path), text, list(found or [])))
        except (Exception, SystemExit) as error:  # stock doc_to_visual functions sys.exit on a missing video
            items.append(VideoQuestion(str(k), "", "", problem=f"doc {i}: {type(error).__name__}: {error}"))
    return items


def items_from_task(
    task: str,
    *,
    key: str | None = None,
    question: str | Callable[[dict], str] = "question",
    options: str | Callable[[dict], list[str] | None] | None = "auto",
    include_path: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    limit: int | None = None,
) -> list[VideoQuestion]:
    """Items for the docs of an lmms-eval task, as lmms-eval loads them (needs lmms-eval and the
    task's data here): the video is the first visual of the task's own ``doc_to_visual``.

    Args:
        task: the lmms-eval task name (``videomme``).
        key: the doc key template; defaults to `DOC_KEYS` for known tasks.
        question: the doc field (or a function of the doc) the chooser is asked.
        options: the doc's answer options: "auto" (the task's option field, found by its known
            names), a field name, a function, or None for the bare question.
        include_path: extra task folders, as lmms-eval's ``--include_path``.
        limit: only the first docs (a smoke run).
    """
    from lmms_eval.tasks import TaskManager, get_task_dict

    key = key or doc_key_template(task)
    if key is None:
        raise ValueError(f"no known doc key for task {task!r}; pass key='{{field}}' naming a unique doc field")
    paths = [include_path] if isinstance(include_path, (str, os.PathLike)) else list(include_path or [])
    manager = TaskManager(include_path=[os.fspath(p) for p in paths] or None)
    task_obj = get_task_dict([task], manager)[task]
    docs = task_obj.test_docs() if task_obj.has_test_docs() else task_obj.validation_docs()
    if limit is not None:
        docs = [docs[i] for i in range(min(limit, len(docs)))]

    def first_video(doc: dict) -> str:
        visuals = task_obj.doc_to_visual(doc)
        if not visuals or not isinstance(visuals[0], (str, os.PathLike)):
            raise ValueError(f"doc_to_visual gave {type(visuals[0]).__name__ if visuals else 'nothing'}, not a video path")
        return os.fspath(visuals[0])

    return items_from_docs(docs, key=key, video=first_video, question=question, options=options)


__all__ = ["items_from_docs", "items_from_records", "items_from_task"]
