"""Scoring: answer extraction (table-driven, every method), accuracy with every count reported,
and the ActivityNet-QA judge against the loopback fake OpenAI server."""

import logging
import random

import pytest

from eval.extract import extract_answer, methods_for
from eval.judge import ActivityNetJudge, parse_verdict
from eval.metrics import is_correct, make_result, summarize
from eval.records import Record
from tests.support.fake_openai import FakeOpenAI, reply, status

OPTIONS = ["Apples.", "Candles.", "Berries.", "All the same."]


def mc(bench: str = "videomme", options=OPTIONS, letter: str | None = "B", **kw) -> Record:
    return Record(kw.pop("id", "q"), "v.mp4", "Which?", list(options), bench=bench, answer_letter=letter, **kw)


# --------------------------------------------------------------------------------------------
# Extraction

DEFAULT_CASES = [
    # 1. one letter, bare or wrapped
    ("B", "B"), ("b", "B"), ("(B)", "B"), ("B.", "B"), ("**B**", "B"), ("[B]", "B"), (" C \n", "C"), ("E", None),
    # 2. declarations; the last wins; invalid or alternative declarations give None
    ("Answer: B", "B"), ("The answer is (C).", "C"), ("The best option is B", "B"), ("I choose D", "D"),
    ("Option C is correct.", "C"), ("Best option: (B", "B"), ("Thinking about A. Final answer: C", "C"),
    ("The answer is B or C", None), ("The answer is E", None), ("Answer: B. Option A is wrong", "B"),
    # 3. a leading label
    ("B. Candles", "B"), ("(B) Candles", "B"), ("C) x", "C"), ("D: all", "D"), ("B because of the candles", "B"),
    ("A. Apples", "A"), ("A because apples", "A"), ("A or B", None),
    # 4. standalone letters: one option or ambiguous
    ("I think (C) fits", "C"), ("so it must be C", "C"), ("A man lights candles, so (B)", "B"), ("(A) or (B)", None),
    ("It is C, not D", None),
    # 5. option text
    ("Candles.", "B"), ("they are berries", "C"), ("All the same", "D"), ("apples and candles", None),
    ("A man is holding candles.", "B"),
    # 6. nothing
    ("", None), ("no idea", None), ("A man walks in", None),
    # reasoning blocks are ignored
    ("<think>maybe A</think>B", "B"),
]


@pytest.mark.parametrize("text,expected", DEFAULT_CASES)
def test_default_extractor(text, expected):
    assert extract_answer(text, mc()) == expected


LMMS_CASES = [
    ("B", "B"), ("(C)", "C"), ("The answer is (B).", "B"), ("B. Candles", "B"), ("I choose D", "D"),
    # its documented quirks, reproduced on purpose
    ("The answer is B. Option A is wrong", "A"),  # every letter after an answer phrase is a candidate
    ("A man lights candles, so (B)", "A"),  # "starts with a standalone letter" outranks "(B)"
    ("Candles.", "C"),  # the fallback finds the C of "Candles"
    ("E", None),  # lmms-eval passes A-D for Video-MME
    ("no idea", None),
]


@pytest.mark.parametrize("text,expected", LMMS_CASES)
def test_lmms_eval_extractor(text, expected):
    assert extract_answer(text, mc(), "lmms-eval") == expected


OFFICIAL_CASES = [
    # Video-MME: first A-D anywhere after the answer prefixes are removed
    ("videomme", "The best answer is C", "C"),
    ("videomme", "Answer: C", "C"),
    ("videomme", "Best answer: C", "B"),  # the list's missing comma: "Best answer:" is never removed
    ("videomme", "I think it is D", "D"),
    ("videomme", "cannot tell", None),
    # MLVU: the character before the first ")", else the whole reply as a letter
    ("mlvu", "B) Candles", "B"),
    ("mlvu", "(C) Berries", "C"),
    ("mlvu", "B", "B"),
    ("mlvu", "B.", None),
    ("mlvu", ")", None),
    # LongVideoBench: first A-E anywhere; its guesses are off without an rng
    ("longvideobench", "The answer is C", "C"),
    ("longvideobench", "E", "E"),
    ("longvideobench", "unclear", None),
]


@pytest.mark.parametrize("bench,text,expected", OFFICIAL_CASES)
def test_official_extractors(bench, text, expected):
    assert extract_answer(text, mc(bench), "official") == expected


NEXTQA_OPTIONS = ["share with the girl", "approach the lady", "unwrap it", "play with a toy train", "gesture"]


