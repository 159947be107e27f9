"""lmms-eval integration, offline: the manifest route (always), and, where lmms-eval is installed,
the plug-in model and the generated task through lmms-eval's own registry, task loading, stock
wrappers and evaluator, with a tiny Qwen2.5-VL / Qwen3-VL saved to disk, the tiny selector and a
local video task. lmms-eval without its heavy dependencies (which would downgrade av):

    pip install --no-deps lmms-eval==0.7.3 evaluate==0.4.6
    pip install loguru pytz tenacity requests sacrebleu qwen-vl-utils aiohttp
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from PIL import Image

from eval.choosers import make_chooser
from eval.lmms import (
    doc_key_template,
    format_key,
    items_from_docs,
    items_from_records,
    precompute_manifest,
    read_manifest,
    write_task,
)
from eval.records import Record
from selector import VideoQuestion, probe, read_frames
from selector.tiny.vlm import TINY_MAX_PIXELS, TINY_MIN_PIXELS
from tests.support.paths import ROOT, VIDEOS

BUNNY = VIDEOS / "moviepy__big_buck_bunny_0_30.webm"
NASA = VIDEOS / "torchcodec__nasa_13013.mp4"
K = 4
TASK = "fs_fake_video"
POST_PROMPT = "Answer with the option's letter from the given choices directly."
# lmms-eval's Qwen2.5-VL wrapper hands its `min_pixels` / `max_pixels` model arguments to
# `AutoProcessor.from_pretrained`, which keeps them and passes them to every later processor call,
# where transformers deprecates them. lmms-eval's own call, not the project's (whose hand-off
# passes `size`), so the warning is let through on the tests that build that wrapper.
LMMS_EVAL_PIXEL_ARGUMENTS = pytest.mark.filterwarnings(
    "ignore:Passing `min_pixels` and `max_pixels` to a processor call is deprecated:FutureWarning")

DOCS = [
    {"question_id": "bunny-1", "video": BUNNY.name, "question": "When does the bunny come out?",
     "options": ["A. at the start", "B. in the middle", "C. at the end", "D. never"], "answer": "B"},
    {"question_id": "bunny-2", "video": BUNNY.name, "question": "What colour is the sky?",
     "options": ["A. blue", "B. red", "C. green", "D. black"], "answer": "A"},
    {"question_id": "nasa-1", "video": NASA.name, "question": "What is shown?",
     "options": ["A. a rocket", "B. a cat", "C. a car", "D. a tree"], "answer": "A"},
]

# A stock-style video task, as lmms-eval's own video tasks are written (Video-MME's shape): a
# local JSON dataset, doc_to_visual returning the video path, a prompt with options.
BASE_YAML = f"""\
dataset_path: json
dataset_kwargs:
  data_files:
    test: docs.jsonl
task: {TASK}
test_split: test
output_type: generate_until
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
doc_to_target: answer
generation_kwargs:
  max_new_tokens: 3
  temperature: 0
  do_sample: false
process_results: !function utils.process_results
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
lmms_eval_specific_kwargs:
  default:
    pre_prompt: ""
    post_prompt: "\\n{POST_PROMPT}"
metadata:
  - version: 0.0
"""

BASE_UTILS = f"""\
import os

VIDEOS = {str(VIDEOS)!r}


def doc_to_visual(doc):
    return [os.path.join(VIDEOS, doc["video"])]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    kwargs = lmms_eval_specific_kwargs or {{}}
    options = "\\n".join(doc["options"])
    return kwargs.get("pre_prompt", "") + doc["question"] + "\\n" + options + kwargs.get("post_prompt", "")


def process_results(doc, results):
    return {{"acc": float(results[0].strip()[:1] == doc["answer"])}}
