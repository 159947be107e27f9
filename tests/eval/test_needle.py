"""The needle world, its reader, the multi-k evaluation, the demo and the grid, end to end."""

import hashlib
import json
from dataclasses import asdict

import numpy as np
import pytest

from eval.choosers import make_chooser
from eval.needle.evaluate import CONTROL, OWN_WITH_CONTROL, evaluate_choosers, summarize, with_other_questions
from eval.needle.grid import GridSettings, build_grid_world
from eval.needle.demo import DemoSettings
from eval.needle.reference import REFERENCE, compare_to_reference, compared_settings, save_reference
from eval.needle.seeds import aggregate_seeds, format_seed_table
from eval.needle.reader import evidence_recall, oracle_accuracy, score_choice
from eval.needle.planning import COLOURS, KINDS, WorldSettings, plan_video, plan_world
from eval.needle.rendering import render, render_frames, rgb_to_yuv420p
from eval.needle.world import build_world, read_questions
from selector import CandidatePlan, probe, read_frames
from selector.cli import main

SMALL = WorldSettings(videos=4, min_seconds=14, max_seconds=18, fillers=(1, 2), seed=3)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("needle")
    manifest = build_world(root, SMALL, "test", progress=False)
    return read_questions(manifest)


def test_every_kind_is_asked_and_answers_are_unique():
    plans = plan_world(WorldSettings(videos=40, seed=1), "train")
    kinds = [q.kind for p in plans for q in p.questions]
    assert set(kinds) == set(KINDS)
    for plan in plans:
        events = [(n.shape, n.colour) for n in plan.needles]
        spans = sorted((n.first, n.last) for n in plan.needles)
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:])), "needles overlap"
        assert spans[-1][1] < plan.frames
        for q in plan.questions:
            assert q.answer in q.options and len(set(q.options)) == len(q.options)
            shown = [plan.needles[i] for i in q.needles]
            if q.kind == "attribute":
                assert [s for s, _ in events].count(shown[0].shape) == 1 and q.answer == shown[0].colour
            elif q.kind == "counting":
                assert int(q.answer) == len(q.needles) == events.count((shown[0].shape, shown[0].colour))
            elif q.kind == "order":
                assert q.needles[1] == q.needles[0] + 1 and q.answer == shown[1].describe()
            else:
                card, target = shown
                assert card.shape == "card" and target.colour == card.colour and q.answer == target.shape
                assert sum(1 for s, c in events if c == card.colour and s != "card") == 1


def test_extra_training_questions_ask_about_the_other_events():
    plain = plan_world(WorldSettings(videos=12, seed=2, questions_per_video=4, fillers=(3, 6)), "train")
    extra = plan_world(WorldSettings(videos=12, seed=2, questions_per_video=4, fillers=(3, 6), extra_questions=5), "train")
    assert [p.needles for p in plain] == [p.needles for p in extra]  # the world stays as it was
    shape_only = 0
    for before, after in zip(plain, extra):
        assert after.questions[: len(before.questions)] == before.questions
        added = after.questions[len(before.questions):]
        assert 1 <= len(added) <= 5 and len({q.question for q in after.questions}) == len(after.questions)
        assert len({q.id for q in after.questions}) == len(after.questions)
        events = [(n.shape, n.colour) for n in after.needles]
        for q in added:
            shown = [after.needles[i] for i in q.needles]
            assert q.answer in q.options and q.spans == [n.span(after.fps) for n in shown]
            if q.kind == "counting" and q.question.startswith(f"How many times does a {shown[0].colour} "):
                assert int(q.answer) == len(q.needles) == events.count((shown[0].shape, shown[0].colour))
            elif q.kind == "counting":  # a shape of any colour: every appearance of the shape
                assert int(q.answer) == len(q.needles) == [s for s, _ in events].count(shown[0].shape)
                shape_only += 1
            elif q.kind == "attribute":  # a shape shown once, whatever its colour
                assert [s for s, _ in events].count(shown[0].shape) == 1 and q.answer == shown[0].colour
                shape_only += 1
            else:
                assert q.kind == "order" and q.needles[1] == q.needles[0] + 1 and q.answer == shown[1].describe()
    assert {q.kind for p in extra for q in p.questions[4:]} == {"counting", "order", "attribute"}
    assert shape_only >= len(extra)  # questions that name a shape alone: the words colour cannot stand in for


