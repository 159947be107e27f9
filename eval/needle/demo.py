"""`frame-selector demo`: the whole method on the needle world, end to end, on a laptop CPU.

1. render a training and a held-out world (`world.py`: `planning.py`, `rendering.py`);
2. label the training questions from their needle spans (what `frame-selector label` runs);
3. train the similarity baseline, a tiny SigLIP, contrastively on the training world's frame
   captions (`similarity.py`). It doubles as the selector's vision tower: the stand-in for a
   pretrained SigLIP, which cannot be downloaded here;
4. assemble the selector as `frame-selector init --vision --llm` does (that tower and a
   random small Qwen2), cache the frozen tower's features (`frame-selector cache`), and train it
   with the real two-stage code (`frame-selector train`): stage 1 trains the projector, the score
   query and head *and the whole language model* (it is random, not pretrained) on the score
   loss (`--lm-ratio` alternates it with a next-token loss on needle descriptions, as the paper
   does); stage 2 adds LoRA, score loss only;
5. evaluate uniform, similarity, selector top-k and selector NMS, plus the label ceiling, on the
   held-out questions at several k, and the question-swap control (the selector asked another
   video's question of the same kind, worded differently), and write a report;
6. ask the same selector about a harder held-out world (about twice the unasked events), and
   print where the run's figures fall among the reference seeds' (`reference.py`).

Every stage calls the functions behind the commands a user runs, with their settings objects, so
the demo exercises the real paths.
Each step is skipped when its output exists: an interrupted demo resumes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from selector.cli_support import int_tuple_option
from selector.score_names import ScoreLoss, ScoreReadout

from .folder import claim_folder
from .labeller_settings import LabellerSettings

if TYPE_CHECKING:
    from .planning import WorldSettings

# torch, the world's renderer and the steps load inside the functions that run the demo, so that
# `frame-selector demo --help` reads DemoSettings at once.


@dataclass
class DemoSettings:
    """Sizes of a demo run; the defaults finish in under 10 minutes on 2 CPU cores."""

    seed: int = field(default=0, metadata={"help": "world, model and training seed"})
    train_videos: int = 240
    test_videos: int = 40
    candidates: int = 128
    ks: tuple[int, ...] = field(default=(2, 4, 8, 16, 32), metadata={"parse": int_tuple_option(), "help": "comma-separated k values to compare"})
    readout: ScoreReadout = field(default="frame_match", metadata={
        "help": "score read-out: frame_match (ours) or query_mlp (the paper's)"})
    # "world": the tower is the similarity baseline's SigLIP, pretrained contrastively on the training
    # world's frame captions (our stand-in for a pretrained SigLIP, frozen as in the paper); "random":
    # a frozen random tower, with which the selector learns only where *something* happens.
    tower: Literal["world", "random"] = field(default="world", metadata={
        "help": "vision tower: world (the similarity baseline's SigLIP, pretrained on this world's captions) or random "
                "(frozen random; the selector then ignores the question)"})
    image_size: int = 32  # the random tower's; the world tower has the similarity model's own
    # The world: every video is asked all four kinds, beside 3-6 events no question asks about, so
    # that at small k a question-blind event detector cannot cover the evidence; training videos
    # also get `extra_questions` about their other events (labels come free with the spans).
    questions_per_video: int = 4
    fillers: tuple[int, int] = field(default=(3, 6), metadata={"cli": False})
    extra_questions: int = 6
    # What makes the from-scratch selector read the question (docs/question-awareness.md): the
    # listwise loss, the final normed state as the read-out's input, and the width-scaled init of
    # `selector.tiny` (the LLM, the projector and the head follow its initializer_range).
    score_loss: ScoreLoss = "listwise"
    score_layer: int = -1
    # Each training question is asked with its options and without them, so the selector reads
    # both (`also_without_options`); an epoch is then twice as long.
    stage1_epochs: float = 3.0
    stage1_lr: float = 1e-3  # 3e-3 (the old demo's) leaves the width-scaled init stuck at the label prior
    stage2_epochs: float = 0.5
    stage2_lr: float = 1e-3
    batch_size: int = 16
    # Next-token steps per score step in stage 1 (the paper alternates them). 0 here: they train
    # the random LLM to recite 240 event lists, and with them the selector reached validation hit@1
    # 0.25 after 300 steps against 0.46 without (docs/question-awareness.md). `--lm-ratio 0.5`
    # runs the paper's alternation.
    lm_ratio: float = 0.0
    # The tower (and similarity baseline): at lr 1e-2 and 800 steps its loss ended anywhere from
    # 1.5 to 2.8 with the last bits of its input, and a linear probe read a needle's shape at 0.71;
    # at 3e-3 and 1600 steps the loss ends near 0.5 and the probe reads 0.93.
    similarity_steps: int = 1600
    similarity_lr: float = 3e-3
    vision: dict = field(default_factory=lambda: {"hidden_size": 48, "intermediate_size": 96, "patch_size": 4}, metadata={"cli": False})
    # A random Qwen2 of this size, initialised at 1/sqrt(width) by `selector.tiny` (the demo's
    # question-awareness was measured at this size: docs/question-awareness.md).
    text: dict = field(default_factory=lambda: {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 4,
                                                "num_attention_heads": 4, "num_key_value_heads": 2}, metadata={"cli": False})
    pool_size: int = 1  # one token a frame: as good as 2x2 here (recall@8 0.95 both) and 3.5x faster to train
    # With the world tower, that token is the tower's own pooling head (the embedding its contrastive
    # training shaped), not an average of its patch tokens; the random tower has no head.
    frame_pooling: Literal["grid", "head"] = "head"

    # A harder held-out world of the same generator, asked of the selector trained on the demo's:
    # about twice the unasked events a video (so longer videos, for them to fit). 0 videos skips it.
    harder_videos: int = 40
    harder_fillers: tuple[int, int] = field(default=(7, 12), metadata={"cli": False})
    harder_seconds: tuple[float, float] = field(default=(45.0, 60.0), metadata={"cli": False})
    # torch threads for every step. Fixed rather than one per core, so that a machine with more
    # cores sums floats in the same order as the one the README's figures came from; one, because
    # the models are too small for a second thread to pay (and seeds can then run side by side).
    threads: int = field(default=1, metadata={"help": "torch threads (the reference figures were measured at 1)"})

    # What the selector learns from. "pseudo" is the paper's method: a Qwen2-VL and a Qwen2 text LLM,
    # trained by the demo on a labeller split of their own (`labellers.py`), label the training
    # questions through `frame-selector label --spatial hf --captioner hf --temporal hf`, and the
    # selector learns the mean of the spatial and temporal labels. "spans" learns the world's
    # ground-truth spans (human annotation, in a real data set).
    labels: Literal["pseudo", "spans"] = field(default="spans", metadata={
        "help": "pseudo: labels made by the demo's own VLM and text LLM (the paper's method); spans: the ground truth"})
    labeller_videos: int = 120
    labeller: LabellerSettings = field(default_factory=LabellerSettings, metadata={"cli": False})

    def world(self, videos: int, split: str) -> WorldSettings:
        from .planning import WorldSettings

        settings = WorldSettings(videos=videos, seed=self.seed, questions_per_video=self.questions_per_video, fillers=self.fillers,
                                 extra_questions=self.extra_questions if split in ("train", "labeller") else 0)
        if split == "harder":
            return replace(settings, fillers=self.harder_fillers, min_seconds=self.harder_seconds[0], max_seconds=self.harder_seconds[1])
        return settings


def _instructions(manifest: Path, out: Path) -> Path:
    """Stage-1 next-token data: each training video with the list of its needle events, in order."""
    from .world import read_questions

    lines, videos = [], set()
    for row in read_questions(manifest):
        if row["video"] in videos:
            continue
        videos.add(row["video"])
        events = [f"a card showing {e['colour']}" if e["shape"] == "card" else f"a {e['colour']} {e['shape']}" for e in row["needle_events"]]
        lines.append({"video": row["video"], "conversations": [
            {"from": "human", "value": "Which objects appear, in order?"},
            {"from": "gpt", "value": ", then ".join(events) + "."},
        ]})
    out.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return out


class Steps:
    """Runs named steps once, recording their wall time; a step whose output exists is skipped."""

    def __init__(self, log: Callable[[str], None]):
        self.seconds: dict[str, float] = {}
        self.log = log

    def __call__(self, name: str, output: Path, fn: Callable[[], Any]) -> None:
        if output.exists():
            self.log(f"[{name}] done before: {output}")
            return
        self.log(f"[{name}] ...")
        started = time.perf_counter()
        fn()
        self.seconds[name] = round(time.perf_counter() - started, 1)
        self.log(f"[{name}] {self.seconds[name]:.1f} s")


def run_demo(out: str | Path, settings: DemoSettings, progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """Run (or finish) the demo under `out`; returns the summary also written to summary.json."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        return _run_demo(Path(out), settings, progress, log)
    finally:
        torch.set_num_threads(previous)