"""


@pytest.fixture(scope="module")
def base_task(tmp_path_factory) -> Path:
    """The stock-style task folder (give it to lmms-eval as an include path)."""
    root = tmp_path_factory.mktemp("base-task")
    (root / f"{TASK}.yaml").write_text(BASE_YAML)
    (root / "utils.py").write_text(BASE_UTILS)
    (root / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    return root


def items() -> list[VideoQuestion]:
    return items_from_docs(DOCS, key="{question_id}", video=lambda d: str(VIDEOS / d["video"]))


def load_module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the manifest route, without lmms-eval ------------------------------------------------------


def test_precompute_writes_frames_times_and_settings_per_doc(tiny_selector_dir, tmp_path):
    chooser = make_chooser(f"selector:{tiny_selector_dir}", device="cpu")
    run = precompute_manifest(items(), chooser, tmp_path / "sel", k=K, candidates=32, max_side=160)
    assert (run.written, run.kept, run.failed) == (3, 0, 0)
    rows = read_manifest(tmp_path / "sel")
    assert list(rows) == ["bunny-1", "bunny-2", "nasa-1"]
    bunny = probe(BUNNY)
    for doc in DOCS[:2]:
        row = rows[doc["question_id"]]
        options = [o[3:] for o in doc["options"]]  # read without their letters: the selector letters them itself
        expected = chooser.choose(bunny, 32, doc["question"], K, options=options)  # the same chooser, asked directly
        assert row["indices"] == expected.indices and row["k"] == K and row["question"] == doc["question"]
        assert row["options"] == options
        assert row["seconds"] == pytest.approx([float(bunny.timestamps[i]) for i in row["indices"]], abs=1e-6)
        assert row["prompt_times"] == [f"{s:.1f}" for s in row["seconds"]]
        assert row["fps"] == pytest.approx(bunny.fps) and row["duration"] == pytest.approx(bunny.duration)
        assert row["settings"]["plan"] == {"kind": "uniform", "n": 32, **row["settings"]["plan"]}
        assert row["settings"]["model"] == str(tiny_selector_dir) and row["settings"]["rule"] == "nms"
        assert row["settings"]["k"] == K and len(row["scores"]) == K and row["chooser"] == "selector"
        folder = tmp_path / "sel" / row["frames_dir"]
        sidecar = json.loads((folder / "frames.json").read_text())
        assert [f["index"] for f in sidecar["files"]] == row["indices"]
        assert row["frame_size"] == [160, 90] and len(row["files"]) == K
        for name, index in zip(row["files"], row["indices"]):
            assert f"_f{index:06d}_" in name
            decoded = read_frames(bunny, [index], size=(160, 90))[0].astype(int)
            assert np.abs(np.asarray(Image.open(folder / name), dtype=int) - decoded).mean() < 8  # JPEG of that frame
    json.dumps(rows)


def test_precompute_resumes_and_records_failures(tmp_path):
    docs = items() + [VideoQuestion("missing", str(VIDEOS / "nope.mp4"), "q?"),
                      VideoQuestion("flagged", "", "q?", problem="video not found: x.mp4")]
    first = precompute_manifest(docs, "uniform", tmp_path, k=K, candidates=16)
    assert (first.written, first.failed) == (3, 2)
    rows = read_manifest(tmp_path)
    assert "nope.mp4" in rows["missing"]["error"] and rows["flagged"]["error"] == "video not found: x.mp4"
    assert rows["missing"]["settings"]["plan"]["n"] == 16 and "indices" not in rows["missing"]
    with open(tmp_path / "manifest.jsonl", "a") as f:
        f.write('{"key": "cut sho')  # a run killed mid-line
    again = precompute_manifest(docs, "uniform", tmp_path, k=K, candidates=16)
    assert (again.written, again.kept, again.failed) == (0, 3, 2)  # failures are tried again
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 3 + 2 + 2 and all(json.loads(line) for line in lines)
    with pytest.raises(ValueError, match="duplicate doc keys"):
        precompute_manifest(items() + items()[:1], "uniform", tmp_path, k=K)


def test_items_from_records_and_doc_keys():
    records = [Record("001-1", str(BUNNY), "Why?", ["a", "b"], bench="videomme"),
               Record("001-2", "", "How?", bench="videomme", problem="video not found: 001.mp4")]
    got = items_from_records(records)
    assert got[0] == VideoQuestion("001-1", str(BUNNY), "Why?", ["a", "b"]) and got[1].problem.startswith("video not found")
    assert doc_key_template("videomme") == "{question_id}" and doc_key_template("longvideobench_val_v") == "{id}"
    assert doc_key_template("egoschema") is None
    assert format_key("{video}_{qid}", {"video": "v1", "qid": 3}) == "v1_3"
    with pytest.raises(KeyError, match="question_id"):
        format_key("{question_id}", {"id": 1})
    bad = items_from_docs([{"question_id": "x"}], key="{question_id}", video=lambda d: sys.exit("no video"))
    assert bad[0].problem and "no video" in bad[0].problem  # lmms-eval's doc_to_visual exits on a missing video


def test_generated_task_files_serve_frames_without_lmms_eval(base_task, tmp_path):
    precompute_manifest(items() + [VideoQuestion("gone", "/nope.mp4", "q")], "uniform", tmp_path / "sel", k=K, candidates=16)
    yaml_path = write_task(tmp_path / "sel", tmp_path / "task", base_yaml=base_task / f"{TASK}.yaml", key="{question_id}")
    assert yaml_path.name == f"{TASK}_fs.yaml"

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: f"!function {loader.construct_scalar(node)}")
    config = yaml.load(yaml_path.read_text(), Loader=Loader)
    assert config == {
        "include": str((base_task / f"{TASK}.yaml").resolve()),
        "task": f"{TASK}_fs",
        "doc_to_visual": f"!function {TASK}_fs_utils.doc_to_visual",
        "doc_to_text": f"!function {TASK}_fs_utils.doc_to_text",
        "doc_to_messages": f"!function {TASK}_fs_utils.doc_to_messages",
    }
    utils = load_module(tmp_path / "task" / f"{TASK}_fs_utils.py")
    assert utils.CONFIG["manifest"] == "../sel/manifest.jsonl"  # relative: the folders can move together
    row = read_manifest(tmp_path / "sel")["bunny-1"]
    frames = utils.doc_to_visual(DOCS[0])
    assert len(frames) == K and all(isinstance(f, Image.Image) and f.mode == "RGB" for f in frames)
    assert [Path(p).name for p in utils.frame_paths(DOCS[0])] == row["files"]
    with pytest.raises(KeyError, match="no selection for doc 'absent'"):
        utils.selection({"question_id": "absent"})
    with pytest.raises(RuntimeError, match="failed"):
        utils.selection({"question_id": "gone"})
    with pytest.raises(KeyError, match="question_id"):
        utils.doc_key({"id": 1})


def test_command_line_writes_manifest_and_task(base_task, tmp_path, capsys):
    from eval.lmms.__main__ import main

    docs = base_task / "docs.jsonl"
    common = ["--docs", str(docs), "--video-root", str(VIDEOS), "--chooser", "uniform", "--k", str(K), "--candidates", "16"]
    assert main(["manifest", *common, "--key", "{question_id}", "--out", str(tmp_path / "sel"), "--max-side", "96"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["written"] == len(DOCS)
    rows = read_manifest(tmp_path / "sel")
    assert rows["nasa-1"]["k"] == K and rows["nasa-1"]["frame_size"][0] == 96
    assert main(["task", "--manifest", str(tmp_path / "sel"), "--base-yaml", str(base_task / f"{TASK}.yaml"),
                 "--key", "{question_id}", "--out", str(tmp_path / "task")]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == f"{TASK}_fs"
    assert main(["manifest", *common, "--out", str(tmp_path / "x")]) == 2  # no key
    assert "--docs needs --key" in capsys.readouterr().err
    assert main(["task", "--manifest", str(tmp_path / "nowhere"), "--base-yaml", "b.yaml", "--out", str(tmp_path)]) == 2


# --- with lmms-eval --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lmms_eval():
    return pytest.importorskip("lmms_eval.models.registry_v2", reason="lmms-eval is not installed")


@pytest.fixture(scope="module")
def qwen25_dir(qwen25, tmp_path_factory):
    model, processor = qwen25
    path = tmp_path_factory.mktemp("tiny-qwen25")
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def qwen3_dir(qwen3, tmp_path_factory):
    model, processor = qwen3
    path = tmp_path_factory.mktemp("tiny-qwen3")
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def chat_task(name: str, *include: Path):
    """The task as lmms-eval builds it for a chat model, and its requests."""
    from lmms_eval.tasks import TaskManager, get_task_dict

    manager = TaskManager(include_path=[str(p) for p in include], include_defaults=False)
    task = get_task_dict([name], manager, "chat")[name]
    task.build_all_requests(limit=len(DOCS))
    return task, list(task.instances)


def test_entry_point_registers_the_models(lmms_eval, tmp_path, monkeypatch):
    """What `[project.entry-points."lmms_eval.models"]` installs, read by lmms-eval's registry."""
    dist = tmp_path / "frame_selector_lmms_test-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: frame-selector-lmms-test\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("[lmms_eval.models]\nframe_selector = eval.lmms:manifests\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from lmms_eval.models.registry_v2 import ModelRegistryV2

    from eval.lmms.models import FrameSelectorQwen2_5_VL, FrameSelectorQwen3_VL

    registry = ModelRegistryV2()
    registry.load_entrypoint_manifests()  # what lmms-eval does when it builds its registry
    for name, cls in (("frame_selector_qwen2_5_vl", FrameSelectorQwen2_5_VL), ("frame_selector_qwen3_vl", FrameSelectorQwen3_VL)):
        resolved = registry.resolve(name)
        assert resolved.model_type == "chat" and resolved.class_path == f"eval.lmms.models.{cls.__name__}"
        assert registry.get_model_class(name) is cls  # validated: an lmms subclass with is_simple False
    import lmms_eval.models as models

    everything = models._initialize_model_registry()  # built-ins, then entry points, as at import
    assert everything.get_model_class("frame_selector_qwen3_vl") is FrameSelectorQwen3_VL
    assert everything.resolve("qwen2_5_vl").model_type == "chat"  # the built-ins are still there


