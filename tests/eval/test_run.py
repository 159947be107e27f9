"""`frame-selector eval` end to end: a small Video-MME-layout root over the test videos, frames
chosen by real choosers, answered by an OpenAI-compatible server (the loopback fake) or a tiny
Qwen2-VL through transformers."""

import json
import shutil

import pytest

from eval.benchmarks import load_benchmark
from selector.cli import main
from tests.support.fake_openai import FakeOpenAI, reply, status

BUNNY = "moviepy__big_buck_bunny_0_30.webm"
COCKATOO = "imageio__cockatoo.mp4"


@pytest.fixture
def videomme(tmp_path, videos):
    root = tmp_path / "data"
    (root / "videomme" / "data").mkdir(parents=True)
    shutil.copy(videos / BUNNY, root / "videomme" / "data" / "001.webm")
    shutil.copy(videos / COCKATOO, root / "videomme" / "data" / "002.mp4")
    (root / "videomme" / "data" / "003.mp4").write_bytes(b"not a video at all" * 100)
    entries = []
    for vid, duration in (("001", "short"), ("002", "short"), ("003", "medium"), ("004", "long")):
        entries.append({"video_id": vid, "duration_category": duration, "video_category": "Film", "video_subcategory": "Animation",
                        "questions": [
                            {"question_id": f"{vid}-1", "task_type": "Counting Problem", "question": "How many animals?",
                             "choices": ["A. One.", "B. Two.", "C. Three.", "D. Four."], "answer": "B"},
                            {"question_id": f"{vid}-2", "task_type": "OCR Problems", "question": "What is the title?",
                             "choices": ["A. Big Buck Bunny.", "B. Bird.", "C. Sky.", "D. None."], "answer": "A"}]})
    (root / "videomme" / "evaluation").mkdir()
    (root / "videomme" / "evaluation" / "output_test_template.json").write_text(json.dumps(entries))  # the authors' template
    return root


