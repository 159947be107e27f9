"""The proxy under test: the real server on loopback in front of the fake upstream, with the
tiny selector, and a media root of four short painted videos (each frame shows its index; one of
variable frame rate, where a frame's time is not index / fps)."""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from eval.bench.painted import painted_video
from tests.support.fake_openai import FakeOpenAI

def scrape(url: str, headers: dict[str, str] | None = None) -> dict[str, float]:
    """The proxy's `/metrics`, read with prometheus_client's own parser: each sample's value by
    the sample as the text format writes it (`name{label="value",...}`, labels sorted)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(urllib.request.Request(url + "/metrics", headers=headers or {})).read().decode()
    return {sample.name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items())) + "}"
                           if sample.labels else ""): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


VIDEO_NAMES = ["vfr.mp4", "painted1.mp4", "painted2.mp4", "painted3.mp4"]
# vfr.mp4: 15 frames at 30 fps, then 15 at 7.5 fps; index / fps is off by up to 0.7 s.
VFR_TIMES = np.concatenate([np.arange(15) / 30, 0.5 + np.arange(15) / 7.5])


def variable_rate_copy(source: Path, target: Path, times: np.ndarray) -> None:
    """`source`'s frames re-encoded with presentation times `times` (seconds)."""
    import av

    from selector.video import probe, read_frames

    info = probe(source)
    frames = read_frames(info, range(info.num_frames))
    with av.open(str(target), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = info.width, info.height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"bf": "0"}
        for image, seconds in zip(frames, times):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = int(round(seconds * 1000)), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def painted_media(root: Path, made: Path, width: int, height: int) -> Path:
    """`root` holding the four `VIDEO_NAMES` clips at `width` x `height` (painted in `made`) and a
    broken file."""
    for seed in (1, 2, 3):
        shutil.copy(painted_video(2.0, width, height, 15, cache=made, progress=False, seed=seed), root / f"painted{seed}.mp4")
    variable_rate_copy(painted_video(2.0, width, height, 15, cache=made, progress=False, seed=4), root / "vfr.mp4", VFR_TIMES)
    (root / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    return root


@pytest.fixture(scope="session")
def media_root(tmp_path_factory) -> Path:
    return painted_media(tmp_path_factory.mktemp("media"), tmp_path_factory.mktemp("painted"), 64, 64)


@pytest.fixture(scope="session")
def fake(media_root) -> Iterator[FakeOpenAI]:
    """The fake upstream, checking every forwarded frame against the four videos' true times."""
    with FakeOpenAI(videos=[str(media_root / name) for name in VIDEO_NAMES], lifetime=1200) as server:
        yield server


@pytest.fixture
def proxy(tiny_selector, tiny_selector_dir, fake, media_root) -> Callable:
    """`with proxy(**settings) as url:` the proxy at `url`, in front of `fake` unless `upstream=`."""
    from selector.serve import ServeSettings
    from selector.serve.app import build_app
    from selector.serve.hosting import ServerThread

    @contextmanager
    def running(**overrides) -> Iterator[str]:
        values = dict(selector=str(tiny_selector_dir), upstream=fake.base_url, media_root=str(media_root), k=4,
                      candidates="16", max_side=128, upstream_timeout=20.0)
        values.update(overrides)
        fake.always(None)
        with ServerThread(build_app(tiny_selector, ServeSettings(**values))) as server:
            yield server.url

    return running
