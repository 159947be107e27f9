"""Benchmark loaders: tiny fake benchmark folders in the official and in lmms-eval's Parquet
layout, with real video files, must normalise to the same records, and flag (never drop) what
cannot be evaluated."""

import importlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eval.benchmarks import BENCHMARKS, answer_letter, benchmark_name, load_benchmark, split_embedded_options, strip_letter
from eval.records import Record

MP4 = "torchcodec__h265_video.mp4"
MKV = "torchcodec__av1_video.mkv"
WEBM = "moviepy__big_buck_bunny_432_433.webm"


def put_video(videos: Path, name: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(videos / name, dest)


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def write_parquet(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def keyed(records: list[Record]) -> dict[str, Record]:
    return {r.id: r for r in records}


def comparable(record: Record, **changes) -> Record:
    """A record without what legitimately differs between layouts (where it was read from)."""
    return replace(record, source="", **changes)


# --------------------------------------------------------------------------------------------


def test_helpers():
    assert strip_letter("A. Apples.", 0) == "Apples."
    assert strip_letter("(B) two", 1) == "two"
    assert strip_letter("C) x", 2) == "x"
    assert strip_letter("I. M. Pei", 0) == "I. M. Pei"  # not this position's letter: kept
    assert [answer_letter(v, 5) for v in (0, "2", "D", "e", 4.0)] == ["A", "C", "D", "E", "E"]
    for bad in (5, "F", "two", None, True):
        with pytest.raises(ValueError):
            answer_letter(bad, 5)
    stem, options = split_embedded_options("What is it?\nOptions:\n(A) a cat\n(B) a dog.\n(C) a bird")
    assert (stem, options) == ("What is it?", ["a cat", "a dog.", "a bird"])
    assert split_embedded_options("No options (A) here") == ("No options (A) here", [])


VIDEOMME_VIDEOS = [
    {
        "video_id": "001", "duration": "short", "domain": "Knowledge", "sub_category": "Humanity & History",
        "url": "https://www.youtube.com/watch?v=fFjv93ACGo8", "videoID": "fFjv93ACGo8",
        "questions": [
            {"question_id": "001-1", "task_type": "Counting Problem", "question": "Which decoration is most common?",
             "options": ["A. Apples.", "B. Candles.", "C. Berries.", "D. All the same."], "answer": "C"},
            {"question_id": "001-2", "task_type": "OCR Problems", "question": "What is written?",
             "options": ["A. Hi", "B. Bye", "C. Yes", "D. No"], "answer": "A"},
        ],
    },
    {
        "video_id": "002", "duration": "long", "domain": "Sports", "sub_category": "Football",
        "url": "https://www.youtube.com/watch?v=missingVid01", "videoID": "missingVid01",
        "questions": [
            {"question_id": "002-1", "task_type": "Action Reasoning", "question": "Why?",
             "options": ["A. x", "B. y", "C. z", "D. w"], "answer": "B"},
            {"question_id": "002-2", "task_type": "Action Reasoning", "question": "Broken row?", "options": None, "answer": "B"},
        ],
    },
]


def videomme_template(root: Path) -> None:
    """The authors' results template: nested by video, no video file names, trailing commas."""
    data = [{**{k: v[k] for k in ("video_id", "duration", "domain", "sub_category")},
             "questions": [{**q, "response": ""} for q in v["questions"]]} for v in VIDEOMME_VIDEOS]
    path = root / "videomme" / "evaluation" / "output_test_template.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4).replace('"\n            }', '",\n            }'))


def videomme_parquet(root: Path) -> None:
    rows = [{**{k: v[k] for k in v if k != "questions"}, **q} for v in VIDEOMME_VIDEOS for q in v["questions"]]
    write_parquet(root / "videomme" / "videomme" / "test-00000-of-00001.parquet", rows)


@pytest.mark.parametrize("layout", ["official", "lmms-eval"])
def test_videomme(tmp_path, videos, layout):
    videomme_parquet(tmp_path)  # the authors' Hugging Face release, which lmms-eval also reads
    put_video(videos, MKV, tmp_path / "videomme" / "data" / "fFjv93ACGo8.mkv")  # found by trying extensions
    (tmp_path / "videomme" / "subtitle").mkdir()
    (tmp_path / "videomme" / "subtitle" / "fFjv93ACGo8.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    records = keyed(load_benchmark("video-mme", tmp_path, layout=layout))
    assert list(records) == ["001-1", "001-2", "002-1", "002-2"]
    first = records["001-1"]
    assert first.options == ["Apples.", "Candles.", "Berries.", "All the same."]
    assert (first.answer_letter, first.answer, first.answer_type) == ("C", "Berries.", "mc")
    assert first.categories == {"duration": "short", "domain": "Knowledge", "sub_category": "Humanity & History", "task_type": "Counting Problem"}
    assert first.video.endswith("data/fFjv93ACGo8.mkv") and first.ok
    assert first.subtitle_path.endswith("subtitle/fFjv93ACGo8.srt")
    assert first.video_id == "fFjv93ACGo8" and first.letters == ["A", "B", "C", "D"]
    assert records["002-1"].problem.startswith("video not found: tried ") and "missingVid01.mp4" in records["002-1"].problem
    assert records["002-1"].video.endswith("data/missingVid01")  # the first path tried
    assert records["002-2"].problem.startswith("malformed row")


def test_videomme_template_and_parquet_normalise_alike_and_auto_prefers_the_parquet(tmp_path):
    videomme_template(tmp_path)
    template = load_benchmark("videomme", tmp_path)  # no Parquet: the template
    assert all("output_test_template.json#" in r.source for r in template)
    videomme_parquet(tmp_path)
    parquet = load_benchmark("videomme", tmp_path / "videomme", layout="lmms-eval")  # root may be the benchmark folder
    # The template names no video file (no videoID, no url), so only where the video is differs.
    assert [comparable(r, problem=None, video="", video_id="") for r in template] == [
        comparable(r, problem=None, video="", video_id="") for r in parquet]
    assert all("test-00000-of-00001.parquet#" in r.source for r in load_benchmark("videomme", tmp_path))
    with pytest.raises(FileNotFoundError, match="lmms-eval"):
        load_benchmark("nextqa", tmp_path, layout="lmms-eval")
    with pytest.raises(ValueError, match="unknown benchmark"):
        load_benchmark("nope", tmp_path)


LVB_ROWS = [
    {"video_id": "86CxyhFV9MI", "id": "86CxyhFV9MI_0", "video_path": "86CxyhFV9MI.mp4", "subtitle_path": "86CxyhFV9MI_en.json",
     "question": "Which subtitles appear at the same time?", "candidates": ["one", "two", "three", "four"], "correct_choice": 1,
     "duration": 190.16, "duration_group": 600, "question_category": "TOS", "topic_category": "NP-News-Programs", "level": "L2-Relation",
     "starting_timestamp_for_subtitles": 0},
    {"video_id": "abc", "id": "abc_1", "video_path": "abc.mp4", "subtitle_path": "abc_en.json", "question": "Three options?",
     "candidates": ["x", "y", "z"], "correct_choice": 2, "duration": 12.5, "duration_group": 15, "question_category": "S2E",
     "topic_category": "KS", "level": "L1", "starting_timestamp_for_subtitles": 3.5},
    {"video_id": "abc", "id": "abc_2", "video_path": "abc.mp4", "subtitle_path": "abc_en.json", "question": "Out of range?",
     "candidates": ["x", "y"], "correct_choice": 4, "duration": 12.5, "duration_group": 15, "question_category": "S2E",
     "topic_category": "KS", "level": "L1", "starting_timestamp_for_subtitles": 3.5},
]


@pytest.mark.parametrize("layout", ["official", "lmms-eval"])
def test_longvideobench(tmp_path, videos, layout):
    base = tmp_path / "longvideobench"
    if layout == "official":
        write_json(base / "lvb_val.json", LVB_ROWS)
    else:
        rows = []
        for r in LVB_ROWS:
            flat = {k: v for k, v in r.items() if k not in ("candidates", "level")}
            flat.update({f"option{i}": (r["candidates"][i] if i < len(r["candidates"]) else "N/A") for i in range(5)})
            rows.append(flat)
        write_parquet(base / "validation-00000-of-00001.parquet", rows)
    put_video(videos, MP4, base / "videos" / "86CxyhFV9MI.mp4")
    put_video(videos, WEBM, base / "videos" / "abc.webm")  # the annotation says .mp4
    write_json(base / "subtitles" / "86CxyhFV9MI_en.json", [])
    records = keyed(load_benchmark("lvb", tmp_path, layout=layout))
    first, second = records["86CxyhFV9MI_0"], records["abc_1"]
    assert (first.options, first.answer_letter, first.answer) == (["one", "two", "three", "four"], "B", "two")
    assert first.duration_s == pytest.approx(190.16) and first.categories["duration_group"] == "600"
    assert first.categories["question_category"] == "TOS" and first.subtitle_path.endswith("subtitles/86CxyhFV9MI_en.json")
    assert (second.options, second.answer_letter, second.subtitle_offset_s) == (["x", "y", "z"], "C", 3.5)
    assert second.video.endswith("videos/abc.webm") and second.ok and second.subtitle_path is None
    assert "outside the 2 options" in records["abc_2"].problem
    assert ("level" in first.categories) == (layout == "official")


@pytest.mark.parametrize("layout", ["official", "lmms-eval"])
def test_nextqa(tmp_path, videos, layout):
    base = tmp_path / "nextqa"
    rows = [
        {"video": "4010069381", "frame_count": 100, "width": 640, "height": 480, "question": "why did the boy pick up the present",
         "answer": 2, "qid": 1, "type": "CW", "a0": "share", "a1": "approach", "a2": "unwrap it", "a3": "play", "a4": "gesture"},
        {"video": "4010069381", "frame_count": 100, "width": 640, "height": 480, "question": "what did the boy do after",
         "answer": 0, "qid": 2, "type": "TP", "a0": "sit", "a1": "run", "a2": "jump", "a3": "cry", "a4": "sing"},
        {"video": "999", "frame_count": 1, "width": 1, "height": 1, "question": "where", "answer": 4, "qid": 0, "type": "DL",
         "a0": "a", "a1": "b", "a2": "c", "a3": "d", "a4": "e"},
    ]
    if layout == "official":
        base.mkdir()
        header = list(rows[0])
        lines = [",".join(header)] + [",".join(str(r[h]) for h in header) for r in rows]
        (base / "test.csv").write_text("\n".join(lines) + "\n")
        write_json(base / "map_vid_vidorID.json", {"4010069381": "0101/4010069381"})
        put_video(videos, MP4, base / "NExTVideo" / "0101" / "4010069381.mp4")
    else:
        write_parquet(base / "MC" / "test-00000-of-00001.parquet", rows)
        put_video(videos, MP4, base / "NExTVideo" / "4010069381.MP4")  # lmms-eval also tries .MP4
    records = keyed(load_benchmark("nextqa", tmp_path, layout=layout))
    causal, temporal = records["4010069381_1"], records["4010069381_2"]
    assert (causal.answer_letter, causal.answer, causal.categories) == ("C", "unwrap it", {"type": "CW", "group": "causal"})
    assert temporal.categories == {"type": "TN", "group": "temporal"}  # TP is reported with TN
    assert causal.ok and Path(causal.video).is_file() and causal.video_id == "4010069381"
    assert records["999_0"].problem.startswith("video not found")
    assert records["999_0"].answer_letter == "E"


@pytest.mark.parametrize("layout", ["official", "lmms-eval"])
def test_egoschema(tmp_path, videos, layout):
    base = tmp_path / "egoschema"
    if layout == "official":
        questions = [
            {"q_uid": "uid-1", "google_drive_id": "x", "question": "What did c do?", **{f"option {i}": f"thing {i}" for i in range(5)}},
            {"q_uid": "uid-2", "google_drive_id": "y", "question": "Why?", **{f"option {i}": f"reason {i}" for i in range(5)}},
            {"q_uid": "uid-3", "google_drive_id": "z", "question": "Not in the subset", **{f"option {i}": "o" for i in range(5)}},
        ]
        write_json(base / "questions.json", questions)
        write_json(base / "subset_answers.json", {"uid-1": 3, "uid-2": 0, "uid-9": 1})
    else:
        rows = [
            {"question_idx": "uid-1", "question": "What did c do?", "video_idx": "uid-1", "option": [f"{'ABCDE'[i]}. thing {i}" for i in range(5)], "answer": "3"},
            {"question_idx": "uid-2", "question": "Why?", "video_idx": "uid-2", "option": [f"{'ABCDE'[i]}. reason {i}" for i in range(5)], "answer": "0"},
            {"question_idx": "uid-9", "question": None, "video_idx": "uid-9", "option": None, "answer": "1"},
        ]
        write_parquet(base / "Subset" / "test-00000-of-00001.parquet", rows)
    put_video(videos, MP4, base / "videos" / "uid-1.mp4")
    records = keyed(load_benchmark("egoschema", tmp_path, layout=layout))
    assert list(records) == ["uid-1", "uid-2", "uid-9"]  # the subset only; answers without a question flagged
    first = records["uid-1"]
    assert (first.options, first.answer_letter, first.answer) == ([f"thing {i}" for i in range(5)], "D", "thing 3")
    assert first.ok and records["uid-2"].problem.startswith("video not found")
    assert records["uid-9"].problem.startswith("malformed row")


@pytest.mark.parametrize("layout", ["official", "lmms-eval"])
def test_activitynetqa(tmp_path, videos, layout):
    base = tmp_path / "activitynetqa"
    questions = [
        {"video_name": "1QIUV7WYKXg", "question": "is the athlete wearing trousers", "question_id": "v_1QIUV7WYKXg_3"},
        {"video_name": "1QIUV7WYKXg", "question": "what color is the ball", "question_id": "v_1QIUV7WYKXg_4"},
        {"video_name": "other", "question": "how many people", "question_id": "v_other_0"},
    ]
    answers = [{"answer": "no", "type": 3, "question_id": "v_1QIUV7WYKXg_3"}, {"answer": "red", "type": 4, "question_id": "v_1QIUV7WYKXg_4"}]
    if layout == "official":
        write_json(base / "test_q.json", questions)
        write_json(base / "test_a.json", answers)
    else:
        by_id = {a["question_id"]: a for a in answers}
        rows = [{**q, "answer": by_id.get(q["question_id"], {}).get("answer"), "type": by_id.get(q["question_id"], {}).get("type")} for q in questions]
        write_parquet(base / "test-00000-of-00001.parquet", rows)
    put_video(videos, WEBM, base / "all_test" / "v_1QIUV7WYKXg.webm")
    records = keyed(load_benchmark("activitynetqa", tmp_path, layout=layout))
    yes_no = records["v_1QIUV7WYKXg_3"]
    assert (yes_no.answer_type, yes_no.answer, yes_no.answer_letter, yes_no.options) == ("open", "no", None, [])
    assert yes_no.categories == {"type": "yes/no"} and records["v_1QIUV7WYKXg_4"].categories == {"type": "color"}
    assert yes_no.video.endswith("all_test/v_1QIUV7WYKXg.webm") and yes_no.ok and not yes_no.unanswerable
    assert records["v_other_0"].problem == "malformed row: no answer"


MLVU_PLOT = [
    {"video": "movie101_66.mp4", "duration": 246, "question": "What color is the bag?", "candidates": ["Red", "Blue", "Green", "Black"],
     "answer": "Blue", "question_type": "plotQA"},
]
MLVU_NEEDLE = [
    {"video": "needle_32.mp4", "duration": 467.98, "question": "What is the needle?", "candidates": ["a cat", "a dog", "a bird", "a fish"],
     "answer": "a dog", "question_type": "findNeedle"},
    {"video": "needle_4.mp4", "duration": 300.0, "question": "Answer not among candidates", "candidates": ["a", "b", "c", "d"],
     "answer": "e", "question_type": "findNeedle"},
]
MLVU_SUMMARY = [{"video": "sum_1.mp4", "duration": 600, "question": "Summarise", "answer": "a long text", "question_type": "summary"}]


@pytest.mark.parametrize("layout", ["official", "lmms-eval"])
def test_mlvu(tmp_path, videos, layout):
    base = tmp_path / "mlvu"
    if layout == "official":
        write_json(base / "json" / "1_plotQA.json", MLVU_PLOT)
        write_json(base / "json" / "2_needle.json", MLVU_NEEDLE)
        write_json(base / "json" / "9_summary.json", MLVU_SUMMARY)
        ids = {"plot": "1_plotQA_0", "needle": "2_needle_0", "outside": "2_needle_1"}
    else:
        def embedded(item):
            lines = [f"({'ABCD'[i]}) {c}" for i, c in enumerate(item["candidates"])]
            return item["question"] + "\n" + "\n".join(lines)

        plot, needle, outside = MLVU_PLOT[0], *MLVU_NEEDLE
        rows = [  # the copies differ: options in `candidates` or only in the question; answer as letter or text
            {"video_name": plot["video"], "duration": plot["duration"], "question": embedded(plot), "candidates": None,
             "answer": "(B) Blue", "task_type": "plotQA", "question_id": "q1"},
            {"video_name": needle["video"], "duration": needle["duration"], "question": embedded(needle), "candidates": needle["candidates"],
             "answer": "B", "task_type": "needle", "question_id": "q2"},
            {"video_name": outside["video"], "duration": outside["duration"], "question": outside["question"], "candidates": outside["candidates"],
             "answer": "e", "task_type": "needle", "question_id": "q3"},
            {"video_name": "sum_1.mp4", "duration": 600.0, "question": "Summarise", "candidates": None, "answer": "text",
             "task_type": "summary", "question_id": "q4"},
        ]
        write_parquet(base / "test-00000-of-00001.parquet", rows)
        ids = {"plot": "q1", "needle": "q2", "outside": "q3"}
    put_video(videos, MP4, base / "video" / "1_plotQA" / "movie101_66.mp4")
    put_video(videos, MKV, base / "video" / "2_needle" / "needle_32.mkv")
    records = keyed(load_benchmark("mlvu", tmp_path, layout=layout))
    assert sorted(records) == sorted(ids.values())  # the summary task is not multiple choice
    plot, needle, outside = (records[ids[k]] for k in ("plot", "needle", "outside"))
    assert (plot.question, plot.options, plot.answer_letter, plot.answer) == ("What color is the bag?", ["Red", "Blue", "Green", "Black"], "B", "Blue")
    assert plot.ok and plot.video.endswith("video/1_plotQA/movie101_66.mp4") and plot.duration_s == 246
    assert (needle.answer_letter, needle.categories, needle.question) == ("B", {"task": "findNeedle"}, "What is the needle?")
    assert needle.ok and needle.video.endswith("video/2_needle/needle_32.mkv")
    assert (outside.answer_letter, outside.answer, outside.unanswerable) == (None, "e", True)
    assert outside.problem.startswith("video not found")


def test_duplicate_qids_are_flagged(tmp_path, videos):
    rows = [{**LVB_ROWS[0]}, {**LVB_ROWS[0], "question": "same id again"}]
    write_json(tmp_path / "lvb_val.json", rows)
    put_video(videos, MP4, tmp_path / "videos" / "86CxyhFV9MI.mp4")
    first, second = load_benchmark("longvideobench", tmp_path)
    assert first.ok and second.problem == f"duplicate qid '86CxyhFV9MI_0' (first at {first.source})"
    assert second.id == f"86CxyhFV9MI_0@{second.source}"  # results stay keyed uniquely


def test_every_benchmark_module_registers_itself_under_its_name():
    """A benchmark is found by its module: `eval/benchmarks/<name>.py` defines `BENCHMARK`, named
    as the module, with published parsers only for the known extraction methods."""
    for name, benchmark in BENCHMARKS.items():
        assert importlib.import_module(f"eval.benchmarks.{name}").BENCHMARK is benchmark
        assert set(benchmark.extractors) <= {"official", "lmms-eval"}


def test_registry_names_every_benchmark_and_its_aliases():
    assert {"activitynetqa", "egoschema", "longvideobench", "mlvu", "nextqa", "videomme"} <= set(BENCHMARKS)  # and any added
    assert [benchmark_name(n) for n in ("Video-MME", " lvb ", "nextqa_mc", "anetqa", "mlvu")] == [
        "videomme", "longvideobench", "nextqa", "activitynetqa", "mlvu"]
    with pytest.raises(ValueError) as error:
        benchmark_name("mvbench")
    message = str(error.value)
    assert "\n" not in message and message.startswith("unknown benchmark 'mvbench'")
    assert all(name in message for name in BENCHMARKS)