def test_chooser_spec_from_model_args(lmms_eval):
    from lmms_eval.utils import simple_parse_args_string

    from eval.lmms.models import candidate_plan, chooser_spec

    args = simple_parse_args_string('pretrained=x,chooser="siglip:google/siglip-base,nms=1",k=8,candidates=fps:2:8:64')
    assert chooser_spec(args["chooser"], {}) == "siglip:google/siglip-base,nms=1"
    assert args["k"] == 8 and candidate_plan(args["candidates"]).to_dict()["max_frames"] == 64
    args = simple_parse_args_string("chooser=selector:/ckpt,chooser_rule=topk,chooser_delta=3,candidates=128")
    options = {k[len("chooser_"):]: v for k, v in args.items() if k.startswith("chooser_")}
    assert chooser_spec(args["chooser"], options) == "selector:/ckpt,rule=topk,delta=3"
    assert chooser_spec("scene", {"bins": 4}) == "scene:bins=4"
    assert candidate_plan(args["candidates"]).n == 128


@LMMS_EVAL_PIXEL_ARGUMENTS
def test_plugin_answers_from_selected_frames_qwen25(lmms_eval, qwen25_dir, tiny_selector_dir, base_task, tmp_path):
    from eval.lmms.models import FrameSelectorQwen2_5_VL

    record = tmp_path / "selections.jsonl"
    lm = FrameSelectorQwen2_5_VL.create_from_arg_string(
        f"pretrained={qwen25_dir},device=cpu,device_map=cpu,min_pixels={TINY_MIN_PIXELS},max_pixels={TINY_MAX_PIXELS},"
        f"chooser=selector:{tiny_selector_dir},k={K},candidates=32,selections={record},doc_key={{question_id}}"
    )
    task, requests = chat_task(TASK, base_task)
    lm.task_dict[TASK] = task.dataset
    results = lm.generate_until(requests)
    assert len(results) == len(DOCS) and all(isinstance(r.text, str) for r in results)
    rows = {row["key"]: row for row in map(json.loads, record.read_text().splitlines())}
    assert sorted(rows) == sorted(d["question_id"] for d in DOCS)
    chooser = make_chooser(f"selector:{tiny_selector_dir}", device="cpu")
    for doc in DOCS:
        row = rows[doc["question_id"]]
        info = probe(VIDEOS / doc["video"])
        options = [o[3:] for o in doc["options"]]
        expected = chooser.choose(info, 32, doc["question"], K, options=options)  # the doc's question and options, not the prompt
        assert row["indices"] == expected.indices and row["question_source"] == "question" and row["options"] == options
        assert row["seconds"] == pytest.approx([float(info.timestamps[i]) for i in row["indices"]], abs=1e-6)
        assert row["target"] == "qwen2_5_vl" and row["k"] == K and row["settings"]["plan"]["n"] == 32
        assert row["task"] == TASK and row["split"] == "test" and row["answer"] == results[row["doc_id"]].text
        assert row["prompt_text"].endswith(POST_PROMPT) and doc["options"][0] in row["prompt_text"]
        assert row["budget"]["max_frames"] == 32 and row["budget"]["max_pixels"] == TINY_MAX_PIXELS
        if row["mode"] == "images":  # non-uniform: each frame an image after its true time
            assert row["prompt_times"] == [f"{s:.1f}" for s in row["seconds"]]
        else:
            assert row["uniform"] and row["second_per_grid_ts"] > 0

    def request(*content):
        return SimpleNamespace(args=("ctx", lambda doc: [{"role": "user", "content": list(content)}], {}, 0, TASK, "test"))

    text = {"type": "text", "text": "Describe."}
    video = {"type": "video", "url": str(NASA)}
    assert lm._job(0, request(text)) is None  # no video: the stock wrapper answers it
    assert lm._job(0, request({"type": "image", "url": Image.new("RGB", (28, 28))}, text)) is None
    with pytest.raises(ValueError, match="2 videos"):
        lm._job(0, request(video, video, text))
    with pytest.raises(ValueError, match="image parts next to the video"):
        lm._job(0, request(video, {"type": "image", "url": Image.new("RGB", (28, 28))}, text))


