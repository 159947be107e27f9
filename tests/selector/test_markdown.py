import pytest

from selector.markdown import markdown_table


def test_columns_are_padded_and_right_aligned_ones_get_a_colon_rule():
    table = markdown_table(["chooser", "k=4"], [["uniform", "0.250"], ["selector NMS", 1]], align="lr")
    assert table.splitlines() == [
        "| chooser      |   k=4 |",
        "|--------------|------:|",
        "| uniform      | 0.250 |",
        "| selector NMS |     1 |",
    ]


def test_left_is_the_default_and_a_table_may_have_no_rows():
    assert markdown_table(["a", "bb"], []) == "| a | bb |\n|---|----|"


@pytest.mark.parametrize("columns, rows, align, message", [
    (["a", "b"], [["1"]], None, "rows: 1 cells"),
    (["a", "b"], [], "l", "align: one of"),
    (["a"], [], "c", "align: one of"),
])
def test_bad_shapes_are_named(columns, rows, align, message):
    with pytest.raises(ValueError, match=message):
        markdown_table(columns, rows, align=align)
