import numpy as np
import pytest

from selector import CandidatePlan, VideoInfo, candidate_frames, probe
from selector.candidates import nearest_keyframe_indices, time_uniform_indices


def fake_info(timestamps, duration, fps=30.0) -> VideoInfo:
    return VideoInfo(
        path="fake.mp4", stream_index=0, codec="h264", timestamps=np.asarray(timestamps, dtype=float),
        duration=duration, fps=fps, width=64, height=48, rotation=0,
    )


def test_uniform_plan_gives_n_distinct_frames_in_time_order():
    info = fake_info(np.arange(3000) / 30, 100.0)
    frames = candidate_frames(info, 128)
    assert len(frames) == 128
    assert [f.candidate for f in frames] == list(range(128))
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices))
    # Middles of 128 equal segments of 100 s.
    expected = (np.arange(128) + 0.5) * 100 / 128
    assert np.abs(np.array([f.seconds for f in frames]) - expected).max() <= 1 / 30 + 1e-9
    assert all(f.fps == 30.0 for f in frames)


def test_fewer_frames_than_n_gives_every_frame_once():
    info = fake_info(np.arange(10) / 10, 1.0, fps=10)
    assert [f.index for f in candidate_frames(info, 128)] == list(range(10))


def test_exactly_n_frames():
    info = fake_info(np.arange(128) / 25, 128 / 25)
    assert [f.index for f in candidate_frames(info, 128)] == list(range(128))


def test_variable_frame_rate_is_sampled_by_time_not_index():
    # 100 frames in the first second, then 100 frames over the next 99 s.
    ts = np.concatenate([np.arange(100) / 100, 1 + np.arange(100) * 0.99])
    info = fake_info(ts, 100.0)
    frames = candidate_frames(info, 10)
    seconds = np.array([f.seconds for f in frames])
    # Index-uniform sampling would put five of the ten candidates in the first second.
    assert (seconds < 1.0).sum() == 0
    assert np.abs(seconds - (np.arange(10) + 0.5) * 10).max() < 1.0


def test_gaps_never_produce_duplicates():
    # One long gap: many segment middles fall on the same frame.
    ts = np.concatenate([np.arange(20) / 30, 50 + np.arange(20) / 30])
    idx = time_uniform_indices(ts, 51.0, 30)
    assert len(idx) == 30 and len(set(idx.tolist())) == 30 and list(idx) == sorted(idx)


def test_fps_plan_decays_with_duration_and_clamps():
    plan = CandidatePlan(kind="fps", fps=2.0, min_frames=8, max_frames=128, decay_after=32)
    assert plan.count(2.0) == 8  # clamped up
    assert plan.count(10.0) == 20
    assert plan.count(32.0) == 64
    assert plan.count(128.0) == 128  # 64 * sqrt(4)
    assert plan.count(3600.0) == 128  # clamped down
    counts = [plan.count(d) for d in (40, 60, 80, 100)]
    assert counts == sorted(counts)
    rates = [plan.count(d) / d for d in (40, 60, 80, 100)]
    assert rates == sorted(rates, reverse=True)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("128", CandidatePlan(n=128)),
        ("uniform:64", CandidatePlan(n=64)),
        ("fps", CandidatePlan(kind="fps")),
        ("fps:1.5", CandidatePlan(kind="fps", fps=1.5)),
        ("fps:1:4:32", CandidatePlan(kind="fps", fps=1.0, min_frames=4, max_frames=32)),
        ("keyframes:64", CandidatePlan(kind="keyframes", n=64)),
    ],
)
def test_parse(text, expected):
    assert CandidatePlan.parse(text) == expected


@pytest.mark.parametrize("text", ["", "many", "uniform:x", "0", "fps:-1", "fps:2:10:5", "keyframes:0", "keyframes"])
def test_parse_rejects_bad_plans(text):
    with pytest.raises(ValueError, match="plan"):
        CandidatePlan.parse(text)


def test_real_variable_frame_rate_video(videos):
    info = probe(videos / "torchcodec__var_fps_video.mp4")
    frames = candidate_frames(info, 32)
    seconds = np.array([f.seconds for f in frames])
    span = info.duration - info.timestamps[0]
    targets = info.timestamps[0] + (np.arange(32) + 0.5) * span / 32
    # Each candidate is the frame on screen at its target time (frames last at most 2/30 s here).
    assert np.all(seconds <= targets + 1e-9) and np.all(targets - seconds < 0.6)
    assert all(info.timestamps[f.index] == f.seconds for f in frames)


def test_keyframe_plan_takes_the_nearest_keyframes_and_says_it_is_approximate(videos):
    info = probe(videos / "moviepy__big_buck_bunny_0_30.webm")
    plan = CandidatePlan.parse("keyframes:6")
    frames = candidate_frames(info, plan)
    indices = [f.index for f in frames]
    assert len(indices) == 6 and indices == sorted(set(indices))
    assert set(indices) <= set(info.keyframes.tolist())
    assert plan.to_dict()["exact"] is False and not plan.exact
    assert "exact" not in CandidatePlan(n=6).to_dict()  # exact plans keep their records as they were


def test_nearest_keyframes_are_distinct_and_nearest():
    timestamps = np.arange(100) / 10.0  # 10 s at 10 fps
    keyframes = np.array([0, 10, 12, 40, 90])
    # Targets 1.25, 3.75, 6.25, 8.75 s; nearest keyframes 1.2 s (12), 4.0 (40), 4.0 (40), 9.0 (90):
    # the collision is pushed apart in time order, the first pick back to 10.
    assert nearest_keyframe_indices(timestamps, keyframes, 10.0, 4).tolist() == [10, 12, 40, 90]
    assert nearest_keyframe_indices(timestamps, keyframes, 10.0, 2).tolist() == [12, 90]  # 2.5 s, 7.5 s
    assert nearest_keyframe_indices(timestamps, keyframes, 10.0, 8).tolist() == keyframes.tolist()
