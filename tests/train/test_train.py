import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from accelerate.state import AcceleratorState
from huggingface_hub import ModelCard
from safetensors.torch import load_file

from selector import FrameSelector, FrameSelectorForFrameScoring
from selector.label_store import SCHEMA, read_newest_rows
from tests.support.paths import ROOT
from tests.support.train_fixtures import make_instructions, make_label_store, make_selector
from train.cli import CacheSettings, cmd_cache
from train.config import TrainConfig
from train.data import AlternatingBatchSampler, read_labels
from selector.processing import load_processor
from train.features import FeatureCache, vision_fingerprint
from train.labels import training_labels
from train.loop import train


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    """Each training run builds its own Accelerator; the state is a process-wide singleton."""
    AcceleratorState._reset_state(True)
    yield
    AcceleratorState._reset_state(True)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    store = make_label_store(root)
    selector = make_selector(root)
    instruct = make_instructions(root, root / "videos" / "v0.mp4")
    cache = root / "cache"
    cmd_cache(CacheSettings(labels=str(store), model=str(selector), out=str(cache), instruct=str(instruct), instruct_frames=4,
                            batch_size=8, device="cpu", no_progress=True))
    return {"root": root, "store": store, "selector": selector, "instruct": instruct, "cache": cache}


def config(ws, out, **values) -> TrainConfig:
    base = dict(init_from=str(ws["selector"]), labels=str(ws["store"]), features=str(ws["cache"]), output_dir=str(out),
                batch_size=4, micro_batch_size=2, num_workers=0, eval_every=2, save_every=0, progress=False, val_fraction=0.2)
    return TrainConfig.load(None, None, **{**base, **values})


def weights(path) -> dict[str, torch.Tensor]:
    return load_file(Path(path) / "model.safetensors")


def test_feature_cache_is_complete_and_resumable(workspace, capsys):
    model = FrameSelectorForFrameScoring.from_pretrained(workspace["selector"])
    cache = FeatureCache(workspace["cache"], vision_fingerprint(model, load_processor(workspace["selector"])))
    rows = read_labels(workspace["store"])
    assert len(rows) == 12
    from train.data import label_request

    features = cache.get(label_request(rows[0]).key)
    assert features.shape == (8, 9, 32) and features.dtype == torch.float16
    cmd_cache(CacheSettings(labels=str(workspace["store"]), model=str(workspace["selector"]), out=str(workspace["cache"]),
                            instruct_frames=4, batch_size=8, device="cpu", no_progress=True))
    assert '"encoded": 0' in capsys.readouterr().out  # everything was cached already


def test_a_bf16_tower_finds_the_cache_of_the_same_tower_in_float32(workspace):
    """Caches are built on GPUs in bf16 and read by training in float32: same checkpoint, same cache."""
    processor = load_processor(workspace["selector"])
    fp32 = FrameSelectorForFrameScoring.from_pretrained(workspace["selector"], dtype=torch.float32)
    bf16 = FrameSelectorForFrameScoring.from_pretrained(workspace["selector"], dtype=torch.bfloat16)
    assert vision_fingerprint(fp32, processor) == vision_fingerprint(bf16, processor)
    with torch.no_grad():
        next(fp32.vision_tower.parameters()).add_(1.0)  # another tower is another cache
    assert vision_fingerprint(fp32, processor) != vision_fingerprint(bf16, processor)


