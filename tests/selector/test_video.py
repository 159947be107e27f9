"""Tests for selector.video on the real test videos and on tiny clips made here with PyAV.

Frame-exactness is checked two independent ways: against a plain sequential PyAV decode (no
seeking), and by reading the frame number painted into generated clips.
"""

from __future__ import annotations

import functools
import gc
import logging
import pickle
import weakref
from pathlib import Path

import av
import numpy as np
import pytest

from selector.video import decoder, probing
from selector.video import DecodeOptions, VideoError, VideoInfo, probe, read_frames
from tests.support.paths import VIDEOS

FILES = sorted(p.name for p in VIDEOS.iterdir() if p.suffix in {".mp4", ".mkv", ".webm"})
SMALL = (64, 48)  # (width, height) used for reads compared pixel by pixel


def _path(name: str) -> str:
    return str(VIDEOS / name)


@functools.lru_cache(maxsize=None)
def _info(name: str) -> VideoInfo:
    return probe(_path(name))


@functools.lru_cache(maxsize=None)
def _reference(name: str) -> np.ndarray:
    """Every frame of the file at SMALL, decoded sequentially from the start without seeking."""
    info = _info(name)
    turns = round(info.rotation / 90) % 4
    scale = SMALL[::-1] if turns % 2 else SMALL
    with av.open(_path(name)) as container:
        stream = container.streams[info.stream_index]
        frames = [np.rot90(f.to_ndarray(format="rgb24", width=scale[0], height=scale[1]), k=turns)
                  for f in container.decode(stream)]
    return np.stack(frames)


# ---------------------------------------------------------------- painted clips

BITS = 8  # the frame index, as 8 blocks of 8x16 px along the top edge (white = 1)


