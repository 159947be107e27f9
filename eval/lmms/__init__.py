"""lmms-eval integration without a fork of lmms-eval, two ways.

1. **A plug-in model** (`eval.lmms.models`, needs lmms-eval): ``frame_selector_qwen2_5_vl`` and
   ``frame_selector_qwen3_vl`` (one per hand-off target that names an lmms-eval wrapper,
   `eval.lmms.plugins`), lmms-eval's stock Qwen2.5-VL / Qwen3-VL chat wrappers whose
   ``generate_until`` answers from the frames a chooser picked, each with its true time, and
   records every selection. lmms-eval finds them through the ``lmms_eval.models`` entry point,
   whose payload is `manifests`::

       [project.entry-points."lmms_eval.models"]
       frame_selector = "eval.lmms:manifests"

       python -m lmms_eval --model frame_selector_qwen2_5_vl \\
           --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct,chooser=selector:/ckpt,k=8 --tasks videomme

2. **A selection manifest for stock models** (no lmms-eval needed to write it): the docs
   (`eval.lmms.items`, each with its question and answer options, `eval.lmms.docs`);
   `precompute_manifest` (`eval.lmms.precompute`) writes each doc's chosen frames as image files and a JSONL
   manifest (doc key -> indices, seconds, fps, settings); `write_task` (`eval.lmms.task`) generates a task that
   ``include``s the stock task and serves those frames, with their times in the text, to any
   stock lmms-eval model through ``--include_path``.
"""

from __future__ import annotations

from .docs import DOC_KEYS, doc_key_template, doc_question, format_key
from .items import items_from_docs, items_from_records, items_from_task
from .plugins import MODELS
from .precompute import ManifestRun, precompute_manifest, read_manifest
from .task import find_task_yaml, write_task


def manifests() -> list:
    """The ``lmms_eval.models`` entry-point payload: one `ModelManifest` per model (chat classes).

    A function, so importing this package never needs lmms-eval; lmms-eval calls it while it
    builds its model registry.
    """
    from lmms_eval.models.registry_v2 import ModelManifest

    return [ModelManifest(model_id=name, chat_class_path=path) for name, path in MODELS.items()]


__all__ = [
    "DOC_KEYS",
    "MODELS",
    "ManifestRun",
    "doc_key_template",
    "doc_question",
    "find_task_yaml",
    "format_key",
    "items_from_docs",
    "items_from_records",
    "items_from_task",
    "manifests",
    "precompute_manifest",
    "read_manifest",
    "write_task",
]
