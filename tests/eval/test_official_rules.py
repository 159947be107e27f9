"""Each loader letters, repeats, empties and leaves unanswerable exactly what its benchmark's
official script does, on rows shaped like the published files (written here, never copied):
a question a model answers as the official script expects must be scored right."""

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eval.benchmarks import load_benchmark
from eval.benchmarks.files import without_trailing_commas
from eval.benchmarks.mlvu import choice_bench_letter
from eval.metrics import is_correct, make_result, summarize
from eval.records import Record
from eval.run import prompt_for
from selector.processing import processor_for
from selector.tiny import build_tiny_tokenizer


def touch(path: Path) -> None:
    """A stand-in video: the loaders only check that the file exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4))


def write_parquet(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def keyed(records: list[Record]) -> dict[str, Record]:
    return {r.id: r for r in records}


def counts(records: list[Record]) -> tuple[int, int, int]:
    """(records, flagged, with notes): what a report of a loaded benchmark counts."""
    return len(records), sum(not r.ok for r in records), sum(bool(r.notes) for r in records)


# --- MLVU: choice_bench.py -------------------------------------------------------------------


def official_gt(item: dict) -> str:
    """The ground truth as MLVU's `choice_bench.py` writes it ("(C) Three"), and the letter its
    `check_ans` reads back from between the brackets: rewritten from the script as a reference."""
    answer_idx = -1
    for idx, c in enumerate(item["candidates"]):
        if c == item["answer"]:
            answer_idx = idx
    gt = f"({chr(ord('A') + answer_idx)}) {item['answer']}"
    return gt[gt.index("(") + 1 : gt.index(")")]


def plot(video: str, question: str, candidates: list[str], answer: str) -> dict:
    return {"video": video, "duration": 246.0, "question": question, "candidates": candidates, "answer": answer, "question_type": "plotQA"}


MLVU_FILES = {
    "1_plotQA": [
        plot("movie101_66.mp4", "How many people are at the table?", ["Six", "Three", "Three", "Eight"], "Three"),
        plot("movie101_5.mp4", "Is there a scene of archery in the video?",
             ["", "There is an archery scene", "There is no archery scene", ""], "There is an archery scene"),
        plot("movie101_8.mp4", "What does the man hold?", ["A sword", "A bow", "", ""], ""),  # empty answer, empty candidates
        plot("movie101_9.mp4", "What colour is the car?", ["Red", "Blue", "Green", "Black"], ""),  # empty answer, none empty
        plot("movie101_10.mp4", "Where are they?", ["In a park", "At home", "On a boat", "In a car"], "in a park"),  # case only
        plot("movie101_11.mp4", "What color is the bag?", ["Red", "Blue", "Green", "Black"], "Blue"),
    ],
    "6_anomaly_reco": [
        {"video": "Shooting034_x264.mp4", "duration": 96.0, "question": "Does this surveillance footage contain any anomalies?",
         "candidates": ["Shooting", "Explosion", "Shooting", "Arson"], "answer": "Shooting", "question_type": "anomaly_reco"},
    ],
    "7_topic_reasoning": [
        {"video": "AWA-6.mp4", "duration": 500.0, "question": "What is the main background of the video?",
         "candidates": ["Grassland", "Forest", "Desert", "Forest"], "answer": "Forest", "question_type": "topic_reasoning"},
    ],
}


@pytest.fixture
def mlvu(tmp_path) -> list[Record]:
    base = tmp_path / "mlvu"
    for name, items in MLVU_FILES.items():
        write_json(base / "json" / f"{name}.json", items)
        for item in items:
            touch(base / "video" / name / item["video"])
    return load_benchmark("mlvu", tmp_path, layout="official")


def test_mlvu_letters_every_row_as_choice_bench_does(mlvu):
    items = [item for name in sorted(MLVU_FILES) for item in MLVU_FILES[name]]
    assert [r.answer_letter or "@" for r in mlvu] == [official_gt(item) for item in items]
    assert [choice_bench_letter(item["answer"], item["candidates"]) or "@" for item in items] == [official_gt(item) for item in items]
    assert counts(mlvu) == (8, 0, 7)  # every row loads and is scored; all but the plain one are odd


def test_mlvu_repeated_candidates_the_last_is_correct(mlvu):
    records = keyed(mlvu)
    three = records["1_plotQA_0"]
    assert (three.options, three.answer_letter, three.answer) == (["Six", "Three", "Three", "Eight"], "C", "Three")
    assert is_correct(three, "C") is True and is_correct(three, "B") is False  # as check_ans scores them
    assert three.notes == ["options B and C are both 'Three'", "answer 'Three' is option B and C; choice_bench.py marks the last (C) correct"]
    assert (records["6_anomaly_reco_0"].answer_letter, records["7_topic_reasoning_0"].answer_letter) == ("C", "D")


def test_mlvu_empty_candidates_keep_their_letters_and_reach_every_reader(mlvu):
    archery = keyed(mlvu)["1_plotQA_1"]
    assert archery.ok and archery.options == ["", "There is an archery scene", "There is no archery scene", ""]
    assert (archery.answer_letter, archery.answer) == ("B", "There is an archery scene")
    assert archery.notes == ["empty options A, D, kept at their letters"]
    lettered = "Is there a scene of archery in the video?\nOptions:\nA. \nB. There is an archery scene\nC. There is no archery scene\nD. "
    assert archery.with_options() == lettered and prompt_for(archery).startswith(lettered + "\n")
    processor = processor_for(None, build_tiny_tokenizer(), 32)
    assert lettered in processor.question_text(archery.question, archery.options)
    assert processor.question_ids(archery.question, archery.options)
    with pytest.raises(ValueError, match="options must be a list of strings"):
        processor.question_text("Q?", ["a", None])


def test_mlvu_empty_and_unmatched_answers_are_scored_and_noted(mlvu):
    records = keyed(mlvu)
    empty_matched, empty_unmatched, case_only = records["1_plotQA_2"], records["1_plotQA_3"], records["1_plotQA_4"]
    assert (empty_matched.answer_letter, empty_matched.answer, empty_matched.unanswerable) == ("D", "", False)
    assert "empty answer; choice_bench.py compares it like any text, so option D, empty too, is correct" in empty_matched.notes
    assert (empty_unmatched.answer_letter, empty_unmatched.answer, empty_unmatched.unanswerable) == (None, "", True)
    assert empty_unmatched.notes == ["empty answer; choice_bench.py compares it like any text, which matches no option: no reply is scored right"]
    assert (case_only.answer_letter, case_only.unanswerable) == (None, True)  # the script compares exactly
    assert case_only.notes == ["answer 'in a park' matches option A only ignoring case and spacing; choice_bench.py compares exactly, so no reply is scored right"]
    assert is_correct(case_only, "A") is False and keyed(mlvu)["1_plotQA_5"].notes == []


def test_reports_count_the_odd_questions(mlvu):
    results = [make_result(r, correct=is_correct(r, r.answer_letter or "A")) for r in mlvu]
    assert results[0]["notes"] == mlvu[0].notes
    overall = summarize(results)["overall"]
    assert (overall["n"], overall["odd"], overall["unanswerable"], overall["correct"]) == (8, 7, 2, 6)


# --- Video-MME: the Hugging Face Parquet and the published template --------------------------

VIDEOMME_VIDEO = {"video_id": "001", "duration": "short", "domain": "Knowledge", "sub_category": "Humanity & History",
                  "url": "https://www.youtube.com/watch?v=fFjv93ACGo8", "videoID": "fFjv93ACGo8"}
VIDEOMME_QUESTIONS = [
    {"question_id": "001-1", "task_type": "Counting Problem", "question": "Which kind of the decoration has the largest number?",
     "options": ["A. Apples.", "B. Candles.", "C. Berries.", "D. The three kinds are of the same number."], "answer": "C"},
    {"question_id": "001-2", "task_type": "Information Synopsis", "question": "What is the genre of this video?",
     "options": ["A. A news report.", "B. A documentary.", "C. A news report.", "D. "], "answer": "C"},
    {"question_id": "001-3", "task_type": "Counting Problem", "question": "How many red socks are above the fireplace?",
     "options": ["A. 1.", "B. 4.", "C. 2.", "D. 3."], "answer": "D"},
]


def test_videomme_parquet_is_the_official_release(tmp_path):
    rows = [{**VIDEOMME_VIDEO, **q} for q in VIDEOMME_QUESTIONS]
    write_parquet(tmp_path / "videomme" / "videomme" / "test-00000-of-00001.parquet", rows)
    touch(tmp_path / "videomme" / "data" / "fFjv93ACGo8.mp4")
    records = keyed(load_benchmark("videomme", tmp_path, layout="official"))
    odd = records["001-2"]
    assert odd.ok and odd.options == ["A news report.", "A documentary.", "A news report.", ""]
    assert (odd.answer_letter, odd.answer) == ("C", "A news report.")  # the stated letter stands: letters are compared
    assert odd.notes == ["empty option D, kept at its letter", "options A and C are both 'A news report.'"]
    assert counts(list(records.values())) == (3, 0, 1)


def published_template(path: Path, questions: list[dict], **video_fields) -> None:
    """The template as published: 4-space indents and a comma after every last member, the
    form strict JSON rejects."""
    lines = json.dumps([{**video_fields, "questions": questions}], indent=4).splitlines()
    closes = [i + 1 < len(lines) and lines[i + 1].lstrip().startswith(("}", "]")) and not line.endswith(("[", "{")) for i, line in enumerate(lines)]
    text = "\n".join(line + "," * close for line, close in zip(lines, closes))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def test_videomme_template_with_trailing_commas(tmp_path):
    base = tmp_path / "videomme"
    questions = [{**q, "response": "C. Berries."} for q in VIDEOMME_QUESTIONS[:2]] + [{**VIDEOMME_QUESTIONS[2], "answer": "", "response": ""}]
    published_template(base / "evaluation" / "output_test_template.json", questions, video_id="001", duration="short",
                       domain="Knowledge", sub_category="Humanity & History")
    text = (base / "evaluation" / "output_test_template.json").read_text()
    assert '"C. Berries.",\n            }' in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    touch(base / "data" / "001.mp4")  # the template names no YouTube id: the video is looked up by video_id
    records = keyed(load_benchmark("videomme", tmp_path))
    first = records["001-1"]
    assert first.ok and (first.answer_letter, first.answer, first.video_id) == ("C", "Berries.", "001")
    assert first.categories == {"duration": "short", "domain": "Knowledge", "sub_category": "Humanity & History", "task_type": "Counting Problem"}
    assert records["001-3"].problem == "no ground truth (empty answer)" and records["001-3"].answer_letter is None
    assert counts(list(records.values())) == (3, 1, 1)
    with pytest.raises(FileNotFoundError, match="lmms-eval"):
        load_benchmark("videomme", tmp_path, layout="lmms-eval")


def test_videomme_older_template_names(tmp_path):
    old = [{"question_id": "001-1", "task_type": "Object Reasoning", "question": "Which statement is not correct?",
            "choices": ["A. One.", "B. Two.", "C. Three.", "D. Four."], "answer": "A", "response": "D"}]
    write_json(tmp_path / "output_test_template.json", [{"video_id": "001", "duration_category": "short", "video_category": "Knowledge",
                                                         "video_subcategory": "Humanity & History", "questions": old}])
    (record,) = load_benchmark("videomme", tmp_path)
    assert (record.options, record.answer_letter) == (["One.", "Two.", "Three.", "Four."], "A")
    assert record.categories == {"duration": "short", "domain": "Knowledge", "sub_category": "Humanity & History", "task_type": "Object Reasoning"}


def test_trailing_commas_inside_strings_are_kept():
    text = '[{"a": "x,]", "b": "say \\"hi,}\\"", "c": "q\\\\", "d": [1, 2,  ],},\n]'
    assert json.loads(without_trailing_commas(text)) == [{"a": "x,]", "b": 'say "hi,}"', "c": "q\\", "d": [1, 2]}]


# --- NExT-QA, EgoSchema, LongVideoBench: index answers ---------------------------------------


def test_nextqa_index_answers_stand_over_repeats_and_empties(tmp_path):
    header = ["video", "frame_count", "width", "height", "question", "answer", "qid", "type", "a0", "a1", "a2", "a3", "a4"]
    rows = [
        ["4882821564", 2697, 640, 480, "why did the boy pick up one present", 2, 1, "CW", "share", "approach", "unwrap it", "play", "gesture"],
        ["4882821564", 2697, 640, 480, "what did the boy do after", 3, 2, "TN", "sit down", "run", "jump", "sit down", ""],
        ["4882821564", 2697, 640, 480, "where is the boy", 5, 3, "DL", "a", "b", "c", "d", "e"],
    ]
    base = tmp_path / "nextqa"
    base.mkdir()
    with (base / "val.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    touch(base / "NExTVideo" / "4882821564.mp4")
    records = load_benchmark("nextqa", tmp_path, split="val")
    plain, odd, outside = records
    assert (plain.answer_letter, plain.notes) == ("C", [])
    assert odd.ok and odd.options == ["sit down", "run", "jump", "sit down", ""] and odd.answer_letter == "D"
    assert odd.notes == ["empty option E, kept at its letter", "options A and D are both 'sit down'"]
    assert "outside the 5 options" in outside.problem
    assert counts(records) == (3, 1, 1)


def test_egoschema_index_answers_stand_over_repeats(tmp_path):
    base = tmp_path / "egoschema"
    options = ["c cleans", "c cooks", "c cleans", "c reads", "c sleeps"]
    write_json(base / "questions.json", [{"q_uid": "uid-1", "google_drive_id": "x", "question": "What does c do most?",
                                          **{f"option {i}": o for i, o in enumerate(options)}}])
    write_json(base / "subset_answers.json", {"uid-1": 2})
    touch(base / "videos" / "uid-1.mp4")
    (record,) = load_benchmark("egoschema", tmp_path)
    assert record.ok and (record.answer_letter, record.notes) == ("C", ["options A and C are both 'c cleans'"])


def test_longvideobench_padding_is_not_an_option_and_test_has_no_ground_truth(tmp_path):
    base = tmp_path / "longvideobench"
    row = {"video_id": "abc", "id": "abc_0", "video_path": "abc.mp4", "subtitle_path": "abc_en.json", "question": "Which one?",
           "option0": "x", "option1": "y", "option2": "x", "option3": "N/A", "option4": "N/A", "correct_choice": 2, "duration": 12.5,
           "duration_group": 15, "question_category": "S2E", "topic_category": "KS", "starting_timestamp_for_subtitles": 0}
    write_parquet(base / "validation-00000-of-00001.parquet", [row])
    write_json(base / "lvb_test_wo_gt.json", [{**{k: v for k, v in row.items() if not k.startswith("option")},
                                               "candidates": ["x", "y", "z"], "correct_choice": "@"}])
    touch(base / "videos" / "abc.mp4")
    (val,) = load_benchmark("longvideobench", tmp_path)
    assert val.ok and (val.options, val.answer_letter) == (["x", "y", "x"], "C") and val.notes == ["options A and C are both 'x'"]
    (test,) = load_benchmark("longvideobench", tmp_path, split="test")
    assert test.problem == "no ground truth in this split" and not test.unanswerable


# --- ActivityNet-QA: open-ended ---------------------------------------------------------------


def test_activitynetqa_val_answers_as_published(tmp_path):
    base = tmp_path / "activitynetqa"
    write_json(base / "val_q.json", [{"video_name": "abc", "question": "what is the man doing", "question_id": "v_abc_0"},
                                     {"video_name": "abc", "question": "is it sunny", "question_id": "v_abc_1"}])
    write_json(base / "val_a.json", [{"answer": "surfing ", "type": 0, "question_id": "v_abc_0"}])
    touch(base / "all_test" / "v_abc.mp4")
    records = keyed(load_benchmark("activitynetqa", tmp_path, split="val"))
    assert (records["v_abc_0"].answer, records["v_abc_0"].categories, records["v_abc_0"].options) == ("surfing", {"type": "motion"}, [])
    assert records["v_abc_1"].problem == "malformed row: no answer"
    assert counts(list(records.values())) == (2, 1, 0)