def _paint(index: int, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    img = rng.integers(64, 192, (height, width, 3), dtype=np.uint8)  # noise: real P/B frames
    block = width // BITS
    for bit in range(BITS):
        img[:16, bit * block:(bit + 1) * block] = 255 if index >> bit & 1 else 0
    return img


def _read_painted(img: np.ndarray) -> int:
    block = img.shape[1] / BITS
    return sum(1 << bit for bit in range(BITS)
               if img[4:12, int(bit * block + block / 4):int(bit * block + 3 * block / 4)].mean() > 128)


def _make_clip(path: Path, n: int = 40, options: dict[str, str] | None = None, codec: str = "libx264",
               fmt: str | None = None, rotation: int = 0) -> Path:
    """A 64x48 clip whose frame i shows i; with ``rotation`` the stored pixels are turned so that
    the display matrix brings them back upright."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=30)
        upright = (48, 64) if rotation else (64, 48)
        stream.width, stream.height = (upright[1], upright[0]) if rotation else upright
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", **(options or {})} if codec == "libx264" else dict(options or {})
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(n):
            img = _paint(i, *upright, rng)
            stored = np.ascontiguousarray(np.rot90(img, k=-round(rotation / 90))) if rotation else img
            container.mux(stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")))
        container.mux(stream.encode())
    return path


X264_STRESS = {
    "closed-gop-bframes": {"bf": "2", "g": "12"},
    "open-gop-pyramid": {"bf": "3", "g": "8", "x264-params": "open-gop=1:b-pyramid=normal:scenecut=0"},
    "gop2-many-bframes": {"bf": "8", "g": "2", "x264-params": "b-pyramid=normal"},
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("clips")
    made = {f"{name}.{ext}": _make_clip(out / f"{name}.{ext}", options=opts)
            for name, opts in X264_STRESS.items() for ext in ("mp4", "mkv")}
    # MPEG-TS seeks by searching timestamps in the byte stream and often lands after the target.
    made["closed-gop-bframes.ts"] = _make_clip(out / "closed-gop-bframes.ts", options=X264_STRESS["closed-gop-bframes"])
    made["vp9.webm"] = _make_clip(out / "vp9.webm", codec="libvpx-vp9", options={"deadline": "realtime"})
    made["rotated.mp4"] = _make_clip(out / "rotated.mp4", n=12, rotation=-90)
    return made


# ---------------------------------------------------------------- every test video

@pytest.mark.parametrize("name", FILES)
def test_probe_every_video(name: str) -> None:
    info = _info(name)
    assert info.num_frames > 1
    assert np.all(np.diff(info.timestamps) > 0)
    assert info.duration > info.timestamps[-1]
    assert info.fps == pytest.approx(info.num_frames / (info.duration - info.timestamps[0]))
    assert info.width > 0 and info.height > 0
    assert info.keyframes is not None and info.keyframes[0] == 0


@pytest.mark.usefixtures("decode_workers")
@pytest.mark.parametrize("backend", ["auto", "pyav"])
@pytest.mark.parametrize("name", FILES)
def test_read_matches_sequential_decode(name: str, backend: str) -> None:
    info = _info(name)
    n = info.num_frames
    rng = np.random.default_rng(len(name))
    indices = [n - 1, 0, n // 2, n // 2, *rng.integers(0, n, 4).tolist(), 1]  # unsorted, duplicates
    frames = read_frames(info, indices, size=SMALL, backend=backend)
    assert frames.shape == (len(indices), SMALL[1], SMALL[0], 3) and frames.dtype == np.uint8
    reference = _reference(name)
    assert len(reference) == n
    for frame, i in zip(frames, indices):
        np.testing.assert_array_equal(frame, reference[i], err_msg=f"frame {i}")


@pytest.mark.usefixtures("decode_workers")
@pytest.mark.parametrize("name", FILES)
def test_first_read_past_the_first_keyframe_is_exact(name: str) -> None:
    # A fresh decoder whose first move is a seek (every parallel worker's) must know the stream's
    # in-band parameter sets: imageio__cockatoo.mp4's keyframe 76 decoded to garbage without them.
    info = _info(name)
    reference = _reference(name)
    for i in (int(info.keyframes[-1]), info.num_frames - 1):
        np.testing.assert_array_equal(read_frames(info, [i], size=SMALL)[0], reference[i], err_msg=f"frame {i}")


@pytest.mark.parametrize("name", FILES)
def test_decord_backend_never_fails(name: str) -> None:
    # decord cannot open AV1 and crashes on some resizes of rotated video: PyAV takes over.
    info = _info(name)
    frames = read_frames(info, [info.num_frames - 1, 0], size=(32, 32), backend="decord")
    assert frames.shape == (2, 32, 32, 3) and frames.dtype == np.uint8


def test_decord_failure_is_logged_and_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    info = _info("torchcodec__av1_video.mkv")
    with caplog.at_level(logging.INFO, logger="selector.video"):
        frames = read_frames(info, [3, 100], size=SMALL, backend="decord")
    assert any("PyAV" in r.getMessage() for r in caplog.records)
    np.testing.assert_array_equal(frames, _reference("torchcodec__av1_video.mkv")[[3, 100]])


def test_path_and_info_give_the_same_frames() -> None:
    name = "torchcodec__h265_video.mp4"
    np.testing.assert_array_equal(read_frames(_path(name), [7, 2], size=SMALL),
                                  read_frames(_info(name), [7, 2], size=SMALL))


# ---------------------------------------------------------------- frame-exact on painted clips

@pytest.mark.usefixtures("decode_workers")
@pytest.mark.parametrize("backend", ["auto", "pyav"])
@pytest.mark.parametrize("clip", [f"{n}.{e}" for n in X264_STRESS for e in ("mp4", "mkv")]
                         + ["closed-gop-bframes.ts", "vp9.webm"])
def test_painted_clips_frame_exact(clips: dict[str, Path], clip: str, backend: str) -> None:
    info = probe(clips[clip])
    assert info.num_frames == 40
    order = np.random.default_rng(1).permutation(40).tolist()
    for indices in ([39, 0, 20], order[:7], sorted(order[7:19]), order + order[:5]):
        frames = read_frames(info, indices, backend=backend)
        assert [_read_painted(f) for f in frames] == indices


def test_seeks_only_when_they_skip_work(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    starts: list[int] = []
    restart = decoder._Decoder._restart
    monkeypatch.setattr(decoder._Decoder, "_restart", lambda self, kpos: (starts.append(kpos), restart(self, kpos)))
    info = probe(clips["closed-gop-bframes.mp4"])
    keyframes = info.keyframes.tolist()
    assert len(keyframes) == 4  # GOPs of about 12 frames
    read_frames(info, range(40), workers=1)
    assert starts == [0]  # one pass from the start, no seek
    starts.clear()
    read_frames(info, [1, 3, keyframes[1] + 2, 39], workers=1)
    assert starts == [0, 1, 3]  # the last two lie beyond the next keyframe: seek there


@pytest.mark.parametrize("options, seeks", [
    (DecodeOptions(), [0, 1, 3]),
    (DecodeOptions(seek_gap=float("inf")), [0]),  # sequential: one pass from the start
    (DecodeOptions(seek_gap=float("-inf")), [0, 0, 1, 3]),  # a seek before every frame
    (DecodeOptions(skip_nonref=False), [0, 1, 3]),
], ids=["default", "sequential", "seek-every-frame", "no-skipping"])
def test_decode_options_change_the_work_not_the_frames(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                                       options: DecodeOptions, seeks: list[int]) -> None:
    starts: list[int] = []
    restart = decoder._Decoder._restart
    monkeypatch.setattr(decoder._Decoder, "_restart", lambda self, kpos: (starts.append(kpos), restart(self, kpos)))
    info = probe(clips["closed-gop-bframes.mp4"])  # 4 keyframes, B-frames between them
    indices = [1, 3, int(info.keyframes[1]) + 2, 39]
    frames = read_frames(info, indices, workers=1, options=options)
    assert [_read_painted(f) for f in frames] == indices and starts == seeks


@pytest.mark.parametrize("workers", [1, 2])
def test_decoders_are_freed_when_a_read_returns(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                                workers: int) -> None:
    """Issue 25: a decoder that waited for Python's cyclic collector kept its codec context, with
    FFmpeg's threads and their frame buffers; `frame-selector serve` piled up hundreds of MiB of
    them. Each must be gone once its read returns, with the collector off."""
    made: list[weakref.ref] = []
    init = decoder._Decoder.__init__

    def tracked(self: decoder._Decoder, *args: object) -> None:
        made.append(weakref.ref(self))
        init(self, *args)

    monkeypatch.setattr(decoder._Decoder, "__init__", tracked)
    info = probe(clips["closed-gop-bframes.mp4"])
    gc.disable()
    try:
        read_frames(info, [1, 20, 39], workers=workers)
        assert len(made) == workers and all(ref() is None for ref in made)
    finally:
        gc.enable()


def test_decord_exact_on_closed_gop(clips: dict[str, Path]) -> None:
    # The one kind of stream decord got right in the benchmark (with or without decord installed).
    indices = [33, 5, 17, 18, 2, 39, 0]
    frames = read_frames(clips["closed-gop-bframes.mp4"], indices, backend="decord")
    assert [_read_painted(f) for f in frames] == indices


def test_timestamps_from_decoded_frames_when_packets_lack_pts(
        clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    path = clips["open-gop-pyramid.mp4"]
    from_packets = probe(path)
    monkeypatch.setattr(probing, "_scan_packets", lambda *args: None)
    from_frames = probe(path)
    np.testing.assert_array_equal(from_frames.timestamps, from_packets.timestamps)
    assert list(from_frames.keyframes) == [0]  # no seeking: decoded from the start
    indices = [31, 4, 4, 17]
    assert [_read_painted(f) for f in read_frames(from_frames, indices)] == indices


def test_raw_stream_without_timestamps_is_rejected(tmp_path: Path) -> None:
    raw = _make_clip(tmp_path / "raw.h264", n=6, fmt="h264")
    with pytest.raises(VideoError, match="raw.h264.*no timestamps"):
        probe(raw)


# ---------------------------------------------------------------- special files

def test_variable_frame_rate_timestamps() -> None:
    info = _info("torchcodec__var_fps_video.mp4")
    ts = info.timestamps
    assert info.num_frames == 300
    np.testing.assert_allclose(ts[:31], np.arange(31) / 30, atol=1e-6)
    gaps = np.diff(ts)
    assert gaps[30] == pytest.approx(0.5333, abs=1e-3)  # after t = 1.0 s
    np.testing.assert_allclose(gaps[31::2], 2 / 30, atol=1e-6)
    np.testing.assert_allclose(gaps[32::2], 1 / 30, atol=1e-6)
    assert info.duration == pytest.approx(ts[-1] + 1 / 30, abs=1e-6)
    assert info.fps == pytest.approx(300 / info.duration)


def test_stream_start_offset_is_kept() -> None:
    assert _info("mediabunny__rotate-buck-bunny.mp4").timestamps[0] == pytest.approx(4800 / 57600)
    assert _info("moviepy__big_buck_bunny_0_30.webm").timestamps[0] == pytest.approx(0.003)


def test_rotation_gives_portrait_display() -> None:
    info = _info("mediabunny__rotate-buck-bunny.mp4")
    assert (info.rotation, info.width, info.height) == (-90, 1080, 1920)
    frames = read_frames(info, [30, 10])
    assert frames.shape == (2, 1920, 1080, 3)
    try:
        import decord  # an independent implementation of the display matrix
    except ImportError:
        return
    theirs = decord.VideoReader(info.path, ctx=decord.cpu(0)).get_batch([30, 10]).asnumpy()
    assert np.abs(frames.astype(int) - theirs).mean() < 2


def test_rotated_frames_are_upright(clips: dict[str, Path]) -> None:
    info = probe(clips["rotated.mp4"])
    assert (info.rotation, info.width, info.height) == (-90, 48, 64)
    frames = read_frames(info, [11, 0, 5])
    assert frames.shape == (3, 64, 48, 3)
    assert [_read_painted(f) for f in frames] == [11, 0, 5]  # the numbers read left to right on top
    assert read_frames(info, [5], size=(24, 32)).shape == (1, 32, 24, 3)


def test_sample_aspect_ratio_gives_display_width() -> None:
    info = _info("mediabunny__sar_2x1.mp4")
    assert (info.width, info.height) == (1280, 360)
    assert read_frames(info, [0]).shape == (1, 360, 1280, 3)


def test_best_stream_of_multi_stream_file() -> None:
    info = _info("torchcodec__nasa_13013.mp4")
    assert (info.stream_index, info.width, info.height, info.num_frames) == (3, 480, 270, 390)
    assert info.fps == pytest.approx(30000 / 1001, rel=1e-3)


@pytest.mark.parametrize("size", [(256, 256), (100, 50), (7, 300)])
def test_resize_output_shape(size: tuple[int, int]) -> None:
    frames = read_frames(_info("moviepy__smpte-2997.mp4"), [0, 100], size=size)
    assert frames.shape == (2, size[1], size[0], 3)


def test_empty_index_list() -> None:
    assert read_frames(_info("torchcodec__h265_video.mp4"), [], size=(10, 20)).shape == (0, 20, 10, 3)


# ---------------------------------------------------------------- bad input

def _truncated(path: Path, faststart: bool) -> Path:
    whole = _make_clip(path.with_name("whole_" + path.name), n=30)
    if faststart:  # remux with the index in front, so the cut keeps the index
        moved = path.with_name("fs_" + path.name)
        with av.open(str(whole)) as src, av.open(str(moved), "w", options={"movflags": "faststart"}) as dst:
            out = dst.add_stream_from_template(src.streams.video[0])
            for packet in src.demux(src.streams.video[0]):
                if packet.dts is not None:
                    packet.stream = out
                    dst.mux(packet)
        whole = moved
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
    return path


def _write(data: bytes):
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path
    return make


BAD = {
    "missing.mp4": lambda path: path,
    "empty.mp4": _write(b""),
    "random.mp4": _write(np.random.default_rng(0).bytes(50_000)),
    "cut.mp4": lambda path: _truncated(path, faststart=False),
    "cut_faststart.mp4": lambda path: _truncated(path, faststart=True),
    "audio.wav": _audio_only,
}


@pytest.mark.parametrize("name", BAD)
def test_bad_files_raise_video_error(tmp_path: Path, name: str) -> None:
    path = BAD[name](tmp_path / name)
    with pytest.raises(VideoError) as probed:
        probe(path)
    with pytest.raises(VideoError) as read:
        read_frames(str(path), [0])
    for error in (probed.value, read.value):
        assert name in str(error) and "\n" not in str(error)
        assert error.path == str(path)


def test_directory_raises_video_error(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="not a regular file"):
        probe(tmp_path)


@pytest.mark.parametrize("index", [10, -1, 1_000_000])
def test_index_out_of_range(index: int) -> None:
    name = "torchcodec__h265_video.mp4"
    with pytest.raises(VideoError, match=rf"{name}.*{index} out of range.*10 frames"):
        read_frames(_info(name), [0, index])


def test_caller_bugs_are_value_errors() -> None:
    info = _info("torchcodec__h265_video.mp4")
    with pytest.raises(ValueError, match="backend"):
        read_frames(info, [0], backend="opencv")
    with pytest.raises(ValueError, match="size"):
        read_frames(info, [0], size=(0, 10))


def test_video_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(VideoError("a/b.mp4", "bad\nthing")))
    assert (error.path, error.reason, str(error)) == ("a/b.mp4", "bad thing", "a/b.mp4: bad thing")
