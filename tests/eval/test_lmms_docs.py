"""The question and answer options of an lmms-eval doc, in each video task's own shape: what a
selector is asked on the lmms-eval routes."""

import pytest

from eval.lmms.docs import doc_options, doc_question


@pytest.mark.parametrize(
    ("doc", "options"),
    [
        ({"options": ["A. a cat", "B. a dog", "C. a bird", "D. a fish"]}, ["a cat", "a dog", "a bird", "a fish"]),  # Video-MME
        ({"candidates": ["left", "right"]}, ["left", "right"]),  # LongVideoBench, MLVU
        ({"option0": "x", "option1": "y", "option2": "z", "option3": "N/A", "option4": "N/A"}, ["x", "y", "z"]),  # LongVideoBench
        ({"a0": "run", "a1": "walk", "a2": "sit", "a3": "jump", "a4": "fall"}, ["run", "walk", "sit", "jump", "fall"]),  # NExT-QA
        ({"option": ["A. one", "B. two", "C. three", "D. four", "E. five"]}, ["one", "two", "three", "four", "five"]),  # EgoSchema
        ({"candidates": ["", "There is an archery scene", "There is no archery scene", ""]},  # MLVU: empty options keep their letters
         ["", "There is an archery scene", "There is no archery scene", ""]),
        ({"question": "What?"}, None),  # open-ended (ActivityNet-QA)
    ],
)
def test_options_of_each_task_shape(doc, options):
    assert doc_options(doc) == options


def test_question_with_options_written_into_it_and_overrides():
    doc = {"question": "Which animal appears?\n(A) cat\n(B) dog\n(C) bird"}
    assert doc_question(doc) == ("Which animal appears?", ["cat", "dog", "bird"])
    assert doc_question(doc, options=None) == (doc["question"], None)
    mc = {"question": "Q?", "options": ["A. x", "B. y"], "choices_text": ["p", "q"]}
    assert doc_question(mc) == ("Q?", ["x", "y"])
    assert doc_question(mc, options="choices_text") == ("Q?", ["p", "q"])
    assert doc_question(mc, options=lambda d: ["u", "v"]) == ("Q?", ["u", "v"])
    with pytest.raises(KeyError, match="no options field 'nope'"):
        doc_question(mc, options="nope")
    with pytest.raises(ValueError, match="no question text"):
        doc_question({"question": "  "})