def _run_demo(out: Path, settings: DemoSettings, progress: bool, log: Callable[[str], None]) -> dict:
    import torch

    from pseudolabel.cli import LabelCommandSettings, MergeSettings, cmd_label, cmd_merge
    from selector.cli import InitSettings, cmd_init
    from selector.tiny import build_tiny_selector
    from train.cli import CacheSettings, cmd_cache

    from ..choosers import make_chooser
    from .evaluate import format_table, own_where_controlled, summarize
    from .reference import compare_to_reference, spans_figures
    from .report import headline, write_report
    from .similarity import train_similarity_model
    from .world import build_world, read_questions

    # k only picks what is evaluated, and results are kept per k: adding one resumes cleanly.
    claim_folder(out, {key: value for key, value in asdict(settings).items() if key != "ks"}, "demo run", "use another --out or --fresh")
    torch.manual_seed(settings.seed)
    steps = Steps(log)
    world = out / "world"
    train_manifest, test_manifest = world / "train" / "questions.jsonl", world / "test" / "questions.jsonl"
    steps("world", test_manifest, lambda: (build_world(world, settings.world(settings.train_videos, "train"), "train", progress),
                                          build_world(world, settings.world(settings.test_videos, "test"), "test", progress)))

    def label_from_spans(manifest: Path, store: Path) -> None:
        cmd_label(LabelCommandSettings(out=str(store), manifest=str(manifest), spatial="none", captioner="none", temporal="none",
                                       span_mode="overlap", weights="spans=1", candidates=str(settings.candidates),
                                       no_progress=not progress))
        cmd_merge(MergeSettings(out=str(store)))

    if settings.labels == "pseudo":
        labellers = _train_labellers(world, out / "labellers", settings, steps, progress)
        steps("label", out / "labels" / "labels.parquet", lambda: label_with_models(train_manifest, out / "labels", labellers, settings, progress))
    else:
        steps("label", out / "labels" / "labels.parquet", lambda: label_from_spans(train_manifest, out / "labels"))
    steps("label held-out", out / "labels-test" / "labels.parquet", lambda: label_from_spans(test_manifest, out / "labels-test"))
    similarity = out / "similarity"
    steps("similarity baseline", similarity / "config.json", lambda: train_similarity_model(
        train_manifest, similarity, steps=settings.similarity_steps, lr=settings.similarity_lr, seed=settings.seed, progress=progress))
    init = out / "selector-init"
    heads = dict(max_candidates=settings.candidates, pool_size=settings.pool_size, score_readout=settings.readout,
                 score_layer=settings.score_layer, score_loss=settings.score_loss)

    def build_random_init() -> None:
        model, processor = build_tiny_selector(
            seed=settings.seed, vision={**settings.vision, "image_size": settings.image_size}, text=settings.text, **heads)
        model.save_pretrained(init)
        processor.save_pretrained(init)

    def build_world_init() -> None:
        # A random language model of the demo's size, then the real `init` that assembles a
        # selector from a SigLIP checkpoint and a causal LM, as it would from hub checkpoints.
        model, processor = build_tiny_selector(seed=settings.seed, text=settings.text)
        model.language_model.save_pretrained(out / "llm-init")
        processor.tokenizer.save_pretrained(out / "llm-init")
        cmd_init(InitSettings(out=str(init), vision=str(similarity), llm=str(out / "llm-init"), dtype="float32", seed=settings.seed,
                              force=True, frame_pooling=settings.frame_pooling, **heads))

    steps("init", init / "config.json", build_world_init if settings.tower == "world" else build_random_init)
    instruct = out / "instruct.jsonl"
    steps("instructions", instruct, lambda: _instructions(train_manifest, instruct))
    features = out / "features"
    steps("feature cache", features, lambda: cmd_cache(CacheSettings(
        labels=str(out / "labels"), model=str(init), out=str(features), instruct=str(instruct), instruct_frames=16,
        no_progress=not progress)))
    selector = train_selector(out, out, settings, steps, progress)
    choosers = {
        "uniform": make_chooser("uniform"),
        "similarity top-k": make_chooser(f"siglip:{similarity}", device="cpu"),
        "similarity NMS": make_chooser(f"siglip:{similarity},nms=1", device="cpu"),
        "selector top-k": make_chooser(f"selector:{selector},rule=topk", device="cpu"),
        "selector NMS": make_chooser(f"selector:{selector}", device="cpu"),
        "label ceiling": make_chooser(f"oracle:{out / 'labels-test'},rule=nms"),
    }
    started = time.perf_counter()
    rows = read_questions(test_manifest)
    results = _evaluate(rows, choosers, out / "results.jsonl", settings, progress)
    steps.seconds["evaluate"] = round(time.perf_counter() - started, 1)
    harder = None
    if settings.harder_videos:
        harder_manifest = world / "harder" / "questions.jsonl"
        steps("harder world", harder_manifest, lambda: build_world(world, settings.world(settings.harder_videos, "harder"), "harder", progress))
        steps("label harder", out / "labels-harder" / "labels.parquet", lambda: label_from_spans(harder_manifest, out / "labels-harder"))
        started = time.perf_counter()
        on_harder = {name: choosers[name] for name in ("uniform", "similarity NMS", "selector NMS")}
        on_harder["label ceiling"] = make_chooser(f"oracle:{out / 'labels-harder'},rule=nms")
        harder_results = _evaluate(read_questions(harder_manifest), on_harder, out / "results-harder.jsonl", settings, progress)
        harder = summarize([*harder_results, *own_where_controlled(harder_results)])
        steps.seconds["evaluate harder"] = round(time.perf_counter() - started, 1)
    # A resumed run only finishes what was left; steps timed by the first complete run keep its figures.
    before = json.loads((out / "summary.json").read_text())["seconds"] if (out / "summary.json").exists() else {}
    summary = {"settings": asdict(settings), "seconds": {**steps.seconds, **before}, "questions": len(rows),
               "choosers": summarize([*results, *own_where_controlled(results)])}
    if harder is not None:
        summary["harder"] = harder
    if settings.labels == "pseudo":
        summary["labellers"] = json.loads((out / "labellers" / "quality.json").read_text())
        summary["spans_reference"] = spans_figures(summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    started = time.perf_counter()
    write_report(out, summary, rows, results)
    summary["seconds"].setdefault("report", round(time.perf_counter() - started, 1))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    trained_on = "pseudo-labels (mean of spatial and temporal)" if settings.labels == "pseudo" else "the spans"
    log(f"\nthe selector trained on {trained_on}: does it read the question? evidence recall@k, own question against "
        "another video's (the swap control):")
    log(format_table(headline(summary["choosers"]), "recall"))
    if settings.labels == "pseudo":
        for line in _pseudo_lines(summary):
            log(line)
    log("\nevidence recall@k on held-out questions (all needed needles among the k chosen frames):")
    log(format_table(summary["choosers"], "recall"))
    log("\noracle-reader accuracy@k (answers right iff it saw the evidence; a guess counts 1/options):")
    log(format_table(summary["choosers"], "accuracy"))
    if harder is not None:
        log(f"\nthe harder world ({settings.harder_fillers[0]}-{settings.harder_fillers[1]} unasked events a video), the same selector:")
        log(format_table(headline(harder), "recall"))
    log("")
    for line in compare_to_reference(summary):
        log(line)
    log(f"\nreport: {out / 'report.md'}")
    return summary


def train_selector(out: Path, work: Path, settings: DemoSettings, steps: Steps, progress: bool,
                   label_weights: dict[str, float] | None = None) -> Path:
    """Both training stages (`frame-selector train`) of the selector assembled under `out`, on its
    label store and feature cache, in `work`/stage1 and stage2; `label_weights` recombines the
    store's signals (default: its own label). Returns the final selector."""
    from train.config import TrainConfig
    from train.loop import train

    common = dict(labels=str(out / "labels"), features=str(out / "features"), batch_size=settings.batch_size,
                  micro_batch_size=settings.batch_size, seed=settings.seed, num_workers=0, val_fraction=0.05, save_every=100,
                  eval_every=100, warmup_ratio=0.05, also_without_options=True, progress=progress, label_weights=label_weights or {})
    stage1, stage2 = work / "stage1", work / "stage2"
    named = "" if work == out else f" ({work.name})"
    steps(f"train stage 1{named}", stage1 / "final", lambda: train(TrainConfig.load(
        stage=1, init_from=str(out / "selector-init"), instruct=str(out / "instruct.jsonl"), output_dir=str(stage1), train_llm=True,
        epochs=settings.stage1_epochs, learning_rate=settings.stage1_lr, lm_ratio=settings.lm_ratio, **common)))
    steps(f"train stage 2{named}", stage2 / "final", lambda: train(TrainConfig.load(
        stage=2, init_from=str(stage1 / "final"), output_dir=str(stage2), epochs=settings.stage2_epochs,
        learning_rate=settings.stage2_lr, **common)))
    return stage2 / "final"


def _pseudo_lines(summary: dict) -> list[str]:
    """The labellers' held-out quality, and the same seed's selector trained on spans."""
    quality = summary["labellers"]
    lines = ["\nthe labellers on the held-out videos: spatial ROC AUC {spatial_auc:.3f}; captions naming the needle {caption_needle:.3f}, "
             "empty frames {caption_background:.3f}; temporal precision {temporal_precision:.3f}, recall of needed needles "
             "{temporal_recall:.3f} ({temporal_frames_named} frames named a question)".format(**quality)]
    spans = summary["spans_reference"]
    if spans is None:
        lines.append("no reference run trained on spans for these settings: run again with --labels spans to compare")
    else:
        lines.append("the same seed's selector trained on the spans instead (reference.json): "
                     + "; ".join(f"{label} {value:.3f}" for label, value in spans.items()))
    return lines


def _train_labellers(world: Path, out: Path, settings: DemoSettings, steps: Steps, progress: bool) -> dict[str, Path]:
    """Render the labeller split, train the VLM and the text LLM on it, and measure both on the
    held-out split's spans (`labellers/quality.json`); returns their folders."""
    from .labellers import labeller_quality, load_videos, train_text_llm, train_vlm, training_examples
    from .world import build_world

    manifest = world / "labeller" / "questions.jsonl"
    steps("labeller world", manifest, lambda: build_world(world, settings.world(settings.labeller_videos, "labeller"), "labeller", progress))
    labeller = replace(settings.labeller, seed=settings.seed, candidates=settings.candidates)
    videos: list = []

    def labeller_videos() -> list:
        videos[:] = videos or load_videos(manifest, labeller.candidates, progress)
        return videos

    paths = {"vlm": out / "vlm", "text_llm": out / "text-llm"}
    steps("labeller VLM", paths["vlm"] / "config.json", lambda: train_vlm(labeller_videos(), paths["vlm"], labeller, progress))
    steps("labeller text LLM", paths["text_llm"] / "config.json",
          lambda: train_text_llm(training_examples(labeller_videos(), labeller.prompt_lengths()),
                                 paths["text_llm"], labeller, progress))
    held_out = world / "test" / "questions.jsonl"
    steps("labeller quality", out / "quality.json", lambda: (out / "quality.json").write_text(json.dumps(
        labeller_quality(paths["vlm"], paths["text_llm"], load_videos(held_out, labeller.candidates, progress), progress), indent=2)))
    return paths


def label_with_models(manifest: Path, store: Path, labellers: dict[str, Path], settings: DemoSettings, progress: bool) -> None:
    """`frame-selector label` with every model in-process: the paper's label, the mean of the
    spatial and the temporal signal (the spans are stored beside them, weighted 0)."""
    from pseudolabel.cli import LabelCommandSettings, MergeSettings, cmd_label, cmd_merge

    cmd_label(LabelCommandSettings(
        out=str(store), manifest=str(manifest), candidates=str(settings.candidates), device="cpu", batch_size=settings.candidates,
        spatial="hf", spatial_model=str(labellers["vlm"]), spatial_mode="direct", captioner="hf", captioner_model=str(labellers["vlm"]),
        temporal="hf", temporal_model=str(labellers["text_llm"]), span_mode="overlap", weights="spatial=1,temporal=1",
        no_progress=not progress))
    cmd_merge(MergeSettings(out=str(store)))


def _evaluate(rows: list[dict], choosers: dict, results: Path, settings: DemoSettings, progress: bool) -> list[dict]:
    """Every chooser at every k on `rows`, then the swap control (the selector asked another
    video's question of the same kind); returns every result in `results`."""
    from selector import CandidatePlan

    from .evaluate import CONTROL, evaluate_choosers, with_other_questions

    candidates = CandidatePlan(n=settings.candidates)
    evaluate_choosers(rows, choosers, settings.ks, candidates, results, progress)
    return evaluate_choosers(with_other_questions(rows), {CONTROL: choosers["selector NMS"]}, settings.ks, candidates, results, progress)


__all__ = ["DemoSettings", "Steps", "label_with_models", "run_demo", "train_selector"]