@pytest.mark.slow
def test_stage1_then_stage2_end_to_end(workspace, tmp_path, capsys):
    stage1 = train(config(workspace, tmp_path / "s1", instruct=str(workspace["instruct"]), instruct_frames=4, epochs=2, learning_rate=1e-2,
                          val_fraction=0.4))  # two held-out videos, so each can be asked the other's question
    stage1_k = TrainConfig().recall_k
    kinds = {r["kind"] for r in csv.DictReader((tmp_path / "s1" / "metrics.csv").open())}
    assert kinds == {"score", "lm"}
    validated = [r for r in csv.DictReader((tmp_path / "s1" / "metrics.csv").open()) if r["val_bce"]]
    assert validated and all(r["val_swapped_hit@1"] and r[f"val_swapped_recall@{stage1_k}"] for r in validated)  # the swap control
    assert (tmp_path / "s1" / "training.png").exists() and (tmp_path / "s1" / "train_config.yaml").exists()
    assert f"labels {workspace['store']}: 12 rows, trained on the store's label (spans; 12 varying)" in capsys.readouterr().out
    report = json.loads((tmp_path / "s1" / "label_report.json").read_text())
    assert report["coverage"]["spans"] == {"rows": 12, "varying": 12} and report["coverage"]["spatial"]["rows"] == 0
    initial, trained = weights(workspace["selector"]), weights(stage1)
    assert not torch.equal(initial["projector.linear_1.weight"], trained["projector.linear_1.weight"])
    assert not torch.equal(initial["score_head.query"], trained["score_head.query"])
    for key in initial:  # frozen in stage 1
        if key.startswith(("vision_tower.", "language_model.")):
            assert torch.equal(initial[key], trained[key]), key

    AcceleratorState._reset_state(True)
    stage2 = train(config(workspace, tmp_path / "s2", stage=2, init_from=str(stage1), epochs=2, learning_rate=1e-2, lora_r=4,
                          val_fraction=0.4))
    adapter = load_file(tmp_path / "s2" / "adapter" / "adapter_model.safetensors")
    lora_keys = [k for k in adapter if "lora_" in k]
    assert lora_keys and all(".language_model." in k for k in lora_keys)
    merged = weights(stage2)
    assert not any("lora" in k for k in merged)
    assert not torch.equal(merged["language_model.model.layers.0.self_attn.q_proj.weight"], weights(stage1)["language_model.model.layers.0.self_attn.q_proj.weight"])
    selector = FrameSelector.from_pretrained(stage2, device="cpu")
    video = workspace["root"] / "videos" / "v1.mp4"
    assert len(selector.select(video, "question 0 about video 1?", k=3, candidates=8).frames) == 3

    # The adapter on a rebuilt base scores exactly like the merged checkpoint.
    from peft import PeftModel

    with_adapter = PeftModel.from_pretrained(FrameSelectorForFrameScoring.from_pretrained(stage1), tmp_path / "s2" / "adapter").eval()
    features = torch.randn(1, 8, 9, 32)
    ids = torch.tensor([[5, 6, 7]])
    kwargs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), prefix_ids=torch.tensor([1, 2]), vision_features=features)
    torch.testing.assert_close(with_adapter(**kwargs).logits, selector.model(**kwargs).logits, rtol=1e-4, atol=1e-4)

    # Every trained folder explains itself: a Hub model card naming its labels, settings and validation.
    for folder, library in ((stage1, "frame-selector"), (stage2, "frame-selector"), (tmp_path / "s2" / "adapter", "peft")):
        card = ModelCard.load(folder / "README.md")
        meta = card.data.to_dict()
        assert meta["library_name"] == library and "video-frame-selection" in meta["tags"]
        assert meta["frame_selector"]["labels"]["store"] == str(workspace["store"]) and meta["frame_selector"]["labels"]["signals"] == ["spans"]
        assert f"label store: `{workspace['store']}`" in card.text and "| spans " in card.text
        run = folder.parent
        last = [r for r in csv.DictReader((run / "metrics.csv").open()) if r["val_bce"]][-1]
        validation = meta["frame_selector"]["validation"]
        assert validation["step"] == int(last["step"]) and validation[f"val_swapped_recall@{stage1_k}"] == float(last[f"val_swapped_recall@{stage1_k}"])
        assert "swap control" in card.text and f"| recall@{stage1_k} |" in card.text
    stage2_meta = ModelCard.load(stage2 / "README.md").data.to_dict()["frame_selector"]
    assert stage2_meta["init_from"] == str(stage1) and stage2_meta["training"]["lora_r"] == 4 and stage2_meta["training"]["stage"] == 2


def store_with(ws, folder: Path, change) -> Path:
    """The workspace's label store as one merged file, each row passed through `change`."""
    rows = [change(i, row) for i, row in enumerate(read_newest_rows(ws["store"]).values())]
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), folder / "labels.parquet")
    return folder / "labels.parquet"


def constant(value):
    return lambda i, row: {**row, "label": [value(i)] * len(row["label"])}