def test_plugin_qwen3_prints_the_true_times(lmms_eval, qwen3_dir, base_task, tmp_path, monkeypatch):
    from eval.lmms.models import FrameSelectorQwen3_VL

    record = tmp_path / "selections.jsonl"
    lm = FrameSelectorQwen3_VL.create_from_arg_string(
        f"pretrained={qwen3_dir},device=cpu,device_map=cpu,min_pixels=1024,max_pixels=6144,"
        f"chooser=uniform,k={K},candidates=16,selections={record},question_field=prompt"
    )
    task, requests = chat_task(TASK, base_task)
    lm.task_dict[TASK] = task.dataset
    seen = []
    generate = lm.model.generate
    monkeypatch.setattr(lm.model, "generate", lambda **kw: seen.append(kw) or generate(**kw))
    lm.generate_until(requests[:1])
    row = json.loads(record.read_text())
    assert row["target"] == "qwen3_vl" and row["mode"] == "video" and row["question_source"] == "prompt"
    assert row["question"] == row["prompt_text"]  # question_field=prompt: the chooser sees the whole prompt
    text = lm.processor.tokenizer.decode(seen[0]["input_ids"][0])
    printed = [float(t) for t in re.findall(r"<(\d+\.\d) seconds>", text)]
    pairs = np.asarray(row["seconds"]).reshape(-1, 2).mean(axis=1)  # one time per temporal patch of 2 frames
    assert printed == pytest.approx(list(pairs), abs=0.06)
    assert "You are a helpful assistant." in text  # the stock wrapper's system prompt is kept
    assert int(seen[0]["video_grid_thw"][0, 0]) == K // 2


