"""`frame-selector label` end to end on the annotation-span signal, which needs no model; the
model and server backends have their own tests."""

import json

import pyarrow.parquet as pq
import pytest

from selector.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def manifest(tmp_path, videos):
    rows = [
        {"id": "a", "video": str(videos / "torchcodec__var_fps_video.mp4"), "question": "when?", "spans": [[1.0, 3.0]]},
        {"id": "b", "video": str(videos / "torchcodec__h265_video.mp4"), "question": "what?", "spans": [[0.0, 0.5]]},
        {"id": "c", "video": str(tmp_path / "gone.mp4"), "question": "q", "spans": [[0, 1]]},
    ]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def test_label_merge_stats(manifest, tmp_path, capsys):
    out = tmp_path / "store"
    base = ["label", "--out", out, "--spatial", "none", "--temporal", "none", "--candidates", "16", "--no-progress"]
    for shard in ("0/2", "1/2"):
        code, text, err = run(capsys, *base, "--manifest", manifest, "--shard", shard)
        assert code == 0, err
        assert f"shard {shard}" in text
    code, text, _ = run(capsys, "label", "merge", "--out", out)
    assert code == 0 and "labels.parquet" in text
    labels = pq.read_table(out / "labels.parquet").to_pylist()
    assert sorted(r["id"] for r in labels) == ["a", "b"]
    assert all(r["signals"] == ["spans"] and r["label"] == r["spans_label"] for r in labels)
    assert pq.read_table(out / "failures.parquet")["id"].to_pylist() == ["c"]
    code, text, _ = run(capsys, "label", "stats", "--out", out, "--plot", tmp_path / "s.png")
    stats = json.loads(text)
    assert code == 0 and stats["labelled"] == 2 and stats["failed"] == 1
    assert (tmp_path / "s.png").exists()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--manifest", "{tmp}/none.jsonl"], "none.jsonl"),
        (["--manifest", "{manifest}", "--shard", "2/2"], "--shard"),
        (["--manifest", "{manifest}", "--shard", "x"], "--shard"),
        (["--manifest", "{manifest}", "--weights", "colour=1"], "colour"),
        (["--manifest", "{manifest}", "--candidates", "many"], "candidate plan"),
        (["--manifest", "{manifest}", "--captioner", "none"], "captions"),
        ([], "--manifest"),
    ],
)
def test_bad_input_exits_2(manifest, tmp_path, capsys, args, needle):
    argv = ["label", "--out", tmp_path / "store", "--spatial", "none", "--no-progress"]
    argv += [a.format(tmp=tmp_path, manifest=manifest) for a in args]
    if "--captioner" not in args:
        argv += ["--temporal", "none"]
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.startswith("error: ") and needle in err and err.count("\n") == 1


def test_merge_of_an_empty_store_is_a_clear_error(tmp_path, capsys):
    code, _, err = run(capsys, "label", "merge", "--out", tmp_path)
    assert code == 2 and "no label parts" in err


@pytest.mark.slow
def test_accelerate_launch_gives_one_shard_per_process(manifest, tmp_path):
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    accelerate = Path(sys.executable).parent / "accelerate"
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf")}  # no user accelerate config
    result = subprocess.run(
        [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
         "-m", "selector.cli", "label", "--manifest", str(manifest), "--out", str(tmp_path / "store"),
         "--spatial", "none", "--temporal", "none", "--candidates", "8", "--no-progress"],
        capture_output=True, text=True, env=env, timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "shard 0/2" in result.stdout and "shard 1/2" in result.stdout
    shards = sorted(p.name for p in (tmp_path / "store" / "labels").iterdir())
    assert shards == ["shard-00000-of-00002", "shard-00001-of-00002"]


@pytest.mark.parametrize("argv, stray", [
    (["label", "merge", "--out", "o", "--manifest", "m.jsonl"], "--manifest"),
    (["label", "merge", "--out", "o", "--plot", "p.png"], "--plot"),
    (["label", "stats", "--out", "o", "--dest", "d"], "--dest"),
    (["label", "stats", "--out", "o", "--spatial", "none"], "--spatial"),
])
def test_merge_and_stats_take_only_their_own_options(capsys, argv, stray):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "unrecognized arguments" in err and stray in err and err.count("\n") == 1


@pytest.mark.parametrize("action, own", [("merge", {"--out", "--dest"}), ("stats", {"--out", "--plot"})])
def test_merge_and_stats_are_subcommands(capsys, action, own):
    from selector.cli import build_parser

    label = build_parser()._subparsers._group_actions[0].choices["label"]
    parser = label._subparsers._group_actions[0].choices[action]
    assert {option for a in parser._actions for option in a.option_strings} == own | {"-h", "--help"}
    with pytest.raises(SystemExit):
        main(["label", action, "--help"])
    assert capsys.readouterr().out.startswith(f"usage: frame-selector label {action} [-h] --out OUT")


def test_merge_needs_its_store(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["label", "merge"])
    assert exit_info.value.code == 2 and "--out" in capsys.readouterr().err
