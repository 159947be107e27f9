"""`frame-selector bench`: every benchmark runs end to end at tiny sizes and prints its tables
with ratios and the command line; bad options exit 2 with one `error:` line. Smoke tests only:
nothing here asserts a timing."""

import importlib
import json
import pkgutil

import pytest

from eval.bench import benchmarks
from selector.cli import main

VIDEO = "tests/data/videos/moviepy__big_buck_bunny_432_433.webm"  # 24 frames


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    # Generated clips go to a temporary cache, never the user's.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def run(capsys, *argv):
    code = main(["bench", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith(f"command: frame-selector bench {argv[0]}")
    return out


def table_rows(out: str, title: str) -> list[list[str]]:
    """The body rows of the markdown table under `### title...`."""
    lines = out[out.index("### " + title):].splitlines()[2:]
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def test_every_benchmark_is_listed_in_the_order_bench_all_runs_them():
    assert list(benchmarks()) == ["questions", "decode", "real-size", "serve", "gpu", "label", "train-input"]


def test_every_module_exports_only_what_it_defines():
    import eval.bench

    for info in pkgutil.iter_modules(eval.bench.__path__, "eval.bench."):
        module = importlib.import_module(info.name)
        assert [n for n in module.__all__ if not hasattr(module, n)] == [], info.name


def test_questions(capsys, tmp_path):
    out = run(capsys, "questions", "--preset", "tiny", "--questions", "1,3", "--candidates", "4", "--repeats", "1",
              "--video", VIDEO, "--device", "cpu", "--torch-threads", "1", "--json", str(tmp_path / "q.json"),
              "--compile-backend", "eager")
    rows = table_rows(out, "4 candidates, q questions")
    assert [(r[0], r[1]) for r in rows] == [(q, m) for q in ("1", "3") for m in (
        "recomputed", "frames once", "reused, cache expanded per question (before)", "reused, questions packed")]
    assert all(r[-1].endswith("x") for r in rows) and all(r[5].endswith("%") for r in rows[4:])
    stages = [r[0] for r in table_rows(out, "Reused path, stage by stage")]
    assert stages[0].startswith("decode 4 frames") and "first question, total" in stages
    compiled = table_rows(out, "Question step on the cached prefix, eager against compiled (cpu)")
    assert [(r[0], r[1]) for r in compiled] == [(q, s) for q in ("1", "3") for s in ("eager", "compiled (eager, default mode)")]
    assert [r[2] for r in compiled] == ["23", "32", "69", "128"]  # tokens: as they are, then padded
    assert all(int(r[5]) > 0 for r in compiled) and [r[7] == "-" for r in compiled] == [True, False] * 2
    data = json.loads((tmp_path / "q.json").read_text())
    assert data["command"].startswith("frame-selector bench questions --preset tiny") and len(data["tables"]) == 3
    assert [r["step"] for r in data["results"]["compiled"]] == [r[1] for r in compiled]


def test_decode(capsys, tmp_path):
    out = run(capsys, "decode", "--seconds", "3", "--size", "160x96", "--candidates", "6", "--threads", "1",
              "--videos", "torchcodec__h265_video.mp4", "--open-gop-seconds", "1", "--selector", "tiny", "--no-progress",
              "--cache", str(tmp_path / "clips"), "--workers", "1,2", "--pipeline-videos", "2", "--pipeline-seconds", "1",
              "--repeats", "1")
    rows = table_rows(out, "6 candidates of a 3-second 160x96 H.264 clip")
    names = [r[0] for r in rows]
    assert names[0].endswith("(default)") and any(n.startswith("full resolution 160x96") for n in names)
    assert any(n.startswith("sequential") for n in names) and "seek before every candidate" in names
    assert any("no skipping of non-reference frames" in n for n in names) and "1 worker, 1 decoder thread" in names
    assert all(r[3] == "6/6" for r in rows)  # every variant returns the frames asked for
    assert rows[0][4] == "1.00x"
    exact = table_rows(out, "PyAV against decord")
    assert {r[0] for r in exact} >= {"torchcodec__h265_video.mp4"} and all(r[7].split("/")[0] == r[7].split("/")[1] for r in exact)
    assert [(r[0], r[3]) for r in table_rows(out, "Parallel decoding of one video")] == [("1", "6/6"), ("2", "6/6")]
    limit = table_rows(out, "The decoder's limit on this clip")
    assert limit[0][1] == "90" and limit[1][-1] == "1.00x"  # every packet of 3 s at 30 fps
    keyframes = table_rows(out, "The keyframe plan")
    assert [r[0] for r in keyframes][1:] == ["torchcodec__h265_video.mp4"] and all(r[6].endswith("x") for r in keyframes)
    pipeline = table_rows(out, "Pipelined over 2 videos")
    assert [r[0].split(" ")[0] for r in pipeline] == ["select", "cache", "label"] and all(r[-1].endswith("x") for r in pipeline)
    share = table_rows(out, "Share of selection time spent decoding")
    assert share[0][-1].endswith("%")
    assert len(list((tmp_path / "clips").glob("painted_160x96_*.mp4"))) == 1  # cached by its parameters


@pytest.mark.slow  # the whole serve benchmark (four proxy runs); the proxy itself is tested in tests/selector/serve
def test_serve(capsys):
    out = run(capsys, "serve", "--requests", "6", "--concurrency", "3", "--videos", "2", "--seconds", "1",
              "--candidates", "8", "--k", "2", "--device", "cpu")
    rows = table_rows(out, "Requests per second through the proxy")
    assert [r[0] for r in rows] == ["batched + cache", "one at a time + cache", "batched, no cache", "one at a time, no cache"]
    assert rows[1][4] == "1.000" and rows[2][5] == "0" and all(r[-1].endswith("x") for r in rows)
    assert all(abs(float(r[6])) < 1e6 for r in rows)  # KiB / request: a number, whatever its noise over 3 requests
    assert "micro-batching vs one at a time (with the cache): " in out and "video cache vs none (micro-batched): " in out


@pytest.mark.slow
def test_gpu_dry_run(capsys, tmp_path):
    # What `make bench-gpu` runs, every step at tiny sizes on the CPU: the script works end to end.
    out = run(capsys, "gpu", "--dry-run", "--out", str(tmp_path / "gpu.json"), "--markdown", str(tmp_path / "gpu.md"),
              "--cache", str(tmp_path / "clips"))
    steps = table_rows(out, "Steps")
    assert [r[0] for r in steps] == ["selection", "question step", "train stage 1", "train stage 2", "label", "decode",
                                     "gpu decoding"]
    assert all(r[2] == "ok" for r in steps)
    data = json.loads((tmp_path / "gpu.json").read_text())
    assert data["dry_run"] and data["steps"][0]["data"]["command"].startswith("frame-selector bench real-size --preset tiny")
    page = (tmp_path / "gpu.md").read_text()
    assert "## train stage 2" in page and "### Parallel decoding of one video" in page
    assert "### Compiled question step (eager, default mode): a lone question on the cached prefix" in page
    targets = table_rows(page, "Against the targets of one H100/H200")
    assert [r[1] for r in targets] == ["eager", "compiled"] and all(r[3] in ("met", "missed") for r in targets)
    assert len(table_rows(page, "Question step on the cached prefix, eager against compiled (cpu)")) == 4


def test_gpu_needs_a_gpu_unless_dry_run(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["bench", "gpu"]) == 2
    assert "needs a CUDA device" in capsys.readouterr().err


def test_real_size(capsys):
    out = run(capsys, "real-size", "--preset", "tiny", "--candidates", "4", "--questions", "2", "--video", VIDEO,
              "--dtypes", "float32,bfloat16", "--attn", "sdpa,eager", "--in-process", "--torch-threads", "1")
    rows = table_rows(out, "Selector (tiny) at n = 4 on cpu")
    assert [r[0] for r in rows] == ["float32, sdpa", "float32, eager", "bfloat16, sdpa", "bfloat16, eager"]
    assert all(r[-1].endswith("%") for r in rows)
    assert len(table_rows(out, "Against float32, sdpa")) == 4
    # --compile auto: the compiled step is timed on CUDA only
    assert "Compiled question step" not in out and {r[1] for r in table_rows(out, "Against the targets")} == {"eager"}
    assert [r[0] for r in table_rows(out, "Dispatch overhead: questions through the same 3 LLM layers")] == ["1", "2"]


@pytest.mark.slow
def test_real_size_in_a_fresh_process(capsys):
    out = run(capsys, "real-size", "--preset", "tiny", "--candidates", "2", "--questions", "2", "--video", VIDEO,
              "--dtypes", "float32")
    assert table_rows(out, "Selector (tiny) at n = 2")[0][0] == "float32, sdpa"


def test_label(capsys):
    out = run(capsys, "label", "--frames", "2", "--batch-sizes", "1,2", "--new-tokens", "1", "--questions", "2",
              "--repeats", "1", "--video", VIDEO, "--device", "cpu", "--frame-size", "64x48")
    rows = table_rows(out, "Spatial scores and captions")
    assert [(r[0], r[1]) for r in rows] == [(t, b) for t in ("spatial direct", "spatial reason", "caption") for b in ("1", "2")]
    reuse = table_rows(out, "Caption reuse")
    assert [(r[0], r[2]) for r in reuse] == [("one job, captions reused", "1"), ("a job per question, captions recomputed", "2")]


def test_train_input(capsys, tmp_path):
    out = run(capsys, "train-input", "--preset", "tiny", "--videos", "2", "--video-seconds", "1", "--candidates", "4",
              "--steps", "2", "--no-progress", "--cache", str(tmp_path / "clips"))
    rows = table_rows(out, "Training steps per second")
    # "-": two tiny steps can take less than the training log's 10 ms resolution
    assert [r[0] for r in rows] == ["feature cache", "decoded video"] and rows[1][-1] in ("1.00x", "-")


@pytest.mark.parametrize("argv, message", [
    (["questions", "--questions", "0"], "--questions needs integers >= 1"),
    (["questions", "--questions", "1,x"], "--questions takes comma-separated integers"),
    (["decode", "--size", "12x7"], "--size 12x7"),
    (["decode", "--threads", "0"], "--threads needs integers >= 1"),
    (["real-size", "--dtypes", "float8"], "--dtypes: float8"),
    (["real-size", "--questions", "1"], "--questions must be >= 2"),
    (["label", "--batch-sizes", "a"], "--batch-sizes takes comma-separated integers"),
    (["train-input", "--steps", "0"], "--steps must be >= 1"),
    (["questions", "--json", "/no/such/dir/out.json"], "cannot write /no/such/dir/out.json"),
    (["all", "--skip", "nope"], "--skip: no benchmark named nope"),
])
def test_bad_options_exit_2_with_one_error_line(capsys, argv, message):
    assert main(["bench", *argv]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_no_gpu_is_a_usage_error(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["bench", "real-size", "--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_unknown_benchmark_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "nope"])
    assert exit_info.value.code == 2


def test_select_in_bfloat16_on_the_cpu(tmp_path, capsys):
    # The dtype the real-size figures recommend on CPUs with native bfloat16.
    assert main(["init", str(tmp_path / "sel"), "--tiny"]) == 0
    code = main(["select", "--model", str(tmp_path / "sel"), "--video", VIDEO, "--question", "Q?", "--k", "2",
                 "--candidates", "8", "--dtype", "bfloat16", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(json.loads(out[out.index("["):])[0]["frames"]) == 2