@LMMS_EVAL_PIXEL_ARGUMENTS
@pytest.mark.slow
def test_generated_task_feeds_a_stock_chat_model(lmms_eval, qwen25_dir, tiny_selector_dir, base_task, tmp_path, monkeypatch):
    pytest.importorskip("qwen_vl_utils", reason="the stock Qwen wrappers need qwen-vl-utils")
    from lmms_eval.models.chat.qwen2_5_vl import Qwen2_5_VL

    from eval.lmms import items_from_task

    got = items_from_task(TASK, key="{question_id}", include_path=base_task)
    assert got == items()  # lmms-eval's docs and doc_to_visual give the same items
    precompute_manifest(got, f"selector:{tiny_selector_dir}", tmp_path / "sel", k=K, candidates=32, max_side=112, device="cpu")
    write_task(tmp_path / "sel", tmp_path / "task", base_task=TASK, include_path=base_task, key="{question_id}")
    task, requests = chat_task(f"{TASK}_fs", tmp_path / "task", base_task)
    rows = read_manifest(tmp_path / "sel")

    doc = task.dataset["test"][0]
    row = rows[doc["question_id"]]
    messages = task.doc_to_messages(doc)  # what every chat model is handed
    content = messages[0]["content"]
    assert [c["type"] for c in content] == ["text", "image"] * K + ["text"]
    written = [float(t) for c in content if c["type"] == "text" for t in re.findall(r"Frame at (\d+\.\d) s:", c["text"])]
    assert written == pytest.approx(row["seconds"], abs=0.05 + 1e-6)
    assert content[-1]["text"].endswith(POST_PROMPT) and doc["options"][0] in content[-1]["text"]
    assert all(c["url"].size == (112, 62) for c in content if c["type"] == "image")
    assert task.doc_to_text(doc).startswith(f"These {K} frames were selected from a 30.0-second video, in time order, at ")
    assert len(task.doc_to_visual(doc)) == K  # what simple models are handed
    assert task.config.process_results.__module__ == "utils"  # metrics stay the stock task's

    lm = Qwen2_5_VL(pretrained=str(qwen25_dir), device="cpu", device_map="cpu", min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS)
    lm.task_dict[f"{TASK}_fs"] = task.dataset
    seen = []
    generate = lm.model.generate
    monkeypatch.setattr(lm.model, "generate", lambda **kw: seen.append(kw) or generate(**kw))
    answers = lm.generate_until(requests)
    assert len(answers) == len(DOCS)
    assert all(kw["image_grid_thw"].shape[0] == K and "pixel_values_videos" not in kw for kw in seen)


