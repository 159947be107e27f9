"""`--temporal hf`: the text LLM in-process, read through `from_pretrained` from disk: its plumbing
on an untrained tiny causal LM; and, in the slow tier, on one trained at test time to misbehave
(broken JSON, out-of-range and duplicate frames), alone and end to end through `frame-selector
label` beside the in-process VLM."""

from __future__ import annotations

import json

import pytest

from pseudolabel.base import TemporalSelector
from pseudolabel.hf_temporal import HFTemporalSelector
from pseudolabel.remote.reply_parsing import parse_temporal_reply
from pseudolabel.store import read_rows
from pseudolabel.temporal_prompt import TEMPORAL_PROMPT_VERSION
from selector.cli import main
from selector.tiny.vlm import save_tiny_qwen2_vl
from tests.support.text_llm import save_random_llm, save_replying_llm

BROKEN = '```json\n{"frames": [1, 1, 99, 2'
CAPTIONS = ["grey noise", "a red square", "a red square", "grey noise", "a card showing blue"]
SECONDS = [0.0, 0.5, 1.0, 1.5, 2.0]


@pytest.fixture(scope="module")
def broken_llm(tmp_path_factory):
    """Trained at test time (the slow tests only)."""
    return save_replying_llm(tmp_path_factory.mktemp("broken-llm"), BROKEN)


@pytest.fixture(scope="module")
def random_llm(tmp_path_factory):
    return save_random_llm(tmp_path_factory.mktemp("random-llm"))


@pytest.fixture(scope="module")
def selector(random_llm) -> HFTemporalSelector:
    return HFTemporalSelector.from_pretrained(random_llm, device="cpu", batch_size=2, max_new_tokens=24)


@pytest.mark.slow
def test_a_broken_reply_gets_the_repair_and_notes_of_the_openai_route(broken_llm):
    selector = HFTemporalSelector.from_pretrained(broken_llm, device="cpu", batch_size=2, max_new_tokens=24)
    result = selector.select(CAPTIONS, SECONDS, "How many times does a red square appear?")
    assert result.raw == BROKEN
    expected = parse_temporal_reply(BROKEN, len(CAPTIONS), max_frames=8)
    assert result.indices == expected.indices == [1, 2]
    assert result.notes == expected.notes
    assert any("out-of-range indices [99]" in note for note in result.notes)
    assert any("duplicate indices [1]" in note for note in result.notes)


def test_batched_questions_answer_as_one_by_one(selector):
    questions = ["What colour is the card?", "How many times does a red square appear?\nOptions: (A) 1 (B) 2 (C) 3",
                 "What appears right after the red square?"]
    assert selector.batches_questions
    batched = selector.select_many(CAPTIONS, SECONDS, questions)  # two batches, padded rows of different lengths
    alone = [selector.select(CAPTIONS, SECONDS, q) for q in questions]
    assert [(r.raw, r.indices, r.notes) for r in batched] == [(r.raw, r.indices, r.notes) for r in alone]


def test_a_reply_cut_by_the_token_budget_says_so(random_llm):
    short = HFTemporalSelector.from_pretrained(random_llm, device="cpu", max_new_tokens=3)
    result = short.select(CAPTIONS, SECONDS, "What is shown?")
    assert result.notes[0] == "reply truncated (finish_reason=length)"


def test_a_prompt_longer_than_the_context_fails_naming_both_lengths(random_llm):
    tight = HFTemporalSelector.from_pretrained(random_llm, device="cpu", max_new_tokens=24)
    tight.context = 100
    with pytest.raises(ValueError, match=r"temporal prompt of \d+ tokens plus 24 to generate exceeds the context"):
        tight.select(CAPTIONS, SECONDS, "What is shown?")