@pytest.mark.parametrize(
    "bench,text,expected",
    [
        ("nextqa", "(A) or (C)", "C"),  # the last mention wins
        ("nextqa", "B then D ", "D"),
        ("nextqa", "I believe that the boy wanted to unwrap it", "C"),  # option text, more than 5 words
        ("nextqa", "unwrap it", None),  # option text only counts past 5 words
        ("egoschema", "(C) first, then (A)", "C"),  # the first mention wins
        ("egoschema", "D. gesture", "D"),
        ("egoschema", "none", None),
    ],
)
def test_mmmu_style_extractors(bench, text, expected):
    assert extract_answer(text, mc(bench, NEXTQA_OPTIONS), "lmms-eval") == expected


def test_random_fallbacks_only_with_an_rng():
    record = mc("nextqa", NEXTQA_OPTIONS)
    guesses = {extract_answer("no idea", record, "lmms-eval", rng=random.Random(seed)) for seed in range(20)}
    assert guesses <= set("ABCDE") and len(guesses) > 1
    assert extract_answer("unclear", mc("longvideobench"), "official", rng=random.Random(0)) in set("ABCD")


def test_methods_per_benchmark_and_open_answers():
    assert methods_for("nextqa") == ["default", "lmms-eval"]
    assert methods_for("videomme") == ["default", "official", "lmms-eval"]
    with pytest.raises(ValueError, match="no 'official' answer extractor"):
        extract_answer("B", mc("egoschema"), "official")
    with pytest.raises(ValueError, match="unknown extraction method"):
        extract_answer("B", mc(), "best")
    open_record = Record("q", "v.mp4", "what color", bench="activitynetqa", answer="red", answer_type="open")
    for method in ("default", "official", "lmms-eval"):
        assert extract_answer("  Red. \n", open_record, method) == "Red."
    assert extract_answer("  ", open_record) is None
    assert extract_answer(None, mc()) is None


# --------------------------------------------------------------------------------------------
# Metrics


def test_summarize_counts_everything_and_reports_three_accuracies():
    results = []
    for i, (duration, pred, st) in enumerate(
        [("short", "B", "ok"), ("short", "A", "ok"), ("short", None, "ok"), ("medium", "B", "ok"), ("medium", None, "failed"), ("long", "B", "ok")]
    ):
        record = mc(id=f"q{i}", categories={"duration": duration, "task_type": "OCR" if i % 2 else "Counting"})
        correct = is_correct(record, pred) if st == "ok" else None
        results.append(make_result(record, status=st, correct=correct, error="decode failed" if st == "failed" else None, pred=pred))
    results.append(make_result(mc(id="q6", categories={"duration": "long"}, problem="video not found: x.mp4"), correct=True))
    summary = summarize(results)
    overall = summary["overall"]
    assert {k: overall[k] for k in ("n", "ran", "answered", "correct", "unparsed", "failed", "problem")} == {
        "n": 7, "ran": 4 + 1, "answered": 4, "correct": 3, "unparsed": 1, "failed": 1, "problem": 1
    }
    assert overall["accuracy"] == pytest.approx(3 / 5)  # lmms-eval: an unparsed reply is wrong
    assert overall["accuracy_answered"] == pytest.approx(3 / 4)  # Video-MME official: answered only
    assert overall["accuracy_all"] == pytest.approx(3 / 7)  # failures and flagged questions as wrong
    short = summary["by"]["duration"]["short"]
    assert (short["n"], short["correct"], short["unparsed"], short["accuracy"]) == (3, 1, 1, pytest.approx(1 / 3))
    assert summary["by"]["duration"]["long"]["problem"] == 1
    assert set(summary["by"]) == {"duration", "task_type"}
    assert summary["headline"] == {"metric": "accuracy", "value": pytest.approx(3 / 5)}
    problem = results[-1]
    assert (problem["status"], problem["correct"], problem["error"]) == ("problem", None, "video not found: x.mp4")


def test_mlvu_m_avg_is_the_mean_of_task_accuracies_and_counts_unanswerable():
    results = []
    for i, (task, right) in enumerate([("plotQA", True), ("plotQA", True), ("plotQA", True), ("plotQA", False), ("count", False)]):
        results.append(make_result(mc("mlvu", id=f"m{i}", categories={"task": task}), correct=right))
    outside = mc("mlvu", id="m5", letter=None, answer="e", categories={"task": "findNeedle"})
    results.append(make_result(outside, correct=is_correct(outside, "A")))
    summary = summarize(results)
    assert summary["m_avg"] == pytest.approx((0.75 + 0.0 + 0.0) / 3)
    assert summary["headline"]["metric"] == "m_avg"
    assert summary["overall"]["unanswerable"] == 1 and summary["overall"]["accuracy"] == pytest.approx(3 / 6)


