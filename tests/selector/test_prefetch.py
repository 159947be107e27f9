"""Decoding ahead (selector.prefetch): order, the bound on work in flight, errors where the serial
loop raised them, and frames served to the consumer's own decode call."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from selector import video
from selector.video import reading
from selector.candidates import CandidatePlan
from selector.prefetch import PREFETCH_ENV, decode_ahead, decode_candidates, default_depth
from selector.video import decode_frames, probe
from tests.support.paths import VIDEOS

CLIP = VIDEOS / "moviepy__smpte-2997.mp4"


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_results_in_order_with_at_most_depth_ahead(depth: int) -> None:
    lock = threading.Lock()
    started: list[int] = []

    def load(item: int) -> int:
        with lock:
            started.append(item)
        return item * item

    consumed = 0
    for item, pending in decode_ahead(range(10), load, depth):
        assert pending.result() == item * item
        assert len(started) <= consumed + depth + 1  # never more than depth loads beyond this one
        consumed += 1
    assert consumed == 10


def test_a_failed_load_raises_at_its_turn_and_the_rest_go_on() -> None:
    def load(item: int) -> int:
        if item == 2:
            raise ValueError("bad video 2")
        return item

    results = []
    for item, pending in decode_ahead(range(5), load, 2):
        try:
            results.append(pending.result())
        except ValueError as error:
            results.append(str(error))
    assert results == [0, 1, "bad video 2", 3, 4]


def test_leaving_early_cancels_what_has_not_started() -> None:
    started: list[int] = []
    for item, pending in decode_ahead(range(100), started.append, 2):
        if item == 1:
            break
    assert len(started) <= 4


def test_depth_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PREFETCH_ENV, "5")
    assert default_depth() == 5
    monkeypatch.setenv(PREFETCH_ENV, "many")
    with pytest.raises(ValueError, match=PREFETCH_ENV):
        default_depth()
    with pytest.raises(ValueError, match="depth"):
        next(decode_ahead([1], str, -1))


def test_prefetched_frames_are_handed_over_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = decode_candidates(CLIP, CandidatePlan(n=6), lambda info: (32, 24))
    indices = [c.index for c in prepared.candidates]
    np.testing.assert_array_equal(prepared.decoded.frames, decode_frames(prepared.info, indices, size=(32, 24)).frames)
    decoded = []
    read = reading._read_pyav
    monkeypatch.setattr(reading, "_read_pyav", lambda *args: (decoded.append(True), read(*args))[1])
    with prepared.handed_over():
        assert decode_frames(prepared.info, indices, size=(32, 24)) is prepared.decoded
        decode_frames(prepared.info, indices[:2], size=(32, 24))  # another request is decoded
    assert len(decoded) == 1
    decode_frames(prepared.info, indices, size=(32, 24))  # outside the block: decoded as always
    assert len(decoded) == 2


def test_nothing_decoded_when_the_consumer_needs_no_pixels() -> None:
    prepared = decode_candidates(probe(CLIP), CandidatePlan(n=4), lambda info: None)
    assert prepared.decoded is None and len(prepared.candidates) == 4
    with prepared.handed_over():
        pass


def test_select_videos_matches_select_many(tiny_selector) -> None:
    videos = ["moviepy__smpte-2997.mp4", "torchcodec__nasa_13013.mp4", "moviepy__smpte-2997.mp4"]
    questions = [["what is shown?"], ["where is the rocket?", "how many people?"], ["what colour?"]]
    requests = [(VIDEOS / v, q) for v, q in zip(videos, questions)]
    expected = [tiny_selector.select_many(v, q, k=2, candidates=8) for v, q in requests]
    for depth in (0, 2):
        got = list(tiny_selector.select_videos(requests, k=2, candidates=8, prefetch=depth))
        assert [[s.to_dict() for s in group] for group in got] == [[s.to_dict() for s in group] for group in expected]


def test_select_videos_raises_at_a_bad_video(tiny_selector, tmp_path) -> None:
    missing = tmp_path / "missing.mp4"
    results = tiny_selector.select_videos([(CLIP, ["q?"]), (missing, ["q?"])], k=1, candidates=4, prefetch=2)
    assert len(next(results)) == 1
    with pytest.raises(video.VideoError, match="file not found"):
        next(results)
