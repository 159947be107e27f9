import numpy as np
import pytest

from selector import choose, greedy_nms, topk, uniform


def brute_force_nms(scores, k, delta):
    """The paper's loop, written the obvious way."""
    s = np.array(scores, dtype=float)
    kept = []
    for _ in range(k):
        if np.all(np.isneginf(s)):
            break
        i = int(np.argmax(s))  # argmax returns the first maximum: ties go to the lower index
        kept.append(i)
        s[max(0, i - delta) : i + delta + 1] = -np.inf
    return sorted(kept)


def test_default_delta_matches_the_paper():
    scores = np.zeros(128)
    scores[[10, 11, 12, 50, 51, 90]] = [0.9, 0.95, 0.9, 0.8, 0.85, 0.7]
    # n=128, k=4 -> delta 8: 10/12 are suppressed by 11, 50 by 51; the fourth pick is the best
    # of the zeros outside the suppressed windows, the lowest index.
    assert greedy_nms(scores, 4) == [0, 11, 51, 90]


@pytest.mark.parametrize("seed", range(30))
def test_matches_the_paper_loop_when_it_returns_k(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 200))
    k = int(rng.integers(1, max(2, n // 6)))
    scores = rng.random(n).round(2)  # rounding makes ties common
    expected = brute_force_nms(scores, k, n // (4 * k))
    got = greedy_nms(scores, k)
    if len(expected) == k:
        assert got == expected
    assert len(got) == k and len(set(got)) == k and got == sorted(got)


def test_ties_go_to_the_lower_index():
    assert greedy_nms([1.0, 1.0, 1.0, 1.0], 1, delta=0) == [0]
    assert topk([0.5, 0.9, 0.9, 0.9], 2) == [1, 2]


def test_always_k_frames_when_suppression_covers_everything():
    scores = np.linspace(0, 1, 10)
    got = greedy_nms(scores, 5, delta=9)  # the first pick suppresses all ten
    assert got == [5, 6, 7, 8, 9]


def test_result_is_in_time_order():
    assert greedy_nms([0.1, 0.9, 0.2, 0.8, 0.3, 0.7], 3, delta=0) == [1, 3, 5]


@pytest.mark.parametrize("rule", [greedy_nms, topk, uniform])
@pytest.mark.parametrize("k", [0, -1, 6])
def test_k_out_of_range_is_an_error(rule, k):
    with pytest.raises(ValueError, match="k="):
        rule([0.1] * 5, k)


def test_nan_scores_are_an_error():
    with pytest.raises(ValueError, match="NaN"):
        greedy_nms([0.1, float("nan")], 1)


def test_uniform_rule_spreads_evenly():
    assert uniform(np.zeros(128), 4) == [16, 48, 80, 112]
    assert uniform(np.zeros(5), 5) == [0, 1, 2, 3, 4]


def test_choose_by_name():
    scores = [0.1, 0.9, 0.8, 0.2]
    assert choose("topk", scores, 2) == [1, 2]
    assert choose("nms", scores, 2, delta=1) == [1, 3]
    with pytest.raises(ValueError, match="unknown selection rule"):
        choose("best", scores, 2)
