"""`frame-selector serve` answers as an OpenAI-compatible server: the official `openai` client
talks to the real proxy on loopback, which selects frames and forwards them with their true
times to the fake upstream (which refuses a frame labelled with any other time)."""

from __future__ import annotations

import base64
import json
import urllib.request

import pytest
from openai import OpenAI

from selector.video import probe
from tests.selector.serve.conftest import scrape
from tests.support.fake_openai import forwarded_frames


def video_message(url: str, question: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "video_url", "video_url": {"url": url}}, {"type": "text", "text": question}]}]


def client(url: str, **kwargs) -> OpenAI:
    return OpenAI(base_url=url + "/v1", api_key=kwargs.pop("api_key", "unused"), max_retries=0, **kwargs)


@pytest.mark.parametrize("route", ["openai", "vllm_video"])
def test_frames_go_upstream_with_the_containers_true_times(proxy, fake, media_root, route):
    info = probe(media_root / "vfr.mp4")  # variable frame rate: index / fps is off by up to 0.7 s
    with proxy(route=route) as url:
        raw = client(url).chat.completions.with_raw_response.create(
            model="vlm", messages=[{"role": "system", "content": "Be brief."}, *video_message("vfr.mp4", "What moves?")])
    answer = raw.parse()
    record = answer.model_extra["frame_selection"]
    assert json.loads(answer.choices[0].message.content)["question"] == "What moves?" == record["question"]
    assert record["k"] == 4 and record["candidates"] == 16 and record["route"] == route
    assert record["seconds"] == pytest.approx(info.timestamps[record["indices"]].tolist(), abs=1e-6)
    header = json.loads(raw.headers["x-frame-selection"])
    assert header["indices"] == record["indices"] and header["seconds"] == record["seconds"]
    body = fake.chat_requests()[-1].body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."} and body["model"] == "vlm"
    told = [t for t, _, _ in forwarded_frames(body)]
    assert told == pytest.approx(record["seconds"], abs=0.05 + 1e-6)
    assert ("media_io_kwargs" in body) == (route == "vllm_video") and "frame_selection" not in body


def test_the_fake_upstream_refuses_a_frame_labelled_with_index_over_fps(fake, media_root):
    """What makes the test above a check of true times: on this video frame 14 is shown at 0.467
    s, while 14 / fps says 1.1 s."""
    from selector.handoff import jpeg_base64
    from selector.video import read_frames

    info = probe(media_root / "vfr.mp4")
    url = "data:image/jpeg;base64," + jpeg_base64(read_frames(info, [14])[0])
    assert abs(14 / info.fps - info.timestamps[14]) > 0.5
    assert fake.true_frames.problem(round(float(info.timestamps[14]), 1), url, 0.05) is None
    assert "is frame 14, shown at 0.467 s" in fake.true_frames.problem(round(14 / info.fps, 1), url, 0.05)


def test_request_settings_override_the_flags_and_several_questions_share_one_prefix(proxy, fake):
    with proxy() as url:
        openai = client(url)
        first = openai.chat.completions.create(model="m", messages=video_message("painted1.mp4", "Where is it?"),
                                               extra_body={"frame_selection": {"k": 2, "candidates": 8, "rule": "topk"}})
        second = openai.chat.completions.create(model="m", messages=video_message("painted1.mp4", "And then?"),
                                                extra_body={"frame_selection": {"k": 2, "candidates": 8, "options": ["a", "b"]}})
        metrics = scrape(url)
    record = first.model_extra["frame_selection"]
    assert (record["k"], record["candidates"], record["rule"], record["cache"]) == (2, 8, "topk", "miss")
    assert len(json.loads(first.choices[0].message.content)["seconds"]) == 2
    assert second.model_extra["frame_selection"]["cache"] == "hit"  # same video and plan: the prefix is reused
    assert record["options"] is None and second.model_extra["frame_selection"]["options"] == ["a", "b"]
    assert metrics['frame_selector_video_cache_total{result="hit"}'] == 1


