"""The question-swap control used by training validation and the demo report."""

from selector.swap_control import with_other_questions

ROWS = [
    {"id": "a1", "video": "a", "kind": "count", "question": "How many?", "options": ["1", "2"], "label": [1, 0]},
    {"id": "a2", "video": "a", "kind": "colour", "question": "What colour?", "options": None, "label": [0, 1]},
    {"id": "b1", "video": "b", "kind": "count", "question": "How many cats?", "options": ["3", "4"], "label": [0, 0]},
    {"id": "c1", "video": "c", "kind": "colour", "question": "Which colour?", "options": ["red"], "label": [1, 1]},
]


def test_each_row_gets_the_next_question_about_another_video_and_keeps_its_evidence():
    swapped = with_other_questions(ROWS)
    assert [r["id"] for r in swapped] == ["a1", "a2", "b1", "c1"]
    assert [r["question"] for r in swapped] == ["How many cats?", "How many cats?", "Which colour?", "How many?"]
    assert [r["label"] for r in swapped] == [r["label"] for r in ROWS]
    assert swapped[0]["options"] == ["3", "4"] and ROWS[0]["question"] == "How many?"  # the input is left as it was


def test_within_a_group_and_without_a_partner():
    swapped = {r["id"]: r for r in with_other_questions(ROWS, group_key="kind")}
    assert swapped["a1"]["question"] == "How many cats?" and swapped["b1"]["question"] == "How many?"
    assert swapped["a2"]["question"] == "Which colour?" and swapped["c1"]["question"] == "What colour?"
    assert with_other_questions(ROWS[:2]) == []  # one video: nobody to swap with


def test_a_partner_asking_the_same_words_is_no_swap():
    """The same question about another video asks for the same thing: the next differently
    worded one is taken, and a group worded the same everywhere has no control at all."""
    rows = [
        {"id": "a", "video": "a", "kind": "attribute", "question": "What colour is the star?"},
        {"id": "b", "video": "b", "kind": "attribute", "question": "what colour is  the Star?"},
        {"id": "c", "video": "c", "kind": "attribute", "question": "What colour is the circle?"},
        {"id": "d", "video": "d", "kind": "riddle", "question": "Which shape has the card's colour?"},
        {"id": "e", "video": "e", "kind": "riddle", "question": "Which shape has the card's colour?"},
    ]
    swapped = {r["id"]: r["question"] for r in with_other_questions(rows, group_key="kind")}
    assert swapped == {"a": "What colour is the circle?", "b": "What colour is the circle?", "c": "What colour is the star?"}