def test_planning_and_rendering_are_deterministic():
    a, b = plan_world(SMALL, "train"), plan_world(SMALL, "train")
    assert [p.needles for p in a] == [p.needles for p in b]
    np.testing.assert_array_equal(render_frames(a[0], SMALL), render_frames(b[0], SMALL))
    assert {p.name for p in plan_world(SMALL, "test")}.isdisjoint({p.name for p in a})


def test_a_world_is_the_same_bytes_rendered_in_parallel_serially_and_again(tmp_path):
    """The files, not only the frames: a demo's tower and tables follow the decoded pixels, so a
    world that differs with the worker count or the machine's load gives another run."""
    settings = WorldSettings(videos=4, min_seconds=14, max_seconds=16, fillers=(1, 2), seed=5)
    plans = plan_world(settings, "train")
    digests = []
    for run, workers in enumerate((2, 2, 1)):
        render(plans, settings, tmp_path / str(run), workers=workers, progress=False)
        digests.append({f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted((tmp_path / str(run)).glob("*.mp4"))})
    assert len(digests[0]) == 4 and digests[0] == digests[1] == digests[2]


def test_the_encoder_input_is_converted_exactly():
    """BT.601 limited range: black, white and the pure colours land on their textbook codes."""
    image = np.zeros((2, 4, 3), np.uint8)
    image[:, 1] = 255
    image[:, 2:] = (255, 0, 0)
    yuv = rgb_to_yuv420p(image)
    assert yuv.shape == (3, 4)
    np.testing.assert_array_equal(yuv[:2], [[16, 235, 82, 82]] * 2)
    assert list(yuv[2]) == [128, 90, 128, 240]  # U then V, each of the grey (black and white) block, then of the red one