def test_file_urls_data_urls_and_streaming(proxy, media_root):
    data = "data:video/mp4;base64," + base64.b64encode((media_root / "painted3.mp4").read_bytes()).decode()
    with proxy() as url:
        openai = client(url)
        by_file = openai.chat.completions.create(model="m", messages=video_message(f"file://{media_root}/painted3.mp4", "Q1?"))
        by_data = openai.chat.completions.create(model="m", messages=video_message(data, "Q1?"))
        with openai.chat.completions.with_streaming_response.create(
                model="m", messages=video_message("painted3.mp4", "Streamed?"), stream=True) as response:
            header = json.loads(response.headers["x-frame-selection"])
            text = "".join(chunk.choices[0].delta.content or "" for chunk in response.parse() if chunk.choices)
    assert by_data.model_extra["frame_selection"]["video"] == by_file.model_extra["frame_selection"]["video"]
    assert by_data.model_extra["frame_selection"]["cache"] == "hit"  # same content, another file
    assert by_data.choices[0].message.content == by_file.choices[0].message.content
    assert json.loads(text)["question"] == "Streamed?" and len(header["indices"]) == 4


def test_requests_without_a_video_pass_through_unchanged(proxy, fake):
    messages = [{"role": "user", "content": [{"type": "text", "text": "Just text."}]}]
    with proxy() as url:
        reply = client(url).chat.completions.create(model="m", messages=messages, temperature=0.2, max_tokens=5)
    assert reply.choices[0].message.content and "frame_selection" not in (reply.model_extra or {})
    assert fake.chat_requests()[-1].body == {"model": "m", "messages": messages, "temperature": 0.2, "max_tokens": 5,
                                              "stream": False}


def test_health_metrics_and_the_proxy_token(proxy, monkeypatch):
    monkeypatch.setenv("PROXY_TOKEN_FOR_TEST", "s3cret-token")
    with proxy(token_env="PROXY_TOKEN_FOR_TEST") as url:
        health = json.loads(urllib.request.urlopen(url + "/health").read())
        assert health["status"] == "ok" and health["route"] == "openai"
        with pytest.raises(Exception) as refused:
            client(url).chat.completions.create(model="m", messages=video_message("painted3.mp4", "Q?"))
        assert getattr(refused.value, "status_code", None) == 401
        reply = client(url, api_key="s3cret-token").chat.completions.create(model="m", messages=video_message("painted3.mp4", "Q?"))
        assert reply.model_extra["frame_selection"]["k"] == 4
        token = {"Authorization": "Bearer s3cret-token"}
        with urllib.request.urlopen(urllib.request.Request(url + "/metrics", headers=token)) as response:
            content_type = response.headers["Content-Type"]
        metrics = scrape(url, token)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert metrics['frame_selector_requests_total{kind="selected",status="200"}'] == 1
    assert 'frame_selector_requests_total{kind="selected",status="401"}' not in metrics  # refused before counting
    for stage in ("decode", "select", "handoff", "upstream", "total"):
        assert metrics[f'frame_selector_stage_seconds_count{{stage="{stage}"}}'] == 1
    assert metrics["process_resident_memory_bytes"] > 50 << 20  # torch alone is more
    # painted3.mp4's prefix: the tiny model's key/value cache over 16 frames, and its frame clock
    assert 0 < metrics["frame_selector_video_cache_bytes"] < 1 << 20


def test_trim_interval_is_checked():
    from selector.cli_support import UsageError
    from selector.serve import ServeSettings

    settings = ServeSettings(selector="s", upstream="http://127.0.0.1:9/v1", trim_interval=-0.5)
    with pytest.raises(UsageError, match="--trim-interval must be >= 0"):
        settings.check()


def test_serve_without_aiohttp_names_the_extra(monkeypatch, capsys, tiny_selector_dir):
    import sys

    from selector.cli import main

    monkeypatch.setitem(sys.modules, "aiohttp", None)  # import aiohttp -> ImportError
    code = main(["serve", "--selector", str(tiny_selector_dir), "--upstream", "http://127.0.0.1:9/v1"])
    assert code == 2 and "pip install frame-selector[serve]" in capsys.readouterr().err
