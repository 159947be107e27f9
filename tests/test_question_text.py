"""One question text everywhere: the same (question, options) reaches the selector as the same
token ids through every route that asks it -- training from the label store, `select` and
`select_many`, the `select` command, `eval`, the needle evaluation, and both lmms-eval routes (the
manifest precompute and the plug-in model) -- because all of them ask the checkpoint's processor."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from selector import FrameSelector, VideoQuestion, probe
from selector.processing import FrameSelectorProcessor, load_processor
from tests.support.paths import VIDEOS

VIDEO = VIDEOS / "moviepy__big_buck_bunny_0_30.webm"
QUESTION = "When does the bunny come out?"
OPTIONS = ["at the start", "in the middle", "at the end"]
LETTERED = [f"{letter}. {option}" for letter, option in zip("ABC", OPTIONS)]  # as Video-MME's docs write them
CANDIDATES, K = 16, 2


@pytest.fixture
def asked(monkeypatch) -> list[list[int]]:
    """Every question row the selector is given, as its unpadded token ids."""
    rows: list[list[int]] = []
    original = FrameSelectorProcessor.__call__

    def recording(self, *args, **kwargs):
        batch = original(self, *args, **kwargs)
        if kwargs.get("questions") is not None:
            rows.extend(row[m.bool()].tolist() for row, m in zip(batch["input_ids"], batch["attention_mask"]))
        return batch

    monkeypatch.setattr(FrameSelectorProcessor, "__call__", recording)
    return rows


def expected_ids(model_dir) -> list[int]:
    processor = load_processor(model_dir)
    ids = processor.question_ids(QUESTION, OPTIONS)
    text = processor.tokenizer.decode(ids)
    assert "A. at the start\nB. in the middle\nC. at the end" in text and QUESTION in text
    return ids


def test_select_select_many_and_the_command_ask_the_same_ids(tiny_selector_dir, asked, capsys):
    from selector.cli import main

    selector = FrameSelector.from_pretrained(tiny_selector_dir, device="cpu")
    selection = selector.select(VIDEO, QUESTION, k=K, candidates=CANDIDATES, options=OPTIONS)
    selector.select_many(VIDEO, [QUESTION, "Another?"], k=K, candidates=CANDIDATES, options=[OPTIONS, None])
    argv = ["select", "--model", str(tiny_selector_dir), "--video", str(VIDEO), "--question", QUESTION, "--k", str(K),
            "--candidates", str(CANDIDATES), "--device", "cpu", *[a for o in OPTIONS for a in ("--option", o)]]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed[0]["options"] == OPTIONS and printed[0]["frames"] == selection.to_dict()["frames"]
    want = expected_ids(tiny_selector_dir)
    assert asked == [want, want, selector.processor.question_ids("Another?"), want]
    assert selection.options == OPTIONS


def test_training_reads_the_label_store_row_as_selection_does(tiny_selector_dir, tmp_path):
    """A labelled multiple-choice item: the training example's ids are the ids `select` asks."""
    from pseudolabel.job import LabelJob, LabelSettings
    from pseudolabel.manifest import read_manifest
    from selector import CandidatePlan
    from train.data import FrameSource, ScoreDataset, read_labels

    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"id": "q1", "video": str(VIDEO), "question": QUESTION, "options": OPTIONS,
                                    "answer": OPTIONS[0], "spans": [[0.0, 2.0]]}) + "\n")
    store = tmp_path / "labels"
    LabelJob(store, settings=LabelSettings(plan=CandidatePlan(n=CANDIDATES))).run(read_manifest(manifest), progress=False)
    rows = read_labels(store)
    processor = load_processor(tiny_selector_dir)
    item = ScoreDataset(rows, FrameSource(None, 24))[0]
    assert processor.record_ids(item["question"]) == expected_ids(tiny_selector_dir)


def test_eval_and_the_needle_evaluation_ask_the_same_ids(tiny_selector_dir, asked, tmp_path):
    from eval.choosers import make_chooser
    from eval.needle.evaluate import evaluate_choosers
    from eval.records import Record
    from eval.run import evaluate_one
    from selector import CandidatePlan

    chooser = make_chooser(f"selector:{tiny_selector_dir}", device="cpu")
    record = Record("q1", str(VIDEO), QUESTION, OPTIONS, OPTIONS[0], bench="videomme", answer_letter="A")
    reply = SimpleNamespace(reply="A", handoff={}, handoff_s=0.0, downstream_s=0.0, visual_tokens=0)
    downstream = SimpleNamespace(answer=lambda chosen, info, prompt: reply)
    result = evaluate_one(record, chooser, downstream, K, CandidatePlan(n=CANDIDATES), "default", None)
    assert result["status"] == "ok", result
    chooser._cache = None  # the needle evaluation must ask again, not reuse the scores
    row = {"id": "q1", "video": str(VIDEO), "question": QUESTION, "options": OPTIONS, "kind": "order", "answer": OPTIONS[0],
           "needles": [0], "frames": [[0, 30]], "spans": [[0.0, 2.0]]}
    evaluate_choosers([row], {"selector": chooser}, [K], CandidatePlan(n=CANDIDATES), tmp_path / "results.jsonl", progress=False)
    want = expected_ids(tiny_selector_dir)
    assert asked == [want, want]


def test_both_lmms_eval_routes_ask_the_same_ids(tiny_selector_dir, asked, tmp_path):
    from eval.choosers import make_chooser
    from eval.lmms import items_from_docs, precompute_manifest

    doc = {"question_id": "q1", "video": str(VIDEO), "question": QUESTION, "options": LETTERED, "answer": "A"}
    chooser = make_chooser(f"selector:{tiny_selector_dir}", device="cpu")
    items = items_from_docs([doc], key="{question_id}", video="video")
    assert items == [VideoQuestion("q1", str(VIDEO), QUESTION, OPTIONS)]
    run = precompute_manifest(items, chooser, tmp_path / "sel", k=K, candidates=CANDIDATES)
    assert run.written == 1

    pytest.importorskip("lmms_eval.models.registry_v2", reason="lmms-eval is not installed")
    from eval.lmms.models import FrameSelectorQwen2_5_VL

    # The plug-in's request parsing, as `generate_until` runs it, without loading a Qwen model.
    plugin = object.__new__(FrameSelectorQwen2_5_VL)
    plugin.task_dict = {"videomme": {"test": [doc]}}
    plugin.question_field, plugin.options_field, plugin.doc_key = "question", "auto", None
    messages = lambda d: [{"role": "user", "content": [{"type": "video", "url": d["video"]}, {"type": "text", "text": "Answer."}]}]
    job = plugin._job(0, SimpleNamespace(args=("ctx", messages, {}, 0, "videomme", "test")))
    assert (job.question, job.options, job.key) == (QUESTION, OPTIONS, "q1")
    chooser._cache = None
    chooser.choose_many(probe(VIDEO), CANDIDATES, [job.question], K, [job.key], options=[job.options])
    want = expected_ids(tiny_selector_dir)
    assert asked == [want, want]