def run(capsys, *argv):
    code = main(["eval", *map(str, argv), "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_openai_downstream_results_summary_and_resume(videomme, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-eval-key-000000000000000000")
    out = tmp_path / "run"
    args = ["--bench", "video-mme", "--root", videomme, "--downstream", "openai:some-vlm", "--chooser", "scene",
            "--k", 4, "--candidates", 16, "--out", out]
    with FakeOpenAI() as fake:
        fake.script(reply("The answer is B."), status(500), reply("(A) Big Buck Bunny."), reply("I think C"), reply("no idea"))
        fake.base_url  # noqa: B018
        code, text, err = run(capsys, *args, "--base-url", fake.base_url)
        assert code == 0, err
        first_requests = len(fake.chat_requests())
        results = lines(out / "results.jsonl")
        assert [r["qid"] for r in results] == ["001-1", "001-2", "002-1", "002-2", "003-1", "003-2", "004-1", "004-2"]
        by = {r["qid"]: r for r in results}
        assert by["001-1"]["correct"] is True and by["001-1"]["parsed"] == "B"
        assert by["001-2"]["correct"] is True  # a 500 was retried by the client
        assert by["002-1"]["correct"] is False and by["002-2"]["parsed"] is None
        assert by["003-1"]["status"] == "failed" and "003.mp4" in by["003-1"]["error"]
        assert by["004-1"]["status"] == "problem" and "video not found" in by["004-1"]["error"]
        ok = by["001-1"]
        assert len(ok["frames"]) == 4 and ok["frames"] == sorted(ok["frames"], key=lambda f: f["seconds"])
        assert ok["chooser"]["name"] == "scene" and ok["cost"]["frames"] == 4 and ok["cost"]["downstream_s"] >= 0
        assert ok["prompt"].endswith("Answer with the option's letter from the given choices directly.")
        assert "Frame at" in json.dumps(fake.chat_requests()[0].body)  # true times in the text
        summary = json.loads((out / "summary.json").read_text())
        overall = summary["overall"]
        assert (overall["n"], overall["ran"], overall["correct"], overall["failed"], overall["problem"], overall["unparsed"]) == (8, 4, 2, 2, 2, 1)
        assert summary["run"]["downstream"]["model"] == "some-vlm" and summary["run"]["cost"]["questions"] == 4
        assert "overall" in text and "duration=short" in text and (out / "summary.png").exists()
        # Resume: a finished run asks nothing again; a torn last line is redone.
        with (out / "results.jsonl").open("rb+") as handle:
            data = handle.read()
            handle.seek(0)
            handle.truncate()
            handle.write(data[: data.rstrip(b"\n").rfind(b"\n") + 1] + b'{"qid": "004-2", "sta')
        code, _, err = run(capsys, *args, "--base-url", fake.base_url)
        assert code == 0, err
        assert len(fake.chat_requests()) == first_requests
        assert [r["qid"] for r in lines(out / "results.jsonl")][-1] == "004-2"
    assert "sk-test-eval-key" not in (out / "results.jsonl").read_text() + (out / "summary.json").read_text()


def test_hf_downstream_with_the_trained_selector_chooser(videomme, tmp_path, capsys, tiny_selector_dir):
    from selector.tiny.vlm import save_tiny_qwen2_vl

    model = save_tiny_qwen2_vl(tmp_path / "qwen2vl")
    out = tmp_path / "run"
    code, text, err = run(capsys, "--bench", "videomme", "--root", videomme, "--downstream", f"hf:{model}",
                          "--chooser", f"selector:{tiny_selector_dir}", "--k", 3, "--candidates", 8, "--limit", 2,
                          "--max-new-tokens", 3, "--device", "cpu", "--out", out)
    assert code == 0, err
    results = lines(out / "results.jsonl")
    assert [r["status"] for r in results] == ["ok", "ok"]
    assert results[0]["handoff"]["target"] == "qwen2_vl" and results[0]["cost"]["visual_tokens"] > 0
    assert all(f["score"] is not None for f in results[0]["frames"])


def test_activitynet_is_judged(tmp_path, videos, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    base = tmp_path / "activitynetqa"
    (base / "all_test").mkdir(parents=True)
    shutil.copy(videos / BUNNY, base / "all_test" / "v_abc.webm")
    (base / "test_q.json").write_text(json.dumps([{"video_name": "abc", "question": "what animal is it", "question_id": "v_abc_0"}]))
    (base / "test_a.json").write_text(json.dumps([{"answer": "rabbit", "type": 2, "question_id": "v_abc_0"}]))
    with FakeOpenAI() as fake:
        fake.script(reply("a bunny"), reply('{"pred": "yes", "score": 4}'))
        code, text, err = run(capsys, "--bench", "activitynetqa", "--root", tmp_path, "--downstream", "openai:m", "--base-url",
                              fake.base_url, "--k", 2, "--candidates", 8, "--out", tmp_path / "run")
    assert code == 0, err
    result = lines(tmp_path / "run" / "results.jsonl")[0]
    assert result["correct"] is True and result["score"] == 4 and result["judge"]["judge_model"]
    assert result["prompt"].endswith("Answer the question using a single word or phrase.")


@pytest.mark.parametrize("argv, needle", [
    (["--bench", "nope"], "nope"),
    (["--downstream", "gpt4"], "KIND:MODEL"),
    (["--chooser", "magic"], "magic"),
    (["--candidates", "lots"], "candidate plan"),
])
def test_bad_input_exits_2(videomme, tmp_path, capsys, argv, needle):
    base = {"--bench": "videomme", "--root": str(videomme), "--downstream": "openai:m", "--base-url": "http://127.0.0.1:9/v1",
            "--out": str(tmp_path / "o")}
    for flag, value in zip(argv[::2], argv[1::2]):
        base[flag] = value
    code, _, err = run(capsys, *[x for kv in base.items() for x in kv])
    assert code == 2 and err.startswith("error: ") and needle in err


def test_loader_sees_every_question(videomme):
    records = load_benchmark("videomme", videomme)
    assert len(records) == 8 and sum(r.problem is not None for r in records) == 2