@pytest.mark.parametrize("change, why", [
    (constant(lambda i: 0.0), "every value of label is 0, so there is nothing to learn"),
    (constant(lambda i: float(i % 2)), "label is constant across the candidates of every row"),
    (lambda i, row: {**row, "status": "failed", "label": None}, "has no labelled rows (12 failed)"),
], ids=["all-zero", "constant-rows", "all-failed"])
def test_a_store_with_nothing_to_learn_is_refused_in_one_line(workspace, tmp_path, capsys, change, why):
    """Through the command line: exit status 2 and one `error:` line naming the store, before any model loads."""
    from selector.cli import main

    bad = store_with(workspace, tmp_path / "bad", change)
    out = tmp_path / "run"
    assert main(["train", f"init_from={workspace['selector']}", f"labels={bad}", f"output_dir={out}", "progress=false"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: label store {bad}") and why in err and err.count("\n") == 1
    assert not out.exists()


def test_a_signal_missing_from_every_row_is_refused(workspace):
    """The store has spans only: asking for spatial or temporal labels would train on nothing."""
    with pytest.raises(ValueError, match="spatial missing in every labelled row"):
        training_labels(str(workspace["store"]), {"spatial": 1.0})
    with pytest.raises(ValueError, match="temporal missing in every labelled row"):
        training_labels(str(workspace["store"]), {"spans": 1.0, "temporal": 1.0})
    with pytest.raises(ValueError, match="label_weights: unknown signal"):
        config(workspace, "out", label_weights={"spatail": 1})
    with pytest.raises(ValueError, match="every weight is 0"):
        config(workspace, "out", label_weights={"spans": 0})


def test_a_good_store_reports_what_each_signal_covered(workspace, tmp_path):
    """Coverage per signal (rows present, rows varying), failed rows skipped, and a label
    recombined from the stored signals with `label_weights`, as the labelling job combines them."""
    from pseudolabel.signals import combine
    import numpy as np

    def change(i, row):
        n = len(row["label"])
        if i == 0:
            return {**row, "status": "failed", "label": None}
        spatial = [0.5] * n if i == 1 else [j / n for j in range(n)] if i < 6 else None  # 5 rows, one constant
        return {**row, "spatial": spatial, "provenance": json.dumps({"spatial": {"backend": "transformers", "model": "vlm", "revision": "abc",
                                                                                "prompt_version": "qwen-vl-1", "batch_size": 4}})}

    store = store_with(workspace, tmp_path / "labels", change)
    rows, report = training_labels(str(store), {"spatial": 1.0, "spans": 3.0})
    assert (report.rows, report.failed, report.without_signals) == (11, 1, 0)
    assert report.coverage["spatial"].rows == 5 and report.coverage["spatial"].varying == 4
    assert report.coverage["spans"].rows == 11 and report.coverage["temporal"].rows == 0
    assert report.signals == ["spans", "spatial"] and report.labellers == {
        "spatial": [{"backend": "transformers", "model": "vlm", "revision": "abc", "prompt_version": "qwen-vl-1"}]}
    assert "1 failed rows skipped" in report.line() and "spatial 5 (4 varying)" in report.line()
    source = read_newest_rows(store)
    for row in rows:
        stored = source[row["id"]]
        signals = {"spatial": stored["spatial"], "temporal": None, "spans": stored["spans_label"]}
        expected, used = combine({k: v if v is None else np.asarray(v) for k, v in signals.items()}, {"spatial": 1.0, "spans": 3.0})
        np.testing.assert_allclose(row["label"], expected, rtol=1e-6)
        assert sorted(row["signals"]) == sorted(used)
    spatial_only, report = training_labels(str(store), {"spatial": 1.0})
    assert len(spatial_only) == 5 and report.without_signals == 6


def test_loss_falls_on_a_learnable_task(workspace, tmp_path):
    train(config(workspace, tmp_path / "run", max_steps=30, learning_rate=3e-2, warmup_ratio=0.0, eval_every=0, lm_ratio=0))
    losses = [float(r["loss"]) for r in csv.DictReader((tmp_path / "run" / "metrics.csv").open())]
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5


def test_gradient_checkpointing_recomputes_the_llm_activations(workspace, tmp_path):
    """`gradient_checkpointing: true` turns on activation checkpointing in the language model, and
    a step trains with it (through transformers' current API: the suite's warning filters make a
    deprecated call an error)."""
    from train.loop import micro_step, setup

    stage = setup(config(workspace, tmp_path / "run", gradient_checkpointing=True, max_steps=1, eval_every=0, lm_ratio=0))
    assert stage.base.language_model.is_activation_checkpointing
    stage.model.train()
    assert torch.isfinite(micro_step(stage, next(iter(stage.loader))))


def test_training_from_decoded_video_matches_the_cache(workspace, tmp_path):
    """Same batches, features computed on the fly: the same first steps within fp16 rounding."""
    a = train(config(workspace, tmp_path / "cached", max_steps=2, eval_every=0, lm_ratio=0))
    AcceleratorState._reset_state(True)
    b = train(config(workspace, tmp_path / "decoded", features="", max_steps=2, eval_every=0, lm_ratio=0))
    torch.testing.assert_close(weights(a)["projector.linear_2.weight"], weights(b)["projector.linear_2.weight"], rtol=1e-2, atol=1e-3)


def test_multiple_choice_rows_are_also_trained_without_their_options():
    from train.data import also_without_options

    rows = [{"id": "a", "question": "Which?", "options": ["x", "y"]}, {"id": "b", "question": "Why?", "options": None}]
    doubled = also_without_options(rows)
    assert doubled[:2] == rows and doubled[2] == {"id": "a", "question": "Which?", "options": None}
    assert len(doubled) == 3 and rows[0]["options"] == ["x", "y"]


def test_alternating_sampler_keeps_groups_homogeneous_and_deterministic():
    sampler = AlternatingBatchSampler(n_score=20, n_lm=10, batch_size=2, group=2, lm_ratio=0.5, seed=3)
    plan = list(sampler)
    kinds = ["lm" if batch[0] >= 20 else "score" for batch in plan]
    assert all(all((i >= 20) == (batch[0] >= 20) for i in batch) for batch in plan)
    assert all(kinds[i] == kinds[i + 1] for i in range(0, len(kinds), 2))
    assert kinds.count("score") == 10 and kinds.count("lm") == 4  # 5 batches of lm -> 2 whole groups
    assert list(sampler) == plan
    sampler.set_epoch(1)
    assert list(sampler) != plan


def run_module(args, env=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "train", *args], env={**os.environ, **(env or {})}, **kw)


def overrides(ws, out, **values):
    base = dict(init_from=ws["selector"], labels=ws["store"], features=ws["cache"], output_dir=out, batch_size=4,
                micro_batch_size=2, num_workers=0, eval_every=0, progress=False, lm_ratio=0, val_fraction=0.2,
                learning_rate=1e-2, lora_r=4)
    return [f"{k}={v}" for k, v in {**base, **values}.items()]


@pytest.mark.slow
def test_resume_after_sigkill_gives_the_same_weights(workspace, tmp_path):
    # Dropout: the RNG state must resume too. Micro-batches of 1 make 2 steps an epoch, so the
    # checkpoint at step 3 resumes in the middle of an epoch.
    settings = dict(stage=2, max_steps=10, save_every=1, lora_dropout=0.1, micro_batch_size=1)
    reference = run_module(overrides(workspace, tmp_path / "straight", **settings))
    assert reference.wait(timeout=300) == 0
    interrupted = run_module(overrides(workspace, tmp_path / "killed", **settings))
    checkpoints = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and not list(checkpoints.glob("step-3")) and interrupted.poll() is None:
        time.sleep(0.02)
    interrupted.send_signal(signal.SIGKILL)
    interrupted.wait()
    assert not (tmp_path / "killed" / "final").exists(), "the kill should land before the end"
    resumed = run_module(overrides(workspace, tmp_path / "killed", **settings))
    assert resumed.wait(timeout=300) == 0
    a, b = weights(tmp_path / "straight" / "final"), weights(tmp_path / "killed" / "final")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    losses = lambda run: [r["loss"] for r in csv.DictReader((tmp_path / run / "metrics.csv").open())]  # noqa: E731
    assert losses("straight") == losses("killed")[-10:]


HOSTILE = "import sys\nsys.exit('a project file named like ours was imported: {}')\n"


def hostile_project(tmp_path: Path) -> Path:
    """A user's project folder with its own train.py and eval.py, each failing loudly on import."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("train", "eval"):
        (project / f"{name}.py").write_text(HOSTILE.format(name))
    return project


def this_tree_first() -> dict[str, str]:
    """The environment with this checkout first on PYTHONPATH (no empty entry: that would be the
    working folder, the very thing under test)."""
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def test_module_launch_runs_a_users_own_train_py(tmp_path):
    """Why the docs launch through the console script: `-m train` puts the working folder first."""
    result = subprocess.run([sys.executable, "-m", "train", "--help"], cwd=hostile_project(tmp_path), capture_output=True,
                            text=True, timeout=60, env=this_tree_first())
    assert result.returncode != 0 and "named like ours was imported: train" in result.stderr


@pytest.mark.slow
def test_two_cpu_processes_train_and_save_one_checkpoint(workspace, tmp_path):
    """The documented launch (`accelerate launch --no_python frame-selector train ...`), run from a
    project whose own train.py would shadow `-m train`."""
    import socket

    script = Path(sys.executable).parent / "frame-selector"
    if not script.exists():
        pytest.skip("the frame-selector console script is not installed next to this Python")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    accelerate = Path(sys.executable).parent / "accelerate"
    out = tmp_path / "ddp"
    env = {**this_tree_first(), "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run(
        [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
         "--dynamo_backend", "no", "--main_process_port", str(port), "--no_python", str(script), "train",
         *overrides(workspace, out, max_steps=3, save_every=3, cpu="true")],
        capture_output=True, text=True, timeout=300, env=env, cwd=hostile_project(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "named like ours" not in result.stderr and "final selector:" in result.stdout
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-3"]
    assert len(list((out / "checkpoints" / "step-3").glob("random_states_*.pkl"))) == 2  # one per process
    FrameSelectorForFrameScoring.from_pretrained(out / "final")


CONFIGS = ROOT / "train" / "configs"


@pytest.mark.parametrize("path", sorted((CONFIGS / "accelerate").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_accelerate_configs_parse(path):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(path))
    assert config.num_processes >= 1 and config.distributed_type is not None


@pytest.mark.parametrize("name, stage, lr", [("stage1.yaml", 1, 1e-3), ("stage2.yaml", 2, 1e-5)])
def test_shipped_stage_configs_carry_the_paper_defaults(name, stage, lr):
    config = TrainConfig.load(str(CONFIGS / name))
    assert config.stage == stage and config.learning_rate == lr and config.batch_size == 128
    assert config.warmup_ratio == 0.03 and config.scheduler == "cosine"
    assert config.epochs == (2 if stage == 1 else 5)


def test_bad_settings_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown training setting"):
        TrainConfig.load(None, ["init_from=x", "labels=y", "learning_rte=1"])
    with pytest.raises(ValueError, match="must be a number"):
        TrainConfig.load(None, ["init_from=x", "labels=y", "epochs=many"])
    with pytest.raises(ValueError, match="init_from"):
        TrainConfig.load(None, ["labels=y"])
    assert subprocess.run([sys.executable, "-m", "train", "stage=3", "init_from=x", "labels=y"], capture_output=True).returncode == 2


def test_python_m_train_and_frame_selector_train_are_one_command(capsys, monkeypatch):
    """`accelerate launch -m train` and `accelerate launch --no_python frame-selector train` take the
    same options: `python -m train` runs the `frame-selector train` parser and command."""
    from selector.cli import main

    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    console = capsys.readouterr().out
    module = subprocess.run([sys.executable, "-m", "train", "--help"], capture_output=True, text=True, env=os.environ)
    assert module.returncode == 0 and module.stdout == console
    assert "--config CONFIG" in console and "key=value" in console
    bad = subprocess.run([sys.executable, "-m", "train", "--confg", "x.yaml"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unrecognized arguments: --confg" in bad.stderr


def test_next_token_targets_cover_only_the_answers(workspace):
    from train.data import FrameSource, InstructDataset, read_instructions

    processor = load_processor(workspace["selector"])
    tokenizer = processor.tokenizer
    model = FrameSelectorForFrameScoring.from_pretrained(workspace["selector"])
    source = FrameSource(FeatureCache(workspace["cache"], vision_fingerprint(model, processor)), 24)
    dataset = InstructDataset(read_instructions(workspace["instruct"], 4), source)
    item = dataset[1]  # two turns
    ids, targets = processor.conversation_ids(item["turns"])
    answers = tokenizer.decode([t for t in targets if t != -100])
    assert answers == "It gets brighter.<|im_end|>No.<|im_end|>"
    text = tokenizer.decode(ids)
    assert text.startswith("\nDescribe the video.<|im_end|>\n<|im_start|>assistant\nIt gets brighter.")
    assert item["frames"].shape[0] == 4


def test_cache_shards_split_the_work(workspace, tmp_path):
    from train.data import label_request
    from train.features import build_cache

    model = FrameSelectorForFrameScoring.from_pretrained(workspace["selector"])
    requests = [label_request(r) for r in read_labels(workspace["store"])]
    counts = [build_cache(model, load_processor(workspace["selector"]), requests, tmp_path, shard=i, num_shards=2, progress=False) for i in (0, 1)]
    assert sum(c["encoded"] for c in counts) == len({r.key for r in requests}) == 6
    assert all(c["encoded"] > 0 for c in counts)
