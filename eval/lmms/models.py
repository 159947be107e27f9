"""lmms-eval chat models that answer from the frames a chooser picked, not from uniform samples.

`FrameSelectorQwen2_5_VL` and `FrameSelectorQwen3_VL` subclass lmms-eval's stock chat wrappers
(`lmms_eval.models.chat.qwen2_5_vl.Qwen2_5_VL`, `lmms_eval.models.chat.qwen3_vl.Qwen3_VL`): the
model, processor, device handling and generation settings are the stock ones. Each is built, on
first use, from its hand-off target (`selector.handoff.Target.lmms_eval`, `eval.lmms.plugins`), so
a model gets a plug-in by naming its wrapper in its hand-off module. Only
`generate_until` differs: for each request it takes the video path and the prompt from the
task's ``doc_to_messages(doc)``, asks the chooser for k frames (`eval.choosers.make_chooser`),
and builds the model inputs with `selector.handoff.to_inputs`, so the model is told every frame's
true time (Qwen3-VL: ``<t seconds>`` from the source indices and fps; Qwen2.5-VL: timed images
for a non-uniform selection, the true spacing for a uniform one) within the wrapper's pixel and
frame budget. Every answer's selection (indices, seconds, scores, chooser settings, what the
model was shown) is appended to a JSONL file.

They are registered with lmms-eval through the ``lmms_eval.models`` entry point
(`eval.lmms.manifests`), as ``frame_selector_qwen2_5_vl`` and ``frame_selector_qwen3_vl``::

    python -m lmms_eval --model frame_selector_qwen2_5_vl \\
        --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct,chooser=selector:/ckpt,k=8,candidates=128 \\
        --tasks videomme --batch_size 1

Model arguments, besides the stock wrapper's (``pretrained``, ``max_pixels``, ``max_num_frames``,
...):

* ``chooser``: a `make_chooser` spec (``uniform``, ``selector:/ckpt``, ``siglip:MODEL``, ...).
  lmms-eval splits ``--model_args`` at commas, so give a spec's options as ``chooser_<name>=``
  (``chooser=selector:/ckpt,chooser_rule=topk``) or quote the spec
  (``chooser="siglip:google/siglip-so400m-patch14-384,nms=1"``).
* ``k`` (8): frames per question; at most the wrapper's ``max_num_frames``.
* ``candidates`` (128): the candidate plan: ``N``, ``uniform:N``, ``keyframes:N`` (approximate) or ``fps:RATE:MIN:MAX``.
* ``selections``: the JSONL record, appended to (default ``frame_selections.jsonl``; ``.rank<r>``
  is added before ``.jsonl`` when several processes run; ``none`` for no record). Each row: run
  id, task, split, doc id and key, the chooser's question, the task's prompt, chooser spec and
  settings, candidate plan, indices, seconds, scores, fps, what the model was shown (mode, frame
  size, visual tokens, budget, printed times) and the answer.
* ``question_field`` (``question``): the doc field the chooser is asked; the task's full prompt
  (instructions and options included) when the doc has no such text or with ``prompt``.
* ``options_field`` (``auto``): the doc's answer options, which a selector reads after the question
  as in training: ``auto`` finds the task's option field (`eval.lmms.docs.doc_question`), a field
  name takes that one, ``none`` asks the bare question.
* ``doc_key``: a ``str.format`` template over the doc's fields that names each doc in the record
  (and is the item id the label oracle looks up); default by task (``{question_id}`` for Video-MME).
* ``mode`` (``auto``): `selector.handoff.to_inputs`'s mode (``video``, ``images``, ``repeat``).
* ``chooser_device``: where the chooser runs (default: the model's device).

Requests are answered one at a time (``batch_size`` is not used); the questions about one video
are chosen together, so the video is decoded and encoded once. A request whose messages hold no
video goes to the stock wrapper unchanged; one with several videos, a clipped video
(start/end) or more than one turn is refused.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmms_eval.api.instance import GenerationResult, Instance, TokenCounts
from lmms_eval.protocol import ChatMessages
from loguru import logger as eval_logger
from tqdm import tqdm

from selector import CandidatePlan
from selector.prefetch import decode_ahead
from selector.handoff import PixelBudget, Target, to_inputs

from ..choosers import make_chooser
from .docs import doc_key_template, doc_question, format_key
from .plugins import PLUGINS, class_name

DEFAULT_SELECTIONS = "frame_selections.jsonl"
MODEL_ARGS = ("chooser", "k", "candidates", "selections", "question_field", "options_field", "doc_key", "mode", "chooser_device")


def chooser_spec(chooser: Any, options: dict[str, Any]) -> str:
    """A `make_chooser` spec from the ``chooser`` model argument (quotes stripped) and the
    ``chooser_<name>=value`` arguments."""
    spec = str(chooser).strip().strip("'\"").strip()
    if not spec:
        raise ValueError("chooser is empty; give a make_chooser spec such as selector:/path/to/ckpt")
    if options:
        def text(value: Any) -> str:
            return ("1" if value else "0") if isinstance(value, bool) else str(value)

        extra = ",".join(f"{name}={text(value)}" for name, value in options.items())
        spec += ("," if ":" in spec else ":") + extra
    return spec


def candidate_plan(value: Any) -> CandidatePlan:
    """The ``candidates`` model argument (lmms-eval turns ``128`` into an int) as a plan."""
    if isinstance(value, CandidatePlan):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return CandidatePlan(n=value) if isinstance(value, int) else CandidatePlan.parse(str(value))


def _webm_as_audio(content) -> bool:
    """lmms-eval's automatic messages call a ``.webm`` visual audio (its audio extensions list
    it); a task's visual is a video, so such a part is taken as the video."""
    return content.type == "audio" and isinstance(content.url, str) and content.url.lower().endswith(".webm")