def test_open_ended_scores_and_bad_inputs():
    record = Record("a0", "v.mp4", "what color", bench="activitynetqa", answer="red", answer_type="open", categories={"type": "color"})
    results = [
        make_result(record, correct=True, score=5),
        make_result(Record("a1", "v.mp4", "q", bench="activitynetqa", answer="no", answer_type="open"), correct=False, score=1),
        make_result(Record("a2", "v.mp4", "q", bench="activitynetqa", answer="no", answer_type="open"), correct=None, score=None),
    ]
    overall = summarize(results)["overall"]
    assert (overall["accuracy"], overall["unparsed"], overall["score"]) == (pytest.approx(1 / 3), 1, pytest.approx(2.0))
    with pytest.raises(ValueError, match="judged"):
        is_correct(record, "red")
    with pytest.raises(ValueError, match="several benchmarks"):
        summarize(results + [make_result(mc(id="x"), correct=True)])
    with pytest.raises(ValueError, match="duplicate"):
        summarize(results + results[:1])
    with pytest.raises(ValueError, match="status"):
        make_result(record, status="skipped")


# --------------------------------------------------------------------------------------------
# ActivityNet-QA judge


@pytest.fixture
def fake():
    with FakeOpenAI(lifetime=60) as server:
        yield server


def test_judge_asks_the_standard_prompt_and_records_the_model(fake):
    judge = ActivityNetJudge("judge-model-x", base_url=fake.base_url, api_key="sk-secret-key-123456")
    fake.script(reply('{"pred": "yes", "score": 4}'))
    verdict = judge.judge("is the athlete wearing trousers", "no", "No, shorts.")
    assert (verdict.pred, verdict.score, verdict.correct, verdict.error) == ("yes", 4, True, None)
    assert (verdict.judge_model, verdict.served_model) == ("judge-model-x", "judge-model-x")
    request = fake.chat_requests()[0]
    body = request.body
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("judge-model-x", 0, 64)
    assert body["response_format"]["type"] == "json_schema"
    system, user = body["messages"]
    assert system["content"].startswith("You are an intelligent chatbot designed for evaluating the correctness")
    assert "Question: is the athlete wearing trousers\nCorrect Answer: no\nPredicted Answer: No, shorts.\n\n" in user["content"]
    assert user["content"].endswith("For example, your response should look like this: {'pred': 'yes', 'score': 4.8}.")
    assert request.headers["authorization"] == "Bearer sk-secret-key-123456"
    settings = judge.settings()
    assert settings["judge_model"] == "judge-model-x" and settings["base_url"] == fake.base_url
    assert "sk-secret" not in repr(settings) + repr(judge)


@pytest.mark.parametrize(
    "text,pred,score",
    [
        ("{'pred': 'no', 'score': 4.8}", "no", 4),  # lmms-eval's own example; int() truncates
        ('```json\n{"pred": "Yes", "score": "3"}\n```', "yes", 3),
        ("Sure! {'pred': 'yes', 'score': 5} Hope this helps.", "yes", 5),
    ],
)
def test_judge_replies_are_parsed_defensively(text, pred, score):
    assert parse_verdict(text) == (pred, score)


@pytest.mark.parametrize("text", ["yes, 4", "{'pred': 'maybe', 'score': 3}", "{'pred': 'yes', 'score': 7}", "{'pred': 'yes'}", "{pred: yes}"])
def test_unreadable_judge_replies_give_no_verdict(fake, text):
    judge = ActivityNetJudge(base_url=fake.base_url, structured=False)
    fake.script(reply(text))
    verdict = judge.judge("q", "a", "p")
    assert verdict.pred is None and verdict.correct is None and verdict.error.startswith("unreadable reply")
    assert verdict.raw == text and "response_format" not in fake.chat_requests()[-1].body


def test_judge_failures_never_leak_the_key(fake, caplog, monkeypatch):
    key = "sk-verysecret-abcdef123456"
    judge = ActivityNetJudge(base_url=fake.base_url, api_key=key, max_retries=0)
    fake.script(status(401, echo_key=True))
    with caplog.at_level(logging.DEBUG):
        verdict = judge.judge("q", "a", "p")
    assert verdict.pred is None and verdict.error.startswith("request failed") and "401" in verdict.error
    assert key not in verdict.error and key not in caplog.text and key not in repr(verdict.to_dict())
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="API key"):
        ActivityNetJudge()


def test_judge_many_judges_every_item(fake):
    fake.always(reply('{"pred": "no", "score": 2}'))
    judge = ActivityNetJudge(base_url=fake.base_url)
    verdicts = judge.judge_many([(f"q{i}", "a", "p") for i in range(6)], concurrency=3)
    assert [v.score for v in verdicts] == [2] * 6
    asked = sorted(r.body["messages"][1]["content"].split("\n")[2] for r in fake.chat_requests())
    assert asked == [f"Question: q{i}" for i in range(6)]
