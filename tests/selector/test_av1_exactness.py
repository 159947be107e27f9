"""Frame-exact decoding of SVT-AV1 video, and substitutes that are reported, never silent.

The clips are made here with PyAV's libsvtav1 (320x180, 25 fps, 75 frames, like the issue's
file), every frame showing its index in a row of black/white blocks (`painted_video`). libdav1d
reads FFmpeg's skip_frame only when it opens; opened while the first packet asked to skip
non-reference frames, it dropped every such frame of the read, wanted ones included (the odd
frames of SVT-AV1's mini-GOPs), and the frame before was handed over in their place.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from selector import Selection, VideoError, decode_frames, probe, read_frames
from selector.video import decoder
from selector.api import ScoredFrame
from eval.bench.painted import painted_index, painted_video
from selector.candidates import candidate_frames
from selector.handoff import clip_of, frame_bundle

WIDTH, HEIGHT, FPS, FRAMES = 320, 180, 25, 75
SMALL = (80, 45)  # decoded size: the painted blocks stay readable, the tests stay quick
SVT = {  # SVT-AV1's preset and GOP size; its default GOP is longer than the clip
    "preset12": {"preset": "12"},
    "preset8": {"preset": "8"},
    "preset12-gop30": {"preset": "12", "g": "30"},
    "preset8-gop30": {"preset": "8", "g": "30"},
}
ISSUE_FRAMES = [25, 35, 49]  # the frames the issue saw substituted


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    cache = tmp_path_factory.mktemp("av1")
    return {name: painted_video(FRAMES / FPS, WIDTH, HEIGHT, FPS, options, cache=cache, progress=False,
                                codec="libsvtav1")
            for name, options in SVT.items()}


def _numbers(frames: np.ndarray) -> list[int]:
    return [painted_index(f, WIDTH, HEIGHT) for f in frames]


def _dropping(monkeypatch: pytest.MonkeyPatch, index: int, only_while_skipping: bool = False) -> None:
    """Make the decoder lose frame ``index`` (always, or only while it skips non-reference frames)."""
    decode = decoder._Decoder._decode

    def lossy(self: decoder._Decoder) -> Iterator:
        for frame in decode(self):
            if frame.pts == self.pts[index] and (self.keep is not None or not only_while_skipping):
                continue
            yield frame

    monkeypatch.setattr(decoder._Decoder, "_decode", lossy)


# ---------------------------------------------------------------- exact on every SVT-AV1 clip

@pytest.mark.parametrize("name", SVT)
def test_clip_is_av1_and_shows_its_numbers(clips: dict[str, Path], name: str) -> None:
    info = probe(clips[name])
    assert info.codec == "av1" and info.num_frames == FRAMES
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.keyframes.tolist() == ([0, 30, 60] if "gop30" in name else [0])
    everything = read_frames(info, range(FRAMES), size=SMALL)  # one pass from the start, nothing skipped
    assert _numbers(everything) == list(range(FRAMES))


@pytest.mark.usefixtures("decode_workers")
@pytest.mark.parametrize("name", SVT)
def test_every_read_is_exact(clips: dict[str, Path], name: str, caplog: pytest.LogCaptureFixture) -> None:
    info = probe(clips[name])
    order = np.random.default_rng(3).permutation(FRAMES).tolist()
    reads = [[i] for i in (*ISSUE_FRAMES, 1, 31, 61, 73, 74)] + [
        ISSUE_FRAMES, order[:7], sorted(order[7:30]), list(range(1, FRAMES, 2)), order + order[:5]]
    with caplog.at_level(logging.INFO, logger="selector.video"):
        for indices in reads:
            decoded = decode_frames(info, indices, size=SMALL)
            assert _numbers(decoded.frames) == indices
            assert decoded.substituted == ()
    # Exact at the first try: no frame had to be decoded again.
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO and "did not" in r.getMessage()]


@pytest.mark.usefixtures("decode_workers")
@pytest.mark.parametrize("name", ["preset12", "preset12-gop30"])
def test_issue_frames_match_the_sequential_decode(clips: dict[str, Path], name: str) -> None:
    info = probe(clips[name])
    sequential = read_frames(info, range(FRAMES))
    for i in ISSUE_FRAMES:
        np.testing.assert_array_equal(read_frames(info, [i])[0], sequential[i], err_msg=f"frame {i}")


# ---------------------------------------------------------------- frames a decoder loses

@pytest.mark.usefixtures("decode_workers")
def test_frame_lost_while_skipping_is_decoded_again(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    info = probe(clips["preset12-gop30"])
    _dropping(monkeypatch, 35, only_while_skipping=True)
    with caplog.at_level(logging.INFO, logger="selector.video"):
        decoded = decode_frames(info, [33, 35, 49], size=SMALL)
    assert _numbers(decoded.frames) == [33, 35, 49] and decoded.substituted == ()
    assert any("frame 35 did not come out" in r.getMessage() for r in caplog.records)


@pytest.mark.usefixtures("decode_workers")
def test_frame_that_never_decodes_is_a_reported_substitute(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    info = probe(clips["preset12-gop30"])
    _dropping(monkeypatch, 35)
    with caplog.at_level(logging.WARNING, logger="selector.video"):
        decoded = decode_frames(info, [49, 35, 12, 35], size=SMALL)
    assert _numbers(decoded.frames) == [49, 34, 12, 34]  # the frame shown before it stands in
    assert decoded.substituted == (35,)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"{info.path}: frame 35 did not decode; frame 34 stands in for it, marked as a substitute"]
    with pytest.raises(VideoError, match=r"do not decode .*: 35; decode_frames"):
        read_frames(info, [12, 35], size=SMALL)


def test_selection_notes_substituted_candidates(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                                tiny_selector) -> None:
    info = probe(clips["preset8-gop30"])
    candidates = [c.index for c in candidate_frames(info, 16)]
    lost = candidates[7]
    _dropping(monkeypatch, lost)
    selections = tiny_selector.select_many(info, ["what happens?", "and then?"], k=16, candidates=16)
    for selection in selections:
        assert selection.notes == {"substituted": [lost]}
        assert selection.to_dict()["notes"] == {"substituted": [lost]}
        assert clip_of(selection, info).record()["substituted"] == [lost]  # chosen: k = all candidates


def test_handoff_record_lists_substitutes_found_when_decoding(clips: dict[str, Path],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # A selection made without decoding (e.g. uniform) learns of the substitute at hand-off.
    info = probe(clips["preset12"])
    frames = [ScoredFrame(**c.to_dict()) for c in candidate_frames(info, 75) if c.index in (10, 35, 60)]
    selection = Selection(info.path, "q?", 3, frames, [], frames, {"rule": "uniform"})
    clip = clip_of(selection, info)
    assert clip.record()["substituted"] == []
    _dropping(monkeypatch, 35)
    bundle = frame_bundle(clip, size=SMALL)
    assert bundle.handoff["substituted"] == [35] == clip.record()["substituted"]
    assert selection.notes["substituted"] == [35]
    assert _numbers(bundle.frames) == [10, 34, 60]