@dataclass
class _Job:
    """One request with a video: where its answer goes and what the chooser and the model get."""

    position: int
    request: Instance
    doc: dict
    video: str
    prompt: str
    system: str | None
    question: str
    options: list[str] | None
    question_source: str
    key: str | None


class FrameSelectionMixin:
    """What every plug-in shares: the model arguments, the chooser, and `generate_until`."""

    is_simple = False
    inserts_system_prompt = False  # the stock wrapper adds `system_prompt` itself (Target.lmms_system_prompt)

    def __init__(
        self,
        chooser: str = "uniform",
        k: int = 8,
        candidates: int | str = 128,
        selections: str | None = DEFAULT_SELECTIONS,
        question_field: str = "question",
        options_field: str = "auto",
        doc_key: str | None = None,
        mode: str = "auto",
        chooser_device: str | None = None,
        **kwargs,
    ) -> None:
        options = {name[len("chooser_"):]: kwargs.pop(name) for name in list(kwargs) if name.startswith("chooser_")}
        super().__init__(**kwargs)
        self.k = int(k)
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        max_frames = getattr(self, "max_num_frames", None)
        if max_frames and self.k > int(max_frames):
            raise ValueError(f"k={self.k} exceeds max_num_frames={max_frames}; raise max_num_frames or lower k")
        self.plan = candidate_plan(candidates)
        self.chooser_spec = chooser_spec(chooser, options)
        device = chooser_device or str(self.device)
        self.chooser = make_chooser(self.chooser_spec, device=device)
        self.question_field = str(question_field)
        self.options_field = None if str(options_field).lower() in ("none", "") else str(options_field)
        self.doc_key = doc_key
        self.mode = str(mode)
        self.budget = PixelBudget(
            min_pixels=getattr(self, "min_pixels", None),
            max_pixels=getattr(self, "max_pixels", None),
            total_pixels=getattr(self, "total_pixels", None),
            max_frames=max_frames,
        )
        self.selections_path = self._selections_path(selections)
        self.run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"  # rows of one run, in a file runs append to
        if getattr(self, "enable_thinking", None) is not None:
            eval_logger.warning("enable_thinking is not passed to the chat template of selected frames; the model's default applies")
        eval_logger.info(f"frame selection: chooser={self.chooser_spec}, k={self.k}, candidates={self.plan.to_dict()}, "
                         f"record={self.selections_path}")

    def _selections_path(self, selections: str | None) -> Path | None:
        if selections in (None, "", "none", "None", False):
            return None
        path = Path(str(selections))
        if self.world_size > 1:
            path = path.with_name(f"{path.stem}.rank{self.rank}{path.suffix or '.jsonl'}")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    # --- requests ------------------------------------------------------------------------------

    def _key(self, doc: dict, task: str) -> str | None:
        template = self.doc_key or doc_key_template(task)
        if template is None:
            return None
        try:
            return format_key(template, doc)
        except KeyError:
            if self.doc_key:  # asked for explicitly: a doc without the field is an error
                raise
            return None

    def _job(self, position: int, request: Instance) -> _Job | None:
        """Parse one request; None when its messages hold no video (the stock path serves it)."""
        _, doc_to_messages, _, doc_id, task, split = request.args
        doc = self.task_dict[task][split][doc_id]
        messages = ChatMessages(messages=doc_to_messages(doc)).messages
        videos, texts, others, system, turns = [], [], [], [], 0
        for message in messages:
            if message.role == "system":
                system += [c.text for c in message.content if c.type == "text"]
                continue
            turns += 1
            for content in message.content:
                if content.type == "video" or _webm_as_audio(content):
                    videos.append(content.url)
                elif content.type == "text":
                    texts.append(content.text)
                else:
                    others.append(content.type)
        if not videos:
            return None
        where = f"{task} doc {doc_id}"
        if len(videos) > 1 or turns > 1:
            raise ValueError(f"{where}: {len(videos)} videos in {turns} turns; frame selection takes one video in one turn")
        if others:
            raise ValueError(f"{where}: {', '.join(sorted(set(others)))} parts next to the video are not supported")
        video = videos[0]
        if not isinstance(video, (str, os.PathLike)):
            raise ValueError(f"{where}: the video is {type(video).__name__} (a clip with start/end?); frame selection takes a file path")
        prompt = "".join(texts).strip()
        value = doc.get(self.question_field) if self.question_field != "prompt" else None
        if isinstance(value, str) and value.strip():
            question, options = doc_question(doc, self.question_field, self.options_field)
            source = self.question_field
        else:  # the prompt already carries the options, in the task's own words
            question, options, source = prompt, None, "prompt"
        if not question:
            raise ValueError(f"{where}: no question text for the chooser")
        if system:
            system_text = "\n".join(system)
        elif self.inserts_system_prompt:
            system_text = getattr(self, "system_prompt", None)
        else:
            system_text = None
        return _Job(position, request, doc, os.fspath(video), prompt, system_text, question, options, source, self._key(doc, task))

    # --- generation --------------------------------------------------------------------------

    def _generate_kwargs(self, gen_kwargs: dict) -> dict:
        """The stock wrapper's generation settings for these task settings."""
        builder = getattr(self, "_build_generate_kwargs", None)
        if builder is not None:  # Qwen3-VL
            return builder(gen_kwargs)
        current = {"max_new_tokens": 128, "temperature": 0.0, "top_p": None, "num_beams": 1, **gen_kwargs}
        if current["temperature"] and current["temperature"] > 0:
            sampling = {"do_sample": True, "temperature": current["temperature"], "top_p": current["top_p"], "top_k": current.get("top_k")}
        else:
            sampling = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        return {
            "eos_token_id": self.tokenizer.eos_token_id,
            "pad_token_id": self.tokenizer.pad_token_id,
            "num_beams": current["num_beams"],
            "max_new_tokens": current["max_new_tokens"],
            "use_cache": self.use_cache,
            **sampling,
        }

    def _answer(self, job: _Job, choice, info) -> tuple[str, int, dict]:
        _, _, gen_kwargs, doc_id, task, split = job.request.args
        inputs = to_inputs(choice, self.processor, info=info, mode=self.mode, budget=self.budget,
                           question=job.prompt, system=job.system)
        record = dict(inputs.handoff)
        device = "cuda" if self.device_map == "auto" else self.device
        inputs = inputs.to(device)
        start = time.time()
        out = self.model.generate(**inputs, **self._generate_kwargs(dict(gen_kwargs)))
        elapsed = time.time() - start
        new = out[:, inputs["input_ids"].shape[1]:]
        text = self.processor.batch_decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)[0]
        strip = getattr(self, "_strip_thinking", None)
        if strip is not None:
            text = strip(text)
        row = {
            "run": self.run_id, "task": task, "split": split, "doc_id": doc_id, "key": job.key, "question_source": job.question_source, "options": job.options,
            "chooser": choice.settings["chooser"], "chooser_spec": self.chooser_spec, "plan": self.plan.to_dict(),
            "candidate_count": len(choice.candidates), "notes": choice.notes, "prompt_text": job.prompt, **record,
            "answer": text, "generate_seconds": round(elapsed, 3),
        }
        return text, int(new.shape[1]), row

    def _write(self, row: dict) -> None:
        if self.selections_path is None:
            return
        with open(self.selections_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")

    def generate_until(self, requests: list[Instance]) -> list[GenerationResult]:
        results: list[Any] = [None] * len(requests)
        jobs, plain = [], []
        for position, request in enumerate(requests):
            job = self._job(position, request)
            (jobs.append(job) if job is not None else plain.append(position))
        if plain:
            eval_logger.warning(f"{len(plain)} requests hold no video; the stock wrapper answers them")
            for position, answer in zip(plain, super().generate_until([requests[p] for p in plain])):
                results[position] = answer
        by_video: dict[str, list[_Job]] = {}
        for job in jobs:
            by_video.setdefault(job.video, []).append(job)
        pbar = tqdm(total=len(jobs), disable=(self.rank != 0), desc="Model Responding (selected frames)")
        # The next videos are decoded while the models work on this one (selector.prefetch).
        for (video, group), prepared in decode_ahead(by_video.items(), lambda entry: self.chooser.prefetch(entry[0], self.plan)):
            ready = prepared.result()
            info = ready.info
            with ready.handed_over():
                chosen = self.chooser.choose_many(info, self.plan, [j.question for j in group], self.k, [j.key for j in group],
                                                  options=[j.options for j in group])
            for job, choice in zip(group, chosen):
                text, tokens, row = self._answer(job, choice, info)
                self._write(row)
                ctx, _, gen_kwargs, *_ = job.request.args
                self.cache_hook.add_partial("generate_until", (ctx, gen_kwargs), text)
                results[job.position] = GenerationResult(text=text, token_counts=TokenCounts(output_tokens=tokens))
                pbar.update(1)
        pbar.close()
        return results

    def generate_until_multi_round(self, requests) -> list[str]:
        raise NotImplementedError("multi-round generation with selected frames is not supported")


def plugin_class(target: Target) -> type:
    """lmms-eval's stock chat wrapper of a hand-off target (`Target.lmms_eval`), answering from
    selected frames with their true times."""
    module, _, stock_name = str(target.lmms_eval).rpartition(".")
    stock = getattr(importlib.import_module(module), stock_name)
    name = class_name(target)
    return type(name, (FrameSelectionMixin, stock), {
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": f"lmms-eval's {stock_name} chat wrapper, answering from selected frames with their true times.",
        "inserts_system_prompt": target.lmms_system_prompt,
    })


_BY_CLASS = {class_name(target): target for target in PLUGINS.values()}
_BUILT: dict[str, type] = {}


def __getattr__(name: str) -> type:
    """The plug-in classes by name (``FrameSelectorQwen2_5_VL``, as lmms-eval's entry point and
    imports ask for them), each built once, when first asked for."""
    if name not in _BY_CLASS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _BUILT:
        _BUILT[name] = plugin_class(_BY_CLASS[name])
    return _BUILT[name]


__all__ = ["FrameSelectionMixin", "candidate_plan", "chooser_spec", "plugin_class", *_BY_CLASS]
