"""`python -m eval.feature_world.study`, the table of docs/question-awareness.md Part 1: its
command line and its table, on one short variant (the full grid takes minutes)."""

from __future__ import annotations

import pytest

from eval.feature_world.study import VARIANTS, Variant, main, study


def test_the_table_has_a_row_per_variant_and_a_gap_per_seed_when_there_are_several():
    short = (Variant("the shipped recipe, briefly", steps=40),)
    table = study([0, 1], short).splitlines()
    assert [c.strip() for c in table[0].split("|")[1:-1]] == ["variant", "steps", "own hit@1", "swapped hit@1", "own - swapped", "gap per seed"]
    cells = [c.strip() for c in table[2].split("|")[1:-1]]
    assert cells[0] == "the shipped recipe, briefly" and cells[1] == "40" and "±" in cells[2] and len(cells[5].split(" / ")) == 2


def test_the_grid_compares_the_settings_part_1_discusses():
    settings = [(v.initializer_range, v.settings.get("score_layer", -1), v.settings.get("score_loss", "listwise"),
                 v.settings.get("score_readout", "frame_match")) for v in VARIANTS]
    assert (0.02, -2, "bce", "frame_match") in settings and (None, -1, "listwise", "frame_match") in settings
    assert (None, -1, "bce", "frame_match") in settings and (None, -1, "listwise", "query_mlp") in settings


def test_no_seeds_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--seeds", "0"])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "--seeds must be at least 1, got 0" in err