def test_no_captions_and_provenance(selector, random_llm):
    assert selector.select([], [], "q").notes == ["no captions: nothing to select"]
    record = selector.provenance()
    assert record["model"] == str(random_llm) and record["backend"] == "transformers"
    assert record["prompt_version"] == TEMPORAL_PROMPT_VERSION and record["max_frames"] == 8


def test_the_default_select_many_asks_one_by_one():
    class Echo(TemporalSelector):
        def provenance(self) -> dict:
            return {}

        def select(self, captions, seconds, question):
            return parse_temporal_reply(f"[{len(question)}]", 100)

    echo = Echo()
    assert not echo.batches_questions
    assert [r.indices for r in echo.select_many(["c"], [0.0], ["ab", "abcd"])] == [[2], [4]]


def label(capsys, *argv):
    code = main(["label", *map(str, argv), "--candidates", "6", "--frame-pixels", str(64 * 64), "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_label_with_every_model_in_process(backends_manifest, broken_llm, tmp_path, capsys):
    vlm = save_tiny_qwen2_vl(tmp_path / "qwen2vl")
    out = tmp_path / "store"
    code, _, err = label(capsys, "--manifest", backends_manifest, "--out", out, "--spatial", "hf", "--spatial-model", vlm,
                         "--spatial-mode", "direct", "--captioner", "hf", "--captioner-model", vlm, "--temporal", "hf",
                         "--temporal-model", broken_llm, "--device", "cpu", "--batch-size", "4")
    assert code == 0, err
    rows = {r["id"]: r for r in read_rows(out).to_pylist()}
    assert [rows[i]["status"] for i in "abcd"] == ["ok", "ok", "ok", "failed"]
    for i in "abc":
        # The random VLM's captions are nothing like the prompts the LLM learnt its reply on, so
        # the exact list varies; that it was repaired, and into valid indices, does not.
        indices = rows[i]["temporal_indices"]
        assert indices == sorted(set(indices)) and all(0 <= j < 6 for j in indices)
        assert rows[i]["temporal"] == [float(j in indices) for j in range(6)]
        assert "repaired JSON: read the integers of a malformed list" in rows[i]["temporal_notes"]
        assert rows[i]["signals"] == (["spatial", "temporal", "spans"] if i == "c" else ["spatial", "temporal"])
    provenance = json.loads(rows["a"]["provenance"])
    assert provenance["spatial"]["model"] == provenance["captioner"]["model"] == str(vlm)
    assert provenance["temporal"]["model"] == str(broken_llm) and provenance["temporal"]["class"] == "HFTemporalSelector"


@pytest.mark.parametrize("option, value, needle", [
    ("--temporal-model", "{tmp}/no-such-model", "--temporal-model {tmp}/no-such-model does not exist"),
    ("--temporal-model", "{tmp}", "has no config.json"),
    ("--spatial-model", "./not-here", "--spatial-model ./not-here does not exist"),
])
def test_a_missing_or_wrong_model_path_is_one_line_before_any_decoding(backends_manifest, random_llm, tmp_path, capsys, option, value, needle):
    models = {"--spatial-model": str(random_llm), "--captioner-model": str(random_llm), "--temporal-model": str(random_llm)}
    models[option] = value.format(tmp=tmp_path)
    out = tmp_path / "store"
    code, _, err = label(capsys, "--manifest", backends_manifest, "--out", out, "--spatial", "hf", "--captioner", "hf", "--temporal", "hf",
                         *[part for pair in models.items() for part in pair])
    assert code == 2
    assert err.strip().count("\n") == 0 and err.startswith("error: ") and needle.format(tmp=tmp_path) in err
    assert not out.exists() or not any(out.rglob("*.parquet"))


def test_temporal_hf_needs_a_model(backends_manifest, tmp_path, capsys):
    code, _, err = label(capsys, "--manifest", backends_manifest, "--out", tmp_path / "s", "--spatial", "none", "--captioner", "hf",
                         "--temporal", "hf")
    assert code == 2 and "--temporal hf needs --temporal-model" in err
