import warnings

import numpy as np
import pytest

from selector import CandidatePlan, FrameSelector, Selection, VideoError, VideoQuestion, probe

BUNNY = "moviepy__big_buck_bunny_0_30.webm"


def test_select_returns_k_distinct_frames_with_true_times(tiny_selector, videos):
    selection = tiny_selector.select(videos / BUNNY, "When does the bunny come out?", k=8)
    assert isinstance(selection, Selection)
    assert len(selection.frames) == 8 and len(selection.scores) == 128 == len(selection.candidates)
    candidates = [f.candidate for f in selection.frames]
    assert candidates == sorted(set(candidates))
    info = probe(videos / BUNNY)
    for frame in selection.frames:
        assert frame.seconds == info.timestamps[frame.index]
        assert frame.score == pytest.approx(selection.scores[frame.candidate])
        assert selection.candidates[frame.candidate].index == frame.index
    assert all(0.0 <= s <= 1.0 for s in selection.scores)
    assert selection.settings["rule"] == "nms" and selection.settings["delta"] == 128 // 32
    assert selection.settings["plan"]["n"] == 128


def test_select_many_equals_one_question_at_a_time(tiny_selector, videos):
    questions = ["When does the bunny come out?", "What colour is the sky in the opening shot?", "Is it night?"]
    many = tiny_selector.select_many(videos / BUNNY, questions, k=4, candidates=32)
    for question, selection in zip(questions, many):
        alone = tiny_selector.select(videos / BUNNY, question, k=4, candidates=32)
        np.testing.assert_allclose(selection.scores, alone.scores, rtol=1e-5, atol=1e-6)
        assert selection.indices == alone.indices
        assert selection.question == question


def test_question_records_select_as_texts_with_parallel_options(tiny_selector, videos):
    """A `VideoQuestion` carries its options: the same selections as the older form, texts with
    one option list per question."""
    texts, options = ["Which colour?", "Is it night?"], [["red", "green", ""], None]
    records = [VideoQuestion("a", str(videos / BUNNY), texts[0], options[0]), VideoQuestion("b", str(videos / BUNNY), texts[1])]
    by_records = tiny_selector.select_many(videos / BUNNY, records, k=3, candidates=16)
    by_lists = tiny_selector.select_many(videos / BUNNY, texts, k=3, candidates=16, options=options)
    assert [s.to_dict() for s in by_records] == [s.to_dict() for s in by_lists]
    assert by_records[0].options == ["red", "green", ""] and by_records[1].options is None
    one = tiny_selector.select(videos / BUNNY, texts[0], k=3, candidates=16, options=options[0])
    assert tiny_selector.select(videos / BUNNY, records[0], k=3, candidates=16).to_dict() == one.to_dict()
    assert np.array_equal(tiny_selector.score(videos / BUNNY, records, candidates=16)[2],
                          tiny_selector.score(videos / BUNNY, texts, candidates=16, options=options)[2])
    with pytest.raises(ValueError, match="its options are its own"):
        tiny_selector.select(videos / BUNNY, records[0], k=3, candidates=16, options=["x"])


def test_video_with_fewer_frames_than_candidates(tiny_selector, videos):
    selection = tiny_selector.select(videos / "torchcodec__h265_video.mp4", "Which frame shows 7?", k=3)
    assert len(selection.candidates) == 10
    assert [c.index for c in selection.candidates] == list(range(10))
    assert len(selection.frames) == 3


def test_variable_frame_rate_and_rotation(tiny_selector, videos):
    vfr = tiny_selector.select(videos / "torchcodec__var_fps_video.mp4", "what moves?", k=4, candidates=16)
    info = probe(videos / "torchcodec__var_fps_video.mp4")
    assert [c.seconds for c in vfr.candidates] == [float(info.timestamps[c.index]) for c in vfr.candidates]
    rotated = tiny_selector.select(videos / "mediabunny__rotate-buck-bunny.mp4", "what is shown?", k=2, candidates=8)
    assert len(rotated.frames) == 2


def test_fps_plan(tiny_selector, videos):
    selection = tiny_selector.select(videos / BUNNY, "q?", k=4, candidates=CandidatePlan(kind="fps", fps=1.0))
    assert len(selection.candidates) == 30  # 30 s at 1 frame a second


@pytest.mark.parametrize("rule", ["topk", "uniform"])
def test_other_rules(tiny_selector, videos, rule):
    selection = tiny_selector.select(videos / BUNNY, "q?", k=4, candidates=16, rule=rule)
    assert selection.settings["rule"] == rule and selection.settings["delta"] is None
    if rule == "uniform":
        assert [f.candidate for f in selection.frames] == [2, 6, 10, 14]


def test_bad_input(tiny_selector, videos, tmp_path):
    with pytest.raises(ValueError, match="k=20"):
        tiny_selector.select(videos / "torchcodec__h265_video.mp4", "q?", k=20)
    with pytest.raises(ValueError, match="question"):
        tiny_selector.select(videos / BUNNY, "  ", k=2)
    with pytest.raises(ValueError, match="max_candidates"):
        tiny_selector.select(videos / BUNNY, "q?", k=2, candidates=200)
    with pytest.raises(VideoError, match="missing.mp4"):
        tiny_selector.select(tmp_path / "missing.mp4", "q?", k=2)


@pytest.mark.parametrize("k, candidates", [(0, 16), (40, 16)])
def test_k_is_checked_before_any_decoding(tiny_selector, videos, monkeypatch, k, candidates):
    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded before checking k")

    monkeypatch.setattr("selector.api.decode_frames", no_decoding)
    with pytest.raises(ValueError, match=f"k={k} must be between 1 and the number of candidates \\(16\\)"):
        tiny_selector.select(videos / BUNNY, "q?", k=k, candidates=candidates)


def test_selecting_warns_nothing(tiny_selector, videos):
    """A user's stderr shows the selection or its error, not library deprecations (transformers
    renamed the cache argument in 5.24)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiny_selector.select_many(videos / BUNNY, ["q?", "a longer question?"], k=2, candidates=8)
    assert [str(w.message) for w in caught] == []


def test_to_dict_shape(tiny_selector, videos):
    d = tiny_selector.select(videos / BUNNY, "q?", k=2, candidates=8).to_dict()
    assert {"video", "question", "k", "candidates", "frames", "scores", "settings"} <= set(d)
    assert d["candidates"] == 8 and len(d["scores"]) == 8
    assert set(d["frames"][0]) == {"candidate", "index", "seconds", "score"}
