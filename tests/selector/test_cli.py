import json
import subprocess
import sys

import pytest

from selector import FrameSelector
from selector.cli import main

BUNNY = "moviepy__big_buck_bunny_0_30.webm"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_init_tiny_then_select(tmp_path, videos, capsys):
    code, out, _ = run(capsys, "init", tmp_path / "sel", "--tiny")
    assert code == 0 and "wrote" in out
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (tmp_path / "sel" / name).is_file()

    code, out, err = run(
        capsys, "select", "--model", tmp_path / "sel", "--video", videos / BUNNY,
        "--question", "When does the bunny come out?", "--question", "What is the title?",
        "--k", 4, "--candidates", 32, "--out", tmp_path / "sel.json", "--plot", tmp_path / "sel.png",
    )
    assert code == 0, err
    result = json.loads(out)
    assert [r["question"] for r in result] == ["When does the bunny come out?", "What is the title?"]
    for r in result:
        assert r["k"] == 4 and r["candidates"] == 32 and r["video"].endswith(BUNNY)
        assert len(r["frames"]) == 4
        assert [f["seconds"] for f in r["frames"]] == sorted(f["seconds"] for f in r["frames"])
        assert set(r["frames"][0]) == {"candidate", "index", "seconds", "score"}
    full = json.loads((tmp_path / "sel.json").read_text())
    for printed, written in zip(result, full):
        assert "scores" not in printed and len(written["scores"]) == len(written["candidate_seconds"]) == 32
        assert {key: written[key] for key in printed} == printed
    assert (tmp_path / "sel.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_init_frame_match_read_out_then_select(tmp_path, videos, capsys):
    code, _, err = run(capsys, "init", tmp_path / "fm", "--tiny", "--score-readout", "frame_match")
    assert code == 0, err
    assert json.loads((tmp_path / "fm" / "config.json").read_text())["score_readout"] == "frame_match"
    code, out, err = run(capsys, "select", "--model", tmp_path / "fm", "--video", videos / BUNNY, "--question", "Q?", "--k", 3, "--candidates", 16)
    assert code == 0, err
    assert len(json.loads(out)[0]["frames"]) == 3


def test_init_refuses_a_non_empty_directory(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    code, _, err = run(capsys, "init", tmp_path, "--tiny")
    assert code == 2 and err.startswith("error:") and "--force" in err
    assert (tmp_path / "keep.txt").exists()


def test_init_from_local_pretrained_parts(pretrained_parts, tmp_path, capsys):
    siglip, llm = pretrained_parts
    code, _, err = run(capsys, "init", tmp_path / "sel", "--vision", siglip, "--llm", llm, "--dtype", "float32", "--max-candidates", 64)
    assert code == 0, err
    selector = FrameSelector.from_pretrained(tmp_path / "sel", device="cpu")
    assert selector.model.config.max_candidates == 64
    assert list(selector.processor.image_processor.image_mean) == [0.4, 0.5, 0.6]


def test_init_needs_parts_or_tiny(tmp_path, capsys):
    code, _, err = run(capsys, "init", tmp_path / "x")
    assert code == 2 and "--vision" in err


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "noise.mp4").write_bytes(bytes(range(256)) * 64)
    return tmp_path


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--video", "{bad}/missing.mp4"], "missing.mp4"),
        (["--video", "{bad}/empty.mp4"], "empty.mp4"),
        (["--video", "{bad}/noise.mp4"], "noise.mp4"),
        (["--k", "0"], "k=0"),
        (["--k", "500"], "k=500"),
        (["--candidates", "lots"], "candidate plan"),
        (["--candidates", "300"], "max_candidates"),
        (["--question", ""], "question"),
        (["--model", "{bad}/nomodel"], "nomodel"),
        (["--model", "{bad}"], "config.json"),
        (["--out", "{bad}/no/such/dir/out.json"], "out.json"),
    ],
)
def test_bad_input_exits_2_with_one_line(tiny_selector_dir, videos, bad_files, capsys, args, needle):
    base = {"--model": str(tiny_selector_dir), "--video": str(videos / BUNNY), "--question": "q?", "--k": "2", "--candidates": "16"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value.format(bad=bad_files)
    argv = ["select"] + [x for kv in base.items() for x in kv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err
    assert "Traceback" not in err and out == ""


def test_k_beyond_the_plan_is_refused_before_loading_the_model(tiny_selector_dir, videos, capsys, monkeypatch):
    def no_loading(*args, **kwargs):
        raise AssertionError("loaded the model before checking k")

    monkeypatch.setattr("selector.api.FrameSelector.from_pretrained", no_loading)
    code, out, err = run(capsys, "select", "--model", tiny_selector_dir, "--video", videos / BUNNY, "--question", "q?",
                         "--k", 40, "--candidates", 16)
    assert code == 2 and "k=40 must be between 1 and the number of candidates (16)" in err


def test_console_script_prints_only_its_json(tiny_selector_dir, videos):
    result = subprocess.run(
        [sys.executable, "-m", "selector.cli", "select", "--model", str(tiny_selector_dir), "--video", str(videos / BUNNY),
         "--question", "q?", "--k", "2", "--candidates", "8"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0 and result.stderr == ""
    assert json.loads(result.stdout)[0]["k"] == 2


def test_console_script_exit_code_and_no_traceback(tiny_selector_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "selector.cli", "select", "--model", str(tiny_selector_dir), "--video", str(tmp_path / "nope.mp4"), "--question", "q?"],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:") and "nope.mp4" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("argv, option, allowed", [
    (["select", "--model", "m", "--video", "v", "--question", "q", "--rule", "best"], "--rule", "'nms', 'topk', 'uniform'"),
    (["init", "out", "--tiny", "--score-loss", "hinge"], "--score-loss", "'bce', 'listwise', 'bce+listwise'"),
    (["label", "--out", "o", "--spatial", "gemini"], "--spatial", "'hf', 'openai', 'none'"),
    (["eval", "--bench", "needle", "--out", "o", "--layout", "zip"], "--layout", "'auto', 'official', 'lmms-eval'"),
    (["bench", "train-input", "--stage", "3"], "--stage", "1, 2"),
])
def test_an_unknown_literal_value_is_one_line_naming_the_option_and_the_choices(capsys, argv, option, allowed):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert f"argument {option}: invalid choice" in err and f"(choose from {allowed})" in err


def test_options_come_from_the_settings_dataclasses():
    from dataclasses import fields

    from selector.cli import SelectSettings, build_parser

    select = build_parser()._subparsers._group_actions[0].choices["select"]
    options = {option for action in select._actions for option in action.option_strings}
    assert {"--" + f.name.replace("_", "-") for f in fields(SelectSettings)} | {"-h", "--help"} == options
    assert not any("_" in option for option in options)  # one spelling each, hyphenated


def test_select_reads_the_options_of_one_question(tiny_selector_dir, videos, capsys):
    base = ["select", "--model", tiny_selector_dir, "--video", videos / BUNNY, "--k", 2, "--candidates", 8]
    code, out, err = run(capsys, *base, "--question", "Which animal?", "--option", "a bunny", "--option", "a bird")
    assert code == 0, err
    with_options = json.loads(out)[0]["frames"]
    code, out, _ = run(capsys, *base, "--question", "Which animal?")
    assert code == 0 and len(json.loads(out)[0]["frames"]) == len(with_options) == 2
    code, _, err = run(capsys, *base, "--question", "Which animal?", "--question", "When?", "--option", "a bunny")
    assert code == 2 and "--option belongs to one question" in err and err.count("\n") == 1
