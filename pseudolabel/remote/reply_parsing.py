"""Reading the text LLM's frame choice: the reply is repaired defensively, never trusted.

Shared by the online temporal selector and the Batch API mode, which both get chat completions
and must turn whatever came back (fenced JSON, prose around a list, a truncated list, a refusal)
into sorted, unique, in-range indices plus notes saying what had to be repaired.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..base import TemporalResult

_INDEX_KEYS = ("frames", "indices", "frame_indices")
_FENCE = re.compile(r"^```[A-Za-z]*\s*(.*?)\s*```$", re.DOTALL)
_KEYED_LIST = re.compile(r"""["']?(?:frames|indices|frame_indices)["']?\s*[:=]\s*\[([^\]]*)""")
_BARE_LIST = re.compile(r"\[([\s\d,\-]*\d[\s\d,\-]*)(?:\]|$)")
_INT = re.compile(r"-?\d+")


def _excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return repr(flat[:limit] + ("..." if len(flat) > limit else ""))


def _index_list(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for key in _INDEX_KEYS:
            if isinstance(value.get(key), list):
                return value[key]
    return None


def _load_lenient(raw: str) -> tuple[list[Any] | None, str | None]:
    """The reply's list of indices, and a note when getting it needed repair."""
    text = raw.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        items = _index_list(json.loads(text))
        if items is not None:
            return items, ("removed a markdown code fence" if fenced else None)
    except ValueError:
        pass
    # Preference: a JSON object with an index key, then a keyed list in malformed JSON, then a
    # bare JSON list, then any bracketed run of integers (a truncated list included).
    decoder = json.JSONDecoder()
    first_list: list[Any] | None = None
    for attempt, match in enumerate(re.finditer(r"[\[{]", text)):
        if attempt >= 200:
            break
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, dict) and _index_list(value) is not None:
            return _index_list(value), "repaired JSON: extracted the JSON object from surrounding text"
        if isinstance(value, list) and first_list is None:
            first_list = value
    keyed = _KEYED_LIST.search(text)
    if keyed:
        return [int(x) for x in _INT.findall(keyed.group(1))], "repaired JSON: read the integers of a malformed list"
    if first_list is not None:
        return first_list, "repaired JSON: extracted a JSON list from surrounding text"
    bare = _BARE_LIST.search(text)
    if bare:
        return [int(x) for x in _INT.findall(bare.group(1))], "repaired JSON: read the integers of a malformed list"
    return None, None


def parse_temporal_reply(raw: str | None, n: int, *, max_frames: int | None = None) -> TemporalResult:
    """Turn the text LLM's reply into sorted, unique, in-range 0-based indices.

    Accepts `{"frames": [...]}`, `{"indices": [...]}` or a bare list, inside a code fence or
    surrounding prose, or a truncated / malformed list of integers. Out-of-range, duplicate and
    non-integer entries are dropped, and every repair is recorded in `notes`. A reply with no
    list of indices at all gives `indices=[]` and the note "unparseable reply: ...". Never raises.
    """
    raw = raw or ""
    items, how = _load_lenient(raw)
    if items is None:
        return TemporalResult(indices=[], raw=raw, notes=[f"unparseable reply: {_excerpt(raw) if raw.strip() else 'empty'}"])
    notes = [how] if how else []
    values: list[int] = []
    coerced: list[Any] = []
    rejected: list[Any] = []
    for item in items:
        if isinstance(item, bool):
            rejected.append(item)
        elif isinstance(item, int):
            values.append(item)
        elif isinstance(item, float) and item.is_integer():
            values.append(int(item))
            coerced.append(item)
        elif isinstance(item, str) and re.fullmatch(r"\s*-?\d+\s*", item):
            values.append(int(item))
            coerced.append(item)
        else:
            rejected.append(item)
    if coerced:
        notes.append(f"coerced non-integer entries to integers: {coerced[:20]}")
    if rejected:
        notes.append(f"dropped non-integer entries: {rejected[:20]}")
    out_of_range = [v for v in values if not 0 <= v < n]
    if out_of_range:
        notes.append(f"dropped out-of-range indices {out_of_range[:20]} (valid 0..{n - 1})")
    kept: list[int] = []
    duplicates: list[int] = []
    seen: set[int] = set()
    for v in values:
        if 0 <= v < n:
            if v in seen:
                duplicates.append(v)
            else:
                seen.add(v)
                kept.append(v)
    if duplicates:
        notes.append(f"dropped duplicate indices {duplicates[:20]}")
    if max_frames is not None and len(kept) > max_frames:
        notes.append(f"reply names {len(kept)} frames, more than the max_frames hint of {max_frames}")
    return TemporalResult(indices=sorted(kept), raw=raw, notes=notes)


def temporal_result_from_message(
    content: str | None, n: int, *, finish_reason: str | None = None, refusal: str | None = None,
    max_frames: int | None = None,
) -> TemporalResult:
    """`parse_temporal_reply` on one assistant message, with notes for refusals and truncation."""
    if refusal and not content:
        return TemporalResult(indices=[], raw="", notes=[f"unparseable reply: refusal {_excerpt(refusal)}"])
    result = parse_temporal_reply(content, n, max_frames=max_frames)
    if finish_reason == "length":
        result.notes.insert(0, "reply truncated (finish_reason=length)")
    return result


def temporal_result_from_completion(completion: Mapping[str, Any], n: int, *, max_frames: int | None = None) -> TemporalResult:
    """`temporal_result_from_message` on a chat completion given as JSON (the Batch API's)."""
    choices = completion.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], Mapping) else {}
    message = choice.get("message") or {}
    return temporal_result_from_message(
        message.get("content"), n, finish_reason=choice.get("finish_reason"), refusal=message.get("refusal"),
        max_frames=max_frames,
    )


__all__ = ["parse_temporal_reply", "temporal_result_from_completion", "temporal_result_from_message"]