@pytest.mark.slow
def test_override_of_the_installed_videomme_task(lmms_eval, tmp_path):
    """The generated YAML against lmms-eval's real Video-MME task: indexed under the new name,
    and resolving to Video-MME's data, prompt settings and metrics with our visuals."""
    from lmms_eval.tasks import TaskManager
    from lmms_eval.utils import load_yaml_config

    precompute_manifest(items()[:1], "uniform", tmp_path / "sel", k=K, candidates=16)
    path = write_task(tmp_path / "sel", tmp_path / "task", base_task="videomme")
    assert path.name == "videomme_fs.yaml"
    config = load_yaml_config(str(path), mode="simple")  # simple mode: no imports of the task code
    assert config["task"] == "videomme_fs" and config["dataset_path"] == "lmms-eval/Video-MME"
    assert config["test_split"] == "test" and "videomme_perception_score" in str(config["metric_list"])
    assert config["lmms_eval_specific_kwargs"]["default"]["post_prompt"].startswith("\nAnswer with the option's letter")
    utils = load_module(tmp_path / "task" / "videomme_fs_utils.py")
    assert utils.CONFIG["key"] == "{question_id}" and Path(utils.CONFIG["base_yaml"]).name == "videomme.yaml"
    index = TaskManager(include_path=[str(tmp_path / "task")])._task_index
    assert index["videomme_fs"] == {"type": "task", "yaml_path": str(path)} and "videomme" in index
    pytest.importorskip("cv2", reason="Video-MME's utils.py imports cv2")
    full = load_yaml_config(str(path), mode="full")
    assert full["doc_to_messages"].__name__ == "doc_to_messages" and full["process_results"].__name__ == "videomme_process_results"
    doc = {"question_id": "001-1", "videoID": "x", "question": "Why?", "options": ["A. a", "B. b", "C. c", "D. d"]}
    text = full["doc_to_text"]({**doc, "question_id": "bunny-1"}, {"post_prompt": "P"})  # Video-MME's own prompt after the times
    assert text.startswith(f"These {K} frames were selected from a 30.0-second video") and text.endswith("Why?\nA. a\nB. b\nC. c\nD. d\nP")


@LMMS_EVAL_PIXEL_ARGUMENTS
@pytest.mark.timeout(600)
@pytest.mark.slow
def test_simple_evaluate_end_to_end(lmms_eval, qwen25_dir, tiny_selector_dir, base_task, tmp_path, monkeypatch):
    """`lmms_eval.evaluator.simple_evaluate` with the plug-in by name, as the CLI runs it (needs
    the rest of lmms-eval's imports: aiohttp, ...)."""
    try:
        from lmms_eval.evaluator import simple_evaluate
    except ImportError as error:
        pytest.skip(f"lmms_eval.evaluator cannot be imported here: {error}")
    from lmms_eval.tasks import TaskManager

    dist = tmp_path / "ep" / "frame_selector_lmms_test-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: frame-selector-lmms-test\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("[lmms_eval.models]\nframe_selector = eval.lmms:manifests\n")
    monkeypatch.syspath_prepend(str(tmp_path / "ep"))
    import lmms_eval.models as models

    monkeypatch.setattr(models, "MODEL_REGISTRY_V2", models._initialize_model_registry())
    record = tmp_path / "selections.jsonl"
    out = simple_evaluate(
        model="frame_selector_qwen2_5_vl",
        model_args=(f"pretrained={qwen25_dir},device_map=cpu,min_pixels={TINY_MIN_PIXELS},"
                    f"max_pixels={TINY_MAX_PIXELS},chooser=selector:{tiny_selector_dir},k={K},candidates=32,selections={record}"),
        tasks=[TASK],
        task_manager=TaskManager(include_path=[str(base_task)], include_defaults=False),
        limit=2,
        device="cpu",
        batch_size=1,
    )
    assert "acc" in json.dumps(out["results"][TASK]) and len(record.read_text().splitlines()) == 2


def test_task_utils_template_has_its_config_line():
    text = (ROOT / "eval/lmms/task_utils.py").read_text()
    assert text.count("CONFIG: dict = {}") == 1
    assert not re.search(r"^\s*(from|import) (selector|eval|torch)\b", text, re.M)  # runs in lmms-eval's env alone
