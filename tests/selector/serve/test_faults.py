"""What the proxy answers when things go wrong: upstream down, failing or slow; bad requests and
bad videos; paths that leave the media root; URLs nobody allowed; too much at once. Every answer
is OpenAI's error JSON with the right status, and the server keeps serving."""

from __future__ import annotations

import json
import os
import socket
import threading
import urllib.error
import urllib.request

import openai
import pytest

from tests.selector.serve.test_proxy import client, video_message
from tests.support.fake_openai import slow, status


def post(url: str, data: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    request = urllib.request.Request(url + "/v1/chat/completions", data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def ask(url: str, video: str, question: str = "What happens?") -> tuple[int, dict]:
    return post(url, json.dumps({"model": "m", "messages": video_message(video, question)}).encode())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def still_serves(url: str) -> None:
    assert ask(url, "painted1.mp4")[0] == 200


def test_upstream_down_failing_and_slow(proxy, fake):
    with proxy(upstream=f"http://127.0.0.1:{free_port()}/v1") as url:
        code, body = ask(url, "painted1.mp4")
        assert code == 502 and body["error"]["code"] == "upstream_unreachable" and "unreachable" in body["error"]["message"]
    with proxy(upstream_timeout=0.5) as url:
        fake.script(status(500))
        code, body = ask(url, "painted1.mp4")
        assert code == 502 and body["error"]["code"] == "upstream_error" and "answered 500" in body["error"]["message"]
        fake.script(slow(3))
        code, body = ask(url, "painted1.mp4")
        assert code == 504 and body["error"]["code"] == "upstream_timeout" and "0.5 s" in body["error"]["message"]
        with pytest.raises(openai.InternalServerError) as raised:  # what the official client makes of it
            fake.script(status(503))
            client(url).chat.completions.create(model="m", messages=video_message("painted1.mp4", "Q?"))
        assert raised.value.status_code == 502
        still_serves(url)


def test_the_upstream_key_is_never_echoed(proxy, fake, monkeypatch):
    monkeypatch.setenv("UPSTREAM_KEY_FOR_TEST", "sk-upstream-secret-123456")
    with proxy(upstream_key_env="UPSTREAM_KEY_FOR_TEST") as url:
        fake.script(status(401, echo_key=True))
        code, body = ask(url, "painted1.mp4")
        assert fake.chat_requests()[-1].headers["authorization"] == "Bearer sk-upstream-secret-123456"
        health = urllib.request.urlopen(url + "/health").read().decode()
    assert code == 502 and "sk-upstream-secret-123456" not in json.dumps(body) + health
    assert "Incorrect API key provided" in body["error"]["message"]


def test_bad_requests_and_bad_videos(proxy):
    with proxy(max_body_mb=0.01) as url:
        assert post(url, b"{not json")[0] == 400
        code, body = post(url, b"{not json")
        assert body["error"]["code"] == "malformed_json"
        code, body = ask(url, "broken.mp4")
        assert code == 400 and body["error"]["code"] == "bad_video" and "'broken.mp4' cannot be read" in body["error"]["message"]
        code, body = ask(url, "missing.mp4")
        assert code == 400 and "not found" in body["error"]["message"]
        code, body = ask(url, "data:video/mp4;base64," + "A" * 20000)
        assert code == 413 and "--max-body-mb" in body["error"]["message"]
        code, body = post(url, json.dumps({"model": "m", "messages": video_message("painted1.mp4", "Q?"),
                                           "frame_selection": {"k": 99}}).encode())
        assert code == 400 and "k=99" in body["error"]["message"]
        code, body = post(url, json.dumps({"model": "m", "messages": video_message("painted1.mp4", "Q?"),
                                           "frame_selection": {"rule": "best"}}).encode())
        assert code == 400 and "frame_selection.rule" in body["error"]["message"]
        code, body = post(url, json.dumps({"model": "m", "messages": video_message("painted1.mp4", "Q?"),
                                           "frame_selection": {"options": "a, b"}}).encode())
        assert code == 400 and "frame_selection.options" in body["error"]["message"]
        code, body = post(url, json.dumps({"model": "m", "messages": []}).encode())
        assert code == 400 and "messages" in body["error"]["message"]
        still_serves(url)
    with proxy(max_duration=1.0) as url:
        code, body = ask(url, "painted1.mp4")
        assert code == 413 and body["error"]["code"] == "video_too_long"


def test_paths_outside_the_media_root_and_urls_nobody_allowed(proxy, media_root, tmp_path):
    outside = tmp_path / "outside.mp4"
    outside.write_bytes((media_root / "painted1.mp4").read_bytes())
    link = media_root / "link.mp4"
    if not link.exists():
        os.symlink(outside, link)
    with proxy() as url:
        for video in ("../outside.mp4", f"{media_root}/../{tmp_path.name}/outside.mp4", str(outside),
                      f"file://{outside}", "link.mp4", "/etc/passwd"):
            code, body = ask(url, video)
            assert code == 403 and body["error"]["code"] == "media_forbidden", video
            assert "outside the media root" in body["error"]["message"]
        code, body = ask(url, "http://127.0.0.1:9/video.mp4")
        assert code == 403 and body["error"]["code"] == "url_not_allowed" and "--allow-url-prefix" in body["error"]["message"]
        still_serves(url)
    with proxy(media_root=None) as url:
        code, body = ask(url, "painted1.mp4")
        assert code == 403 and "--media-root" in body["error"]["message"]


def test_requests_over_the_in_flight_cap_get_429(proxy, fake):
    with proxy(max_in_flight=1) as url:
        fake.always(slow(1.5))  # whichever request gets in holds the only place for 1.5 s
        try:
            answers: list = []
            threads = [threading.Thread(target=lambda: answers.append(ask(url, "painted1.mp4"))) for _ in range(3)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            fake.always(None)
        codes = sorted(code for code, _ in answers)
        assert codes[0] == 200 and codes[-1] == 429, codes
        refused = next(body for code, body in answers if code == 429)
        assert refused["error"]["type"] == "rate_limit_error" and "--max-in-flight" in refused["error"]["message"]
        still_serves(url)
