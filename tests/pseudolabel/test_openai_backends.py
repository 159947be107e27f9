"""OpenAI-compatible pseudo-label backends and the Batch API mode, against a loopback fake server
(tests/support/fake_openai.py) that misbehaves on cue. No network: everything runs on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import math
import time

import numpy as np
import pytest

from pseudolabel.base import TemporalResult
from pseudolabel.batch_files import BATCH_ENDPOINT, TemporalRequest, is_failed, parse_batch_output, write_batch_inputs
from pseudolabel.batch_job import BatchTimeout, TemporalBatchJob
from pseudolabel.remote import (
    BackendError,
    OpenAICaptioner,
    OpenAISpatialScorer,
    OpenAITemporalSelector,
    encode_jpeg_data_url,
    parse_temporal_reply,
    score_from_top_logprobs,
)
from selector.openai_client import MissingAPIKeyError
from tests.support.fake_openai import (
    HOSTILE_FAULTS,
    HOSTILE_QUIRKS,
    FakeOpenAI,
    dropped,
    empty_choices,
    expected_caption,
    expected_frames,
    expected_spatial_score,
    html_error,
    long_caption,
    no_logprobs,
    no_true_false,
    nul_caption,
    reply,
    slow,
    status,
    true_false_variants,
    truncated_body,
)

KEY = "sk-test-SECRET-0123456789abcdef"

CAPTIONS = ["a puppy runs on grass", "a kitten sleeps", "a red car parks", "the puppy barks loudly"]
SECONDS = [0.0, 1.5, 3.0, 12.34]
QUESTION = "What does the puppy do?"


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def frames() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (32, 48, 3), dtype=np.uint8) for _ in range(6)]


def _temporal(fake: FakeOpenAI, **kw) -> OpenAITemporalSelector:
    kw = {"api_key": KEY, "timeout": 2.0, "max_retries": 2, **kw}
    return OpenAITemporalSelector(base_url=fake.base_url, **kw)


# ---- spatial


def test_spatial_scores_match_fake(fake, frames):
    scorer = OpenAISpatialScorer("qwen2-vl", base_url=fake.base_url, api_key=KEY, concurrency=3, jpeg_quality=85)
    scores = scorer.score(frames, QUESTION)
    expected = [expected_spatial_score(encode_jpeg_data_url(f, 85)) for f in frames]
    assert scores.dtype == np.float32 and scores.shape == (len(frames),)
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    assert scorer.stats["frames"] == len(frames) and scorer.stats["fallback_sampled"] == 0

    sent = fake.chat_requests()
    assert len(sent) == len(frames)
    body = sent[0].body
    assert body["model"] == "qwen2-vl"
    assert body["max_tokens"] == 1 and body["logprobs"] is True and body["top_logprobs"] == 20 and body["temperature"] == 0
    parts = body["messages"][0]["content"]
    assert parts[0]["type"] == "image_url" and parts[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert QUESTION in parts[1]["text"] and "True or False" in parts[1]["text"]
    assert sent[0].headers["authorization"] == f"Bearer {KEY}"


def test_spatial_concurrency_keeps_frame_order():
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (24, 24, 3), dtype=np.uint8) for _ in range(10)]
    with FakeOpenAI(shuffle_delay=0.08) as fake:
        fake.always(slow(0.15))  # every request stays open long enough for others to overlap it, even on a busy machine
        scorer = OpenAISpatialScorer("qwen2-vl", base_url=fake.base_url, api_key=KEY, concurrency=4)
        scores = scorer.score(frames, QUESTION)
        arrival = [r.body["messages"][0]["content"][0]["image_url"]["url"] for r in fake.chat_requests()]
        assert 1 < fake.max_in_flight <= 4
    urls = [encode_jpeg_data_url(f) for f in frames]
    np.testing.assert_allclose(scores, [expected_spatial_score(u) for u in urls], rtol=1e-5)
    assert sorted(arrival) == sorted(urls)


def test_score_from_top_logprobs_sums_every_form_of_each_answer():
    top = [("True", math.log(0.3)), (" True", math.log(0.1)), ("\nFalse", math.log(0.2)), ("true", math.log(0.1)),
           ("TRUE", math.log(0.05)), ("Ġfalse", math.log(0.05)), ("Truely", math.log(0.1))]
    score, note = score_from_top_logprobs(top, "True")
    assert score == pytest.approx(0.55 / 0.8) and note is None
    assert score_from_top_logprobs([("true", math.log(0.4)), (" false", math.log(0.1))], "true")[0] == pytest.approx(0.8)
    assert score_from_top_logprobs([("Yes", -0.1)], " true")[0] == 1.0
    assert score_from_top_logprobs([("Yes", -0.1)], "FALSE")[0] == 0.0
    score, note = score_from_top_logprobs([("Yes", -0.1)], "Yes")
    assert score == 0.5 and "Yes" in note


def test_spatial_fallbacks_are_recorded(fake, frames, caplog):
    fake.script(no_true_false("False"), no_true_false("Maybe"), no_logprobs("True"))
    scorer = OpenAISpatialScorer("qwen2-vl", base_url=fake.base_url, api_key=KEY, concurrency=1, retry_delay=0.01)
    with caplog.at_level(logging.WARNING, logger="pseudolabel"):
        scores, notes = scorer.score_with_notes(frames[:4], QUESTION)
    assert scores[:2].tolist() == [0.0, 0.5]
    expected = [expected_spatial_score(encode_jpeg_data_url(f)) for f in frames[2:4]]
    np.testing.assert_allclose(scores[2:], expected, rtol=1e-5)  # no logprobs: retried, not guessed
    assert len(notes) == 2 and notes[0].startswith("frame 0:") and "-> 0.0" in notes[0] and "-> 0.5" in notes[1]
    assert scorer.stats["fallback_sampled"] == 1 and scorer.stats["fallback_neutral"] == 1
    assert scorer.retries_taken == 1 and len(fake.chat_requests()) == 5
    assert caplog.text.count("-> ") == 2


@pytest.mark.parametrize(
    "fault",
    [truncated_body(), empty_choices(), no_logprobs("True"), html_error(500), dropped(), status(429, retry_after=0.01)],
    ids=["truncated", "empty_choices", "no_logprobs", "html_500", "dropped", "429_retry_after"],
)
def test_a_transient_fault_costs_one_retry_not_the_frame(fake, frames, fault):
    fake.script(fault)
    scorer = OpenAISpatialScorer("qwen2-vl", base_url=fake.base_url, api_key=KEY, concurrency=1, retry_delay=0.01)
    scores = scorer.score(frames[:2], QUESTION)
    np.testing.assert_allclose(scores, [expected_spatial_score(encode_jpeg_data_url(f)) for f in frames[:2]], rtol=1e-5)
    assert scorer.retries_taken == 1 and len(fake.chat_requests()) == 3


def test_true_false_in_other_forms_score_the_same(fake, frames):
    fake.always(true_false_variants())  # "true", " TRUE", " false", "FALSE"
    scorer = OpenAISpatialScorer("qwen2-vl", base_url=fake.base_url, api_key=KEY)
    scores, notes = scorer.score_with_notes(frames, QUESTION)
    np.testing.assert_allclose(scores, [expected_spatial_score(encode_jpeg_data_url(f)) for f in frames], rtol=1e-5)
    assert notes == [] and scorer.stats["fallback_neutral"] == 0


def test_one_retry_budget_for_client_and_reply_faults(fake):
    fake.script(status(500), truncated_body(), status(500))
    selector = _temporal(fake, max_retries=3, retry_delay=0.01)
    assert selector.select(CAPTIONS, SECONDS, QUESTION).indices == [0, 3]
    assert selector.retries_taken == 3 and len(fake.chat_requests()) == 4
    fake.script(status(500), truncated_body(), status(500))
    with pytest.raises(BackendError) as info:
        _temporal(fake, max_retries=2, retry_delay=0.01).select(CAPTIONS, SECONDS, QUESTION)
    assert info.value.reason == "server" and len(fake.chat_requests()) == 4 + 3  # 1 + max_retries in all


@pytest.mark.parametrize(
    ("fault", "problem"),
    [(truncated_body(), "not valid JSON"), (empty_choices(), "no choices"), (no_logprobs("True"), "no logprobs")],
)
def test_a_reply_that_never_gets_better_is_a_reply_failure(fake, frames, fault, problem):
    fake.always(fault)
    scorer = OpenAISpatialScorer("qwen2-vl", base_url=fake.base_url, api_key=KEY, max_retries=2, retry_delay=0.01)
    with pytest.raises(BackendError) as info:
        scorer.score(frames[:1], QUESTION)
    err = info.value
    assert err.reason == "reply" and problem in str(err) and "\n" not in str(err) and KEY not in str(err)
    assert len(fake.chat_requests()) == 3 and scorer.retries_taken == 2


def test_reply_retries_back_off_like_the_client(monkeypatch):
    from pseudolabel.remote.backend import backoff_seconds

    monkeypatch.setattr("random.random", lambda: 1.0)  # the most jitter: 25% less
    assert [backoff_seconds(n) for n in range(6)] == [0.375, 0.75, 1.5, 3.0, 6.0, 6.0]
    monkeypatch.setattr("random.random", lambda: 0.0)
    assert backoff_seconds(100) == 8.0 and backoff_seconds(1, initial=0.01) == pytest.approx(0.02)


def test_hostile_server_every_frame_scored_exactly(frames):
    with FakeOpenAI() as fake:
        fake.hostile(0.7)
        scorer = OpenAISpatialScorer("qwen2-vl", base_url=fake.base_url, api_key=KEY, concurrency=3, retry_delay=0.01)
        scores = scorer.score(frames, QUESTION)
        assert scorer.retries_taken == sum(fake.hostile_counts.get(n, 0) for n in HOSTILE_FAULTS) > 0
        assert fake.hostile_counts.get("true_false_variants")
    np.testing.assert_allclose(scores, [expected_spatial_score(encode_jpeg_data_url(f)) for f in frames], rtol=1e-5)


def test_spatial_failure_raises_backend_error(fake, frames):
    fake.always(status(500))
    scorer = OpenAISpatialScorer("qwen2-vl", base_url=fake.base_url, api_key=KEY, concurrency=2, max_retries=1)
    with pytest.raises(BackendError, match=r"spatial chat\.completions \(frame \d of 3\).*HTTP 500"):
        scorer.score(frames[:3], QUESTION)


# ---- captions


def test_captioner_in_order(frames):
    with FakeOpenAI(shuffle_delay=0.05) as fake:
        captioner = OpenAICaptioner("qwen2-vl", base_url=fake.base_url, api_key=KEY, concurrency=3, max_tokens=32)
        captions = captioner.caption(frames)
        body = fake.chat_requests()[0].body
    assert captions == [expected_caption(encode_jpeg_data_url(f)) for f in frames]
    assert body["messages"][0]["content"][1]["text"] == "Describe this frame in one short sentence."
    assert body["max_tokens"] == 32 and "logprobs" not in body
    assert captioner.caption([]) == []


def test_captions_lose_nul_bytes_and_runaway_ones_are_cut_in_the_prompt(fake, frames):
    fake.script(nul_caption(), long_caption(40_000))
    captions = OpenAICaptioner("qwen2-vl", base_url=fake.base_url, api_key=KEY, concurrency=1).caption(frames[:3])
    urls = [encode_jpeg_data_url(f) for f in frames[:3]]
    assert captions[0] == expected_caption(urls[0]) and "\x00" not in captions[0]
    assert captions[1].startswith(expected_caption(urls[1])) and len(captions[1].split()) > 40_000 - 10
    selector = _temporal(fake)
    result = selector.select(captions + ["a puppy\x00 runs"], SECONDS, QUESTION)
    prompt = fake.chat_requests()[-1].body["messages"][-1]["content"]
    assert len(prompt) < 2_000 + 4 * 1_000 and "\x00" not in prompt and "[3] (12.3 s) a puppy runs" in prompt
    assert f"[1] (1.5 s) {expected_caption(urls[1])} and then again" in prompt
    assert result.notes[0] == f"caption 1 cut from {len(captions[1])} to 1000 characters"
    assert result.indices == [3]  # the fake read the cut captions: only the last shares "puppy"


# ---- temporal


def test_temporal_happy_path(fake):
    selector = _temporal(fake, max_frames=3)
    result = selector.select(CAPTIONS, SECONDS, QUESTION)
    assert result.indices == expected_frames(CAPTIONS, QUESTION) == [0, 3]
    assert result.notes == [] and json.loads(result.raw) == {"frames": [0, 3]}

    body = fake.chat_requests()[0].body
    assert body == selector.request_body(CAPTIONS, SECONDS, QUESTION)
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0
    schema = body["response_format"]
    assert schema["type"] == "json_schema" and schema["json_schema"]["strict"] is True
    assert schema["json_schema"]["schema"]["required"] == ["frames"]
    prompt = body["messages"][-1]["content"]
    assert "[0] (0.0 s) a puppy runs on grass" in prompt and "[3] (12.3 s) the puppy barks loudly" in prompt
    assert "at most 3 frames" in prompt and "0-based" in prompt


@pytest.mark.parametrize(
    ("content", "indices", "note"),
    [
        ('Sure! Here you go: {"frames": [2, 0]} Hope that helps.', [0, 2], "extracted"),
        ('```json\n{"indices": [1, 3]}\n```', [1, 3], "code fence"),
        ("[3, 1]", [1, 3], None),
        ('{"frames": [2, 0, 1', [0, 1, 2], "malformed"),
        ("{'frames': [3]}", [3], "malformed"),
        ('{"frames": ["2", 1.0, "x", true]}', [1, 2], "non-integer"),
    ],
)
def test_temporal_broken_json_repaired(fake, content, indices, note):
    fake.script(reply(content))
    result = _temporal(fake).select(CAPTIONS, SECONDS, QUESTION)
    assert result.indices == indices
    assert result.raw == content
    if note is None:
        assert result.notes == []
    else:
        assert any(note in n for n in result.notes), result.notes


def test_temporal_out_of_range_and_duplicates_dropped(fake):
    fake.script(reply('{"frames": [1, 1, 7, -1, 2, 4]}'))
    result = _temporal(fake).select(CAPTIONS, SECONDS, QUESTION)
    assert result.indices == [1, 2]
    assert any("out-of-range" in n and "[7, -1, 4]" in n for n in result.notes)
    assert any("duplicate" in n and "[1]" in n for n in result.notes)


def test_temporal_unparseable_reply_gives_empty_result(fake):
    fake.script(reply("I cannot tell from these captions."), reply(""))
    selector = _temporal(fake)
    result = selector.select(CAPTIONS, SECONDS, QUESTION)
    assert result.indices == [] and len(result.notes) == 1
    assert result.notes[0].startswith("unparseable reply:") and "cannot tell" in result.notes[0]
    assert selector.select(CAPTIONS, SECONDS, QUESTION).notes == ["unparseable reply: empty"]


def test_parse_temporal_reply_unit():
    assert parse_temporal_reply('{"frames": []}', 4) == TemporalResult(indices=[], raw='{"frames": []}', notes=[])
    many = parse_temporal_reply('{"frames": [0, 1, 2]}', 4, max_frames=2)
    assert many.indices == [0, 1, 2] and "max_frames" in many.notes[0]
    assert parse_temporal_reply(None, 4).notes == ["unparseable reply: empty"]
    assert parse_temporal_reply('{"answer": "B"}', 4).indices == []


def test_temporal_no_captions_needs_no_request(fake):
    result = _temporal(fake).select([], [], QUESTION)
    assert result.indices == [] and result.notes and fake.chat_requests() == []


@pytest.mark.parametrize("code", [429, 500])
def test_temporal_retried_after_429_or_500(fake, code):
    fake.script(status(code, retry_after_ms=10))
    start = time.monotonic()
    result = _temporal(fake).select(CAPTIONS, SECONDS, QUESTION)
    assert result.indices == [0, 3]
    sent = fake.chat_requests()
    assert len(sent) == 2 and sent[1].headers.get("x-stainless-retry-count") == "1"
    assert time.monotonic() - start < 2.0


def test_temporal_timeout_retried_then_success(fake):
    fake.script(slow(1.0))
    result = _temporal(fake, timeout=0.2, max_retries=1).select(CAPTIONS, SECONDS, QUESTION)
    assert result.indices == [0, 3] and len(fake.chat_requests()) == 2


def test_temporal_timeouts_exhaust_retries(fake):
    fake.always(slow(1.0))
    with pytest.raises(BackendError) as info:
        _temporal(fake, timeout=0.2, max_retries=1).select(CAPTIONS, SECONDS, QUESTION)
    message = str(info.value)
    assert "timed out" in message and "gpt-4o-mini" in message and "127.0.0.1" in message and "\n" not in message
    assert info.value.reason == "timeout"
    assert len(fake.chat_requests()) == 2


def test_persistent_500_raises_one_line_backend_error(fake):
    fake.always(status(500))
    with pytest.raises(BackendError) as info:
        _temporal(fake, max_retries=2).select(CAPTIONS, SECONDS, QUESTION)
    err = info.value
    assert err.status_code == 500 and err.reason == "server" and len(fake.chat_requests()) == 3
    assert "\n" not in str(err) and "HTTP 500" in str(err) and "gpt-4o-mini" in str(err)
    assert KEY not in str(err) and err.__cause__ is None and err.__suppress_context__


def test_401_not_retried_and_key_scrubbed(fake):
    fake.always(status(401, echo_key=True))
    with pytest.raises(BackendError) as info:
        _temporal(fake, max_retries=3).select(CAPTIONS, SECONDS, QUESTION)
    assert info.value.status_code == 401 and info.value.reason == "auth" and len(fake.chat_requests()) == 1
    assert KEY not in str(info.value) and "not retried" in str(info.value)


def test_connection_refused_is_backend_error():
    with FakeOpenAI() as server:
        url = server.base_url
    selector = OpenAITemporalSelector(base_url=url, api_key=KEY, timeout=0.5, max_retries=0)
    with pytest.raises(BackendError, match="connection failed") as info:
        selector.select(CAPTIONS, SECONDS, QUESTION)
    assert info.value.reason == "connection"


def test_api_key_never_leaks(fake, frames, caplog, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx2", "httpcore", "pseudolabel"):
        caplog.set_level(logging.DEBUG, logger=name)
    spatial = OpenAISpatialScorer("qwen2-vl", base_url=fake.base_url, max_retries=1, timeout=0.3)
    captioner = OpenAICaptioner("qwen2-vl", base_url=fake.base_url, max_retries=1, timeout=0.3)
    temporal = OpenAITemporalSelector(base_url=fake.base_url, max_retries=1, timeout=0.3)
    fake.script(no_true_false("Maybe"), status(429, retry_after_ms=5))
    spatial.score(frames[:2], QUESTION)
    captioner.caption(frames[:1])
    temporal.select(CAPTIONS, SECONDS, QUESTION)
    assert fake.chat_requests()[0].headers["authorization"] == f"Bearer {KEY}"  # the env key was used

    errors = []
    for fault in (status(401, echo_key=True), status(500), slow(1.0)):
        fake.always(fault)
        for call in (lambda: spatial.score(frames[:1], QUESTION), lambda: temporal.select(CAPTIONS, SECONDS, QUESTION)):
            with pytest.raises(BackendError) as info:
                call()
            errors.append(info.value)
    fake.always(None)
    requests = [TemporalRequest("a", CAPTIONS, SECONDS, QUESTION)]
    job = TemporalBatchJob(temporal, tmp_path / "state.json", poll_interval=0.01, progress=False)
    job.run(requests)

    texts = [json.dumps(b.provenance()) for b in (spatial, captioner, temporal)] + [json.dumps(job.provenance())]
    texts += [str(e) for e in errors] + [repr(e) for e in errors] + [repr(spatial), repr(temporal)]
    texts += [caplog.text, (tmp_path / "state.json").read_text()]
    assert len(errors) == 6 and caplog.text
    for text in texts:
        assert KEY not in text and "SECRET" not in text


def test_provenance_records_the_public_url(fake):
    selector = _temporal(fake, max_frames=5)
    prov = selector.provenance()
    assert prov["backend"] == "openai" and prov["model"] == "gpt-4o-mini" and prov["prompt_version"] == "openai-temporal-v1"
    assert prov["base_url"] == fake.base_url and prov["settings"]["max_frames"] == 5 and prov["settings"]["max_retries"] == 2
    spatial = OpenAISpatialScorer("m", base_url="http://u:p@127.0.0.1:9/v1?key=zz", api_key=KEY).provenance()
    assert spatial["base_url"] == "http://127.0.0.1:9/v1" and spatial["settings"]["top_logprobs"] == 20


def test_missing_key_without_base_url(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(MissingAPIKeyError, match="OpenAITemporalSelector: no API key"):
        OpenAITemporalSelector()
    assert OpenAITemporalSelector(base_url="http://127.0.0.1:9/v1").provenance()["base_url"] == "http://127.0.0.1:9/v1"


# ---- Batch API


def _requests(n: int = 4) -> list[TemporalRequest]:
    questions = [QUESTION, "Where is the kitten?", "Which car is parked?", "Is anything flying?"]
    return [TemporalRequest(f"item-{i}", CAPTIONS, SECONDS, questions[i % len(questions)]) for i in range(n)]


def _expected(request: TemporalRequest) -> list[int]:
    return expected_frames(list(request.captions), request.question)


def test_batch_end_to_end(fake, tmp_path):
    selector = _temporal(fake)
    requests = _requests(4)
    online = selector.select(requests[0].captions, requests[0].seconds, requests[0].question)
    online_body = fake.chat_requests()[0].body

    job = TemporalBatchJob(selector, tmp_path / "job" / "state.json", poll_interval=0.01, max_wait=10)
    results = job.run(requests)

    assert set(results) == {r.custom_id for r in requests}
    for request in requests:
        assert results[request.custom_id].indices == _expected(request) and not is_failed(results[request.custom_id])
    assert results["item-0"].indices == online.indices == [0, 3]
    assert results["item-3"].indices == []  # "anything flying": no caption matches

    # the uploaded JSONL: one line per request, each body exactly the online body
    (upload,) = [f for f in fake.files.values() if f["purpose"] == "batch"]
    lines = [json.loads(x) for x in upload["data"].decode().splitlines()]
    assert [x["custom_id"] for x in lines] == [r.custom_id for r in requests]
    assert all(x["method"] == "POST" and x["url"] == "/v1/chat/completions" for x in lines)
    assert lines[0]["body"] == online_body == selector.request_body(CAPTIONS, SECONDS, QUESTION)
    (batch,) = fake.batches.values()
    assert batch["endpoint"] == BATCH_ENDPOINT and batch["completion_window"] == "24h"

    state = json.loads((tmp_path / "job" / "state.json").read_text())
    assert state["parts"][0]["batch_id"] == batch["id"] and state["parts"][0]["status"] == "completed"
    assert state["parts"][0]["output_file_id"] == batch["output_file_id"]
    assert fake.count("GET", "/v1/batches/") >= 4  # validating -> in_progress x2 -> finalizing -> completed


def test_batch_failures_become_failed_results(tmp_path):
    with FakeOpenAI(batch_failures={"item-1": "error_file", "item-2": "500"}, batch_replies={"item-3": "no idea"}) as fake:
        results = TemporalBatchJob(_temporal(fake), tmp_path / "s.json", poll_interval=0.01, progress=False).run(_requests(4))
    assert results["item-0"].indices == [0, 3] and not is_failed(results["item-0"])
    assert is_failed(results["item-1"]) and "scripted failure" in results["item-1"].notes[0]
    assert is_failed(results["item-2"]) and "HTTP 500" in results["item-2"].notes[0]
    assert not is_failed(results["item-3"]) and results["item-3"].notes[0].startswith("unparseable reply")


@pytest.mark.parametrize("final", ["failed", "expired"])
def test_batch_failed_or_expired(tmp_path, final):
    with FakeOpenAI(batch_final_status=final) as fake:
        results = TemporalBatchJob(_temporal(fake), tmp_path / "s.json", poll_interval=0.01, progress=False).run(_requests(4))
    if final == "failed":
        assert all(is_failed(r) and "scripted validation failure" in r.notes[0] for r in results.values())
    else:  # the fake finished the first half before the window ran out
        assert [is_failed(results[f"item-{i}"]) for i in range(4)] == [False, False, True, True]
        assert "batch_expired" in results["item-3"].notes[0]


def test_batch_resume_after_crash_does_not_resubmit(fake, tmp_path):
    requests = _requests(3)
    state_path = tmp_path / "state.json"
    first = TemporalBatchJob(_temporal(fake), state_path, poll_interval=0.01, progress=False)
    first.submit(requests)
    with pytest.raises(BatchTimeout, match="run again to resume"):
        first.wait(max_wait=0)
    del first  # "crash": only the state file survives

    second = TemporalBatchJob(_temporal(fake), state_path, poll_interval=0.01, progress=False)
    assert second.state is not None and second.state.parts[0].batch_id is not None
    results = second.run(requests)
    assert {k: v.indices for k, v in results.items()} == {r.custom_id: _expected(r) for r in requests}
    assert fake.count("POST", "/v1/files") == 1 and fake.count("POST", "/v1/batches") == 1

    # a third process collects again from the cached output, with no requests at hand
    third = TemporalBatchJob(_temporal(fake), state_path, poll_interval=0.01, progress=False)
    downloads = fake.count("GET", "/v1/files/")
    assert {k: v.indices for k, v in third.run().items()} == {k: v.indices for k, v in results.items()}
    assert fake.count("GET", "/v1/files/") == downloads and fake.count("POST", "/v1/batches") == 1

    with pytest.raises(ValueError, match="different requests"):
        TemporalBatchJob(_temporal(fake), state_path).submit(_requests(2))


def test_batch_crash_between_create_and_state_save(fake, tmp_path, monkeypatch):
    requests = _requests(2)
    state_path = tmp_path / "state.json"
    selector = _temporal(fake)
    create = selector.client.batches.create

    def create_then_crash(**kwargs):
        create(**kwargs)
        raise KeyboardInterrupt("simulated crash after the server accepted the batch")

    monkeypatch.setattr(selector.client.batches, "create", create_then_crash)
    with pytest.raises(KeyboardInterrupt):
        TemporalBatchJob(selector, state_path, progress=False).submit(requests)
    assert json.loads(state_path.read_text())["parts"][0]["batch_id"] is None

    results = TemporalBatchJob(_temporal(fake), state_path, poll_interval=0.01, progress=False).run(requests)
    assert fake.count("POST", "/v1/batches") == 1 and fake.count("POST", "/v1/files") == 1
    assert results["item-0"].indices == [0, 3]


def test_batch_split_into_parts(fake, tmp_path):
    requests = _requests(5)
    selector = _temporal(fake)
    results = TemporalBatchJob(selector, tmp_path / "s.json", poll_interval=0.01, max_requests=2, progress=False).run(requests)
    assert len(results) == 5 and fake.count("POST", "/v1/batches") == 3
    assert all(results[r.custom_id].indices == _expected(r) for r in requests)

    line_bytes = len(json.dumps({"custom_id": "item-0", "method": "POST", "url": BATCH_ENDPOINT,
                                 "body": selector.request_body(CAPTIONS, SECONDS, QUESTION)}, separators=(",", ":"))) + 1
    parts = write_batch_inputs(selector, requests, tmp_path / "bytes", max_bytes=2 * line_bytes + 40)
    assert [len(p.n_captions) for p in parts] == [2, 2, 1] and all(p.n_bytes <= 2 * line_bytes + 40 for p in parts)
    with pytest.raises(ValueError, match="duplicate"):
        write_batch_inputs(selector, requests + requests[:1], tmp_path / "dup")
    with pytest.raises(ValueError, match="over max_bytes"):
        write_batch_inputs(selector, requests, tmp_path / "small", max_bytes=100)


def test_batch_vllm_line_shape(tmp_path):
    with FakeOpenAI(batch_output_shape="vllm") as fake:
        results = TemporalBatchJob(_temporal(fake), tmp_path / "s.json", poll_interval=0.01, progress=False).run(_requests(2))
    assert results["item-0"].indices == [0, 3] and results["item-1"].indices == [1]

    completion = {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": '{"frames": [2, 9]}'}, "finish_reason": "stop"}]}
    text = "\n".join(
        [
            json.dumps({"id": "1", "custom_id": "a", "response": completion, "error": None}),  # vLLM: the completion itself
            json.dumps({"id": "2", "custom_id": "b", "response": {"status_code": 200, "request_id": "r", "body": completion}, "error": None}),
            json.dumps({"id": "3", "custom_id": "c", "response": {"status_code": 400, "body": {"error": {"message": "bad image"}}}, "error": None}),
            json.dumps({"id": "4", "custom_id": "d", "response": None, "error": {"code": "server_error", "message": "boom"}}),
            "not json",
            json.dumps({"id": "5", "custom_id": "zzz", "response": completion}),
        ]
    )
    parsed = parse_batch_output(text, {"a": 4, "b": 4, "c": 4, "d": 4})
    assert set(parsed) == {"a", "b", "c", "d"}
    assert parsed["a"].indices == parsed["b"].indices == [2] and "out-of-range" in parsed["a"].notes[0]
    assert is_failed(parsed["c"]) and "bad image" in parsed["c"].notes[0] and "400" in parsed["c"].notes[0]
    assert is_failed(parsed["d"]) and "boom" in parsed["d"].notes[0]