def test_needles_are_where_the_spans_say_in_the_decoded_video(world):
    """Decode the written file: a needle's colour dominates its frames and is absent just before."""
    row = next(r for r in world if r["kind"] == "attribute")
    info = probe(row["video"])
    assert info.fps == pytest.approx(SMALL.fps)
    first, last = row["frames"][0]
    start, end = row["spans"][0]
    assert info.timestamps[first] == pytest.approx(start) and info.timestamps[last] + 1 / SMALL.fps == pytest.approx(end)
    event = row["needle_events"][row["needles"][0]]
    colour = np.asarray(COLOURS[event["colour"]], float)
    frames = read_frames(row["video"], [first, (first + last) // 2, last, max(0, first - 3)], size=(96, 96)).astype(float)
    near = (np.abs(frames - colour).sum(-1) < 90).mean(axis=(1, 2))
    assert (near[:3] > 0.02).all() and near[3] < 0.2 * near[:3].min(), near


def test_reader_rules():
    row = {"kind": "order", "frames": [(10, 14), (30, 35)], "options": ["a", "b", "c", "d"], "answer": "a"}
    assert evidence_recall(row, [12, 31]) and oracle_accuracy(row, [12, 31]) == 1.0
    assert not evidence_recall(row, [12, 20]) and oracle_accuracy(row, [12, 20]) == 0.25
    count = {"kind": "counting", "frames": [(0, 3), (10, 13), (20, 23)], "options": ["1", "2", "3", "4"], "answer": "3"}
    assert oracle_accuracy(count, [1, 11]) == 0.0  # it counts two: wrong, not a guess
    assert oracle_accuracy(count, [5, 6]) == 0.25
    assert score_choice(count, [1, 11, 21]) == {"recall": 1.0, "needles_seen": 1.0, "accuracy": 1.0}
    assert score_choice(count, [1, 11])["needles_seen"] == pytest.approx(2 / 3)


def test_evaluation_covers_every_chooser_and_k_and_resumes(world, tmp_path):
    choosers = {"uniform": make_chooser("uniform")}
    out = tmp_path / "results.jsonl"
    first = evaluate_choosers(world[:3], choosers, [2, 4], CandidatePlan(n=32), out, progress=False)
    assert len(first) == 6
    out.write_text(out.read_text() + '{"chooser": "uniform", "k"')  # a line cut short by a crash
    again = evaluate_choosers(world, choosers, [2, 4], CandidatePlan(n=32), out, progress=False)
    keys = [(r["chooser"], r["k"], r["id"]) for r in again]
    assert len(keys) == len(set(keys)) == 2 * len(world)
    summary = summarize(again)
    assert set(summary["uniform"]) == {2, 4} and summary["uniform"][4]["questions"] == len(world)


def test_plan_video_rejects_positions_that_do_not_match_the_needles():
    with pytest.raises(ValueError, match="positions"):
        plan_video("x", SMALL, 0, ["attribute"], at=[0.1, 0.5], fillers=False)


@pytest.mark.slow
def test_demo_end_to_end_at_tiny_size(tmp_path, capsys):
    """The real commands at a tiny size: world, labels, cache, two training stages, similarity
    baseline, every chooser at two k, report; then a second run resumes without redoing work."""
    sizes = ["--train-videos", "6", "--test-videos", "4", "--harder-videos", "2", "--candidates", "32", "--ks", "2,4",
             "--stage1-epochs", "1", "--stage2-epochs", "1", "--similarity-steps", "2", "--no-progress"]
    assert main(["demo", "--out", str(tmp_path), "--seeds", "0", *sizes]) == 0
    out = tmp_path / "seed-0"
    summary = json.loads((out / "summary.json").read_text())
    choosers = summary["choosers"]
    assert {"uniform", "selector NMS", "selector top-k", "similarity top-k", "label ceiling"} <= set(choosers)
    # The span labels point at the needles; uniform sampling does not (the world and the labels
    # are seeded, so this comparison is deterministic).
    assert choosers["label ceiling"]["4"]["recall"] > choosers["uniform"]["4"]["recall"]
    for by_k in choosers.values():
        assert set(by_k) == {"2", "4"} and all(0 <= e["recall"] <= 1 for e in by_k.values())
    report = (out / "report.md").read_text()
    assert "recall_vs_k.png" in report and (out / "report" / "recall_vs_k.png").stat().st_size > 0
    assert list((out / "report").glob("example_*.png"))
    assert (out / "stage2" / "final" / "model.safetensors").exists()
    assert "selector NMS, other video's question" in choosers and "Does the selector read the question?" in report
    # The harder world: the same selector, its control and the ceiling on more crowded videos.
    assert {"selector NMS", CONTROL, "uniform", "label ceiling"} <= set(summary["harder"]) and "## A harder world" in report
    harder_rows = read_questions(out / "world" / "harder" / "questions.jsonl")
    assert summary["harder"]["selector NMS"]["4"]["questions"] == len(harder_rows) == 8
    events = [np.mean([len(r["needle_events"]) for r in read_questions(out / "world" / split / "questions.jsonl")]) for split in ("test", "harder")]
    assert events[1] > events[0] + 3
    spread = json.loads((tmp_path / "seeds.json").read_text())
    assert spread["seeds"] == [0] and spread["choosers"]["uniform"]["4"]["recall"]["values"] == [choosers["uniform"]["4"]["recall"]]
    assert "selector NMS - uniform" in (tmp_path / "seeds.md").read_text()
    before, timed = (out / "results.jsonl").read_text(), summary["seconds"]
    assert main(["demo", "--out", str(out), *sizes]) == 0  # the same run, resumed as a single seed
    assert (out / "results.jsonl").read_text() == before  # nothing evaluated twice
    assert json.loads((out / "summary.json").read_text())["seconds"] == timed  # the first run's timings are kept
    capsys.readouterr()
    assert main(["demo", "--out", str(out), "--seed", "1", *sizes]) == 2  # would reuse seed 0's world and model
    assert "other settings (seed 0 -> 1)" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_with_a_random_tower(tmp_path):
    """The ablation: a frozen random tower built by the tiny builder instead of the world's SigLIP."""
    out = tmp_path / "random"
    assert main(["demo", "--out", str(out), "--tower", "random", "--train-videos", "4", "--test-videos", "2", "--harder-videos", "0", "--candidates", "16",
                 "--ks", "2", "--stage1-epochs", "1", "--stage2-epochs", "1", "--similarity-steps", "2", "--no-progress"]) == 0
    config = json.loads((out / "selector-init" / "config.json").read_text())
    assert config["vision_config"]["hidden_size"] == 48  # the demo's random tower, not the 32-wide world SigLIP
    assert json.loads((out / "summary.json").read_text())["settings"]["tower"] == "random"


def test_the_control_asks_another_videos_question_of_the_same_kind(world):
    swapped = with_other_questions(world)
    by_id = {row["id"]: row for row in world}
    assert swapped and len(swapped) <= len(world)
    for row in swapped:
        own = by_id[row["id"]]
        assert row["needle_events"] == own["needle_events"] and row["answer"] == own["answer"]  # its own evidence
        donor = [r for r in world if r["question"] == row["question"] and r["options"] == row["options"] and r["kind"] == row["kind"]]
        assert any(r["video"] != row["video"] for r in donor)
    lone = [{**world[0], "id": "lone", "kind": "riddle"}]
    assert with_other_questions(lone) == []


def test_seed_spread_is_taken_per_seed():
    def summary(uniform, selector, control):
        return {"choosers": {"uniform": {"8": {"recall": uniform, "accuracy": uniform}},
                             "selector NMS": {"8": {"recall": selector, "accuracy": selector}},
                             OWN_WITH_CONTROL: {"8": {"recall": selector - 0.1, "accuracy": selector - 0.1}},
                             CONTROL: {"8": {"recall": control, "accuracy": control}}}}

    spread = aggregate_seeds({0: summary(0.2, 0.9, 0.5), 1: summary(0.4, 0.8, 0.7)})
    assert spread["choosers"]["selector NMS"]["8"]["recall"]["mean"] == pytest.approx(0.85)
    assert spread["choosers"]["selector NMS"]["8"]["recall"]["sd"] == pytest.approx(np.std([0.9, 0.8], ddof=1))
    assert spread["margins"]["selector NMS - uniform"]["8"]["recall"]["values"] == pytest.approx([0.7, 0.4])
    # The gap to the control is taken on the questions the control was asked.
    assert spread["margins"][f"{OWN_WITH_CONTROL} - {CONTROL}"]["8"]["recall"]["values"] == pytest.approx([0.3, 0.0])
    rows = [" ".join(line.split()) for line in format_seed_table(spread).splitlines()]  # cells are padded to their column
    assert "| selector NMS - uniform | 0.550 ± 0.212 |" in rows and f"| {OWN_WITH_CONTROL} - {CONTROL} | 0.150 ± 0.212 |" in rows


@pytest.mark.parametrize("argv, message", [
    (["--ks", "2,64"], "--ks 2,64: every k must be between 1 and --candidates"),
    (["--seeds", "1,1"], "distinct"),
    (["--seed", "1", "--seeds", "2"], "give --seed or --seeds, not both"),
    (["--threads", "0"], "--threads must be >= 1"),
    (["--reference-out", "ref.json"], "--reference-out needs --seeds"),
])
def test_demo_rejects_bad_settings(tmp_path, capsys, argv, message):
    assert main(["demo", "--out", str(tmp_path / "d"), "--candidates", "32", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--ks", "0,4"], "argument --ks: needs integers >= 1"),
    (["--seeds", "1,x"], "argument --seeds: takes comma-separated integers"),
    (["--tower", "pretrained"], "argument --tower: invalid choice: 'pretrained' (choose from 'world', 'random')"),
])
def test_demo_option_values_are_checked_by_the_parser(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", str(tmp_path / "d"), *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and err.count("\n") == 1


def test_needle_grid_through_eval(tiny_selector_dir, tmp_path, capsys):
    out = tmp_path / "grid"
    code = main(["eval", "--bench", "needle", "--chooser", f"selector:{tiny_selector_dir}", "--out", str(out), "--k", "2",
                 "--candidates", "16", "--grid-lengths", "8,12", "--grid-positions", "0.2,0.8", "--grid-videos", "1", "--no-progress"])
    assert code == 0
    summary = json.loads((out / "grid.json").read_text())
    assert set(summary["recall"]) == {"uniform", f"selector:{tiny_selector_dir}", "candidate coverage"}
    assert all(len(row) == 2 for table in summary["recall"].values() for row in table)
    assert (out / "grid.png").stat().st_size > 0
    assert main(["eval", "--bench", "needle", "--out", str(out), "--grid-positions", "0.2,1.5"]) == 2
    assert "positions" in capsys.readouterr().err
    assert main(["eval", "--bench", "videomme", "--out", str(out)]) == 2
    # Resuming into a folder built for another world would mix stale results in: refused.
    assert main(["eval", "--bench", "needle", "--chooser", "uniform", "--out", str(out), "--k", "2", "--candidates", "16",
                 "--grid-lengths", "8,12", "--grid-positions", "0.2,0.8", "--grid-videos", "1", "--seed", "3", "--no-progress"]) == 2
    assert "other settings (seed 0 -> 3)" in capsys.readouterr().err


def test_needle_grid_jitters_needles_within_a_cell(tmp_path):
    """Pinned needles would make uniform's cells read 0 or 1 by alignment; each starts within the jitter."""
    frames = 20 * WorldSettings().fps

    def starts(grid):
        rows = read_questions(build_grid_world(tmp_path / str(grid.jitter), grid, progress=False))
        return [(e["first"], e["last"] - e["first"] + 1) for row in rows for e in row["needle_events"]]

    grid = GridSettings(lengths=(20.0,), positions=(0.5,), videos_per_cell=4, k=4, seed=1)
    jittered = starts(grid)
    assert len({first for first, _ in jittered}) >= 3  # (two may share a frame by chance)
    assert all(abs(first / (frames - n) - 0.5) <= 0.5 / grid.k + 1e-2 for first, n in jittered)
    pinned = starts(GridSettings(lengths=(20.0,), positions=(0.5,), videos_per_cell=3, k=4, seed=1, jitter=0.0))
    assert all(abs(first - 0.5 * (frames - n)) <= 1 for first, n in pinned)


def test_a_run_is_placed_against_the_reference_seeds(tmp_path):
    """`make demo` prints where its figures fall among the reference seeds', says when they are
    out of range, and refuses to compare runs of other settings."""
    def summary(seed, own, control, settings=None):
        entry = lambda value: {"recall": value, "accuracy": value}  # noqa: E731
        choosers = {"selector NMS": {str(k): entry(own) for k in (2, 4, 8)}, CONTROL: {"4": entry(control)},
                    OWN_WITH_CONTROL: {"4": entry(own - 0.05)}, "uniform": {"4": entry(0.1)}}
        return {"settings": settings or {"seed": seed, "ks": [2, 4, 8], "threads": 2}, "choosers": choosers}

    path = save_reference({0: summary(0, 0.90, 0.30), 1: summary(1, 0.86, 0.34), 2: summary(2, 0.88, 0.32)}, tmp_path / "ref.json")
    lines = compare_to_reference(summary(0, 0.90, 0.30), path)
    assert "own question, recall@4: 0.900  (reference 0.880 ± 0.020, 0.860-0.900; the reference's own run of this seed: the same)" in lines[2]
    assert lines[-1].endswith("a normal run") and "not" not in lines[-1]
    broken = compare_to_reference(summary(5, 0.40, 0.38), path)
    assert "not a normal run" in broken[-1] and "own question, recall@4" in broken[-1]
    other = compare_to_reference(summary(0, 0.9, 0.3, {"seed": 0, "ks": [4], "threads": 1}), path)
    assert other == ["no reference for these settings (they differ in threads): compare runs of the same settings"]
    with pytest.raises(ValueError, match="same settings"):
        save_reference({0: summary(0, 0.9, 0.3), 1: summary(1, 0.9, 0.3, {"seed": 1, "ks": [4], "threads": 1})}, tmp_path / "x.json")


def test_the_shipped_reference_matches_the_demo_defaults():
    """reference.json is measured with today's defaults: a changed default needs a new reference."""
    reference = json.loads(REFERENCE.read_text())
    defaults = compared_settings(asdict(DemoSettings()))
    assert reference["settings"] == defaults
    assert len(reference["seeds"]) >= 3
