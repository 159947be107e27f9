"""The consumer side of a selection manifest: an lmms-eval task module that feeds every doc's
precomputed frames, with their true times in the text, to any stock lmms-eval model.

`eval.lmms.write_task` copies this file next to a generated task YAML (which `include`s the
stock task's YAML and points `doc_to_visual`, `doc_to_text` and `doc_to_messages` here) and fills
in `CONFIG`. It needs only the standard library, Pillow and lmms-eval itself, so it runs in
lmms-eval's own environment, without frame-selector or torch.

* chat models (`doc_to_messages`): ``Frame at 1.9 s: <image> Frame at 5.6 s: <image> ...`` then
  the stock task's prompt;
* simple models (`doc_to_visual` + `doc_to_text`): the k images, and the times in one line
  before the stock task's prompt.

A doc without a selection in the manifest, or whose selection failed, is an error, never a
silent fall-back to the stock frames (a comparison would then mean nothing).
"""

from __future__ import annotations

import json
import string
from pathlib import Path

# Filled in by `eval.lmms.write_task`: manifest (path, relative to this file or absolute),
# base_yaml (the stock task's YAML), key (a `str.format` template over the doc's fields), task.
CONFIG: dict = {}

_STATE: dict = {}


def _here() -> Path:
    return Path(__file__).resolve().parent


def _manifest_path() -> Path:
    return _here() / CONFIG["manifest"]


def manifest_rows(path: Path) -> dict[str, dict]:
    """Rows of a manifest file by key: the last row of a key wins (a resumed run appends), and a
    line cut short by a killed run is skipped. Shared with `eval.lmms.manifest`, which writes it."""
    rows: dict[str, dict] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            rows[str(row["key"])] = row
    return rows


def _rows() -> dict:
    """Manifest rows by key, read once per module (the last row of a key wins: a resumed run
    appends; a last line cut short by a killed run is skipped)."""
    if "rows" not in _STATE:
        _STATE["rows"] = manifest_rows(_manifest_path())
    return _STATE["rows"]


def _base() -> dict:
    """The stock task's config as lmms-eval resolves it (functions imported), read once."""
    if "base" not in _STATE:
        from lmms_eval.utils import load_yaml_config

        _STATE["base"] = load_yaml_config(CONFIG["base_yaml"], mode="full")
    return _STATE["base"]


def doc_key(doc: dict) -> str:
    """The manifest key of a doc: `CONFIG["key"]` filled with the doc's fields."""
    try:
        return string.Formatter().vformat(CONFIG["key"], (), doc)
    except (KeyError, IndexError) as error:
        raise KeyError(
            f"the doc key template {CONFIG['key']!r} names a field this doc lacks ({error}); "
            f"fields: {sorted(doc)}"
        ) from None


def selection(doc: dict) -> dict:
    """The manifest row of a doc; an error for a missing or failed selection."""
    rows = _rows()
    key = doc_key(doc)
    row = rows.get(key)
    if row is None:
        raise KeyError(f"no selection for doc {key!r} in {_manifest_path()}; precompute it first")
    if row.get("error"):
        raise RuntimeError(f"the selection for doc {key!r} failed: {row['error']}")
    return row


def frame_paths(doc: dict) -> list[str]:
    """The doc's frame files, in time order."""
    row = selection(doc)
    folder = _manifest_path().parent / row["frames_dir"]
    return [str(folder / name) for name in row["files"]]


def _images(doc: dict) -> list:
    from PIL import Image

    images = []
    for path in frame_paths(doc):
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    return images


def base_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """The stock task's prompt for the doc, as `ConfigurableTask.doc_to_text` builds it."""
    fn = _base().get("doc_to_text")
    if callable(fn):
        return fn(doc, lmms_eval_specific_kwargs) if lmms_eval_specific_kwargs is not None else fn(doc)
    if isinstance(fn, str):
        if fn in doc:
            return doc[fn]
        from lmms_eval.utils import apply_template

        return apply_template(fn, doc)
    raise TypeError(f"the base task's doc_to_text is {type(fn).__name__}; expected a function or a template")


def _duration(row: dict) -> str:
    return f"{float(row['duration']):.1f}"


def doc_to_visual(doc: dict) -> list:
    """The chosen frames as RGB images, in time order."""
    return _images(doc)


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """The frames' times in one line, then the stock prompt (for models that put the images first)."""
    row = selection(doc)
    times = ", ".join(f"{t} s" for t in row["prompt_times"])
    head = f"These {row['k']} frames were selected from a {_duration(row)}-second video, in time order, at {times}.\n"
    return head + base_text(doc, lmms_eval_specific_kwargs)


def doc_to_messages(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> list[dict]:
    """One user turn: each frame after its time, then the stock prompt."""
    row = selection(doc)
    times = row["prompt_times"]
    images = _images(doc)
    head = f"{row['k']} frames selected from a {_duration(row)}-second video, in time order, each labelled with its time.\n"
    content = [{"type": "text", "text": head + f"Frame at {times[0]} s: "}]
    for i, image in enumerate(images):
        content.append({"type": "image", "url": image})
        tail = f"\nFrame at {times[i + 1]} s: " if i + 1 < len(images) else "\n" + base_text(doc, lmms_eval_specific_kwargs)
        content.append({"type": "text", "text": tail})
    return [{"role": "user", "content": content}]
