"""`selector.records.VideoQuestion`: the one record of a question about a video, which labelling,
evaluation and the needle world extend; a row one part writes, another reads under the same names."""

import json

from eval.needle.planning import Question, WorldSettings, plan_video
from eval.records import Record

from pseudolabel.manifest import read_manifest
from selector import VideoQuestion


def test_defaults_and_row():
    item = VideoQuestion("q1", "v.mp4", "What happens?")
    assert (item.options, item.answer, item.spans) == ([], None, [])
    assert item.to_dict() == {"id": "q1", "video": "v.mp4", "question": "What happens?", "options": [], "answer": None, "spans": [],
                              "problem": None}
    assert VideoQuestion("q3", "v.mp4", "Which?", ["x", "y"]).with_options() == "Which?\nOptions:\nA. x\nB. y"
    other = VideoQuestion("q2", "v.mp4", "Which?")
    other.options.append("x")
    assert item.options == []  # no shared default list


def test_every_question_type_is_one():
    assert all(issubclass(t, VideoQuestion) for t in (VideoQuestion, Record, Question))
    record = Record("r1", "v.mp4", "Which?", ["a", "b"], "b", bench="nextqa", answer_letter="B")
    assert record.to_dict()["answer"] == "b" and record.to_dict()["bench"] == "nextqa" and record.letters == ["A", "B"]


def test_a_needle_question_reads_back_as_a_label_item(tmp_path):
    question = plan_video("v0", WorldSettings(videos=1), 0, ["order"]).questions[0]
    row = question.to_dict()
    assert {"kind", "needles", "frames"} <= set(row) and question.spans
    (tmp_path / "m.jsonl").write_text(json.dumps({**row, "video": "v0.mp4"}) + "\n")
    (item,) = read_manifest(tmp_path / "m.jsonl")
    common = ("id", "question", "options", "answer", "spans")
    assert isinstance(item, VideoQuestion)
    assert {f: getattr(item, f) for f in common} == {f: getattr(question, f) for f in common}
