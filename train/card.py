"""The model card every trained selector folder carries (`README.md` with Hub metadata).

A checkpoint passed on without its run folder must still say what it is: what it started from,
which labels (and labellers) it learned from, how it was trained, and whether it reads the
question (validation against the swap control). The card is a plain `README.md` in the folder,
so uploading the folder to the Hub (`hf upload`, `HfApi.upload_folder`) publishes it as the
repository's card.
"""

from __future__ import annotations

import csv
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData
from huggingface_hub.utils import HFValidationError, validate_repo_id
from transformers import PreTrainedConfig

from selector.atomic import write_atomic
from selector.markdown import markdown_table

from .config import TrainConfig
from .labels import LabelReport

TAGS = ["video-frame-selection", "frame-selector", "video-question-answering"]
SETTINGS = ("stage", "epochs", "max_steps", "learning_rate", "scheduler", "warmup_ratio", "weight_decay", "batch_size",
            "micro_batch_size", "max_grad_norm", "also_without_options", "val_fraction", "seed")
STAGE_SETTINGS = {1: ("lm_ratio", "train_llm"),
                  2: ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "train_head", "train_projector")}
PAPER = "Hu et al., CVPR 2025, *M-LLM Based Video Frame Selection for Efficient Video Understanding*"


def _hub_id(name: str) -> bool:
    """Whether `name` can be a Hub model id (and is not a local folder): only those may be
    `base_model`, which the Hub checks."""
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return not Path(name).exists()


def _parts(model_config: PreTrainedConfig) -> dict[str, str]:
    """The vision tower's and the language model's names as `frame-selector init` recorded them."""
    names = {"vision tower": model_config.vision_config._name_or_path, "language model": model_config.text_config._name_or_path}
    return {part: name for part, name in names.items() if name}


def _base_models(init_from: str, model_config: PreTrainedConfig) -> list[str]:
    """The Hub ids this selector derives from: the checkpoint it started from when that is on the
    Hub, else the pretrained parts it was assembled from."""
    return [init_from] if _hub_id(init_from) else [name for name in _parts(model_config).values() if _hub_id(name)]


def _settings(config: TrainConfig, model_config: PreTrainedConfig) -> dict:
    """The settings that shaped the weights: the stage's, with the score loss actually used."""
    names = (*SETTINGS, *STAGE_SETTINGS[config.stage])
    return {**{name: getattr(config, name) for name in names}, "score_loss": model_config.score_loss}


def last_validation(metrics: Path) -> dict[str, float | int] | None:
    """The last validation in `metrics.csv` (its step and figures), or None when none ran."""
    if not metrics.is_file():
        return None
    rows = [row for row in csv.DictReader(metrics.open(newline="")) if row.get("val_bce")]
    if not rows:
        return None
    return {"step": int(rows[-1]["step"]), **{key: float(value) for key, value in rows[-1].items() if key.startswith("val_") and value}}


def _validation_section(validation: dict | None, config: TrainConfig) -> str:
    if validation is None:
        return "No validation ran (`eval_every=0`, or no video was held out).\n"
    k = config.recall_k
    rows = []
    for metric in ("hit@1", f"recall@{k}"):
        own, swapped = validation.get(f"val_{metric}"), validation.get(f"val_swapped_{metric}")
        gap = "" if own is None or swapped is None else f"{own - swapped:+.3f}"
        rows.append([metric, "" if own is None else f"{own:.3f}", "" if swapped is None else f"{swapped:.3f}", gap])
    table = markdown_table(["metric", "own question", "swap control (another video's question)", "gap"], rows, "lrrr")
    if not any(key.startswith("val_swapped_") for key in validation):
        table += "\n\nNo swap control: it needs at least two held-out videos with differently worded questions."
    return (f"At step {validation['step']}, on held-out videos ({config.val_fraction:g} of the store's videos), validation BCE "
            f"{validation['val_bce']:.4f}. The swap control asks each held-out item another video's question while its own "
            f"labels stay the target: a selector that reads the question falls well below its own figures under the swap.\n\n"
            f"{table}\n")


def _labels_section(labels: LabelReport) -> str:
    coverage = markdown_table(
        ["signal", "rows present", "of those varying"],
        [[name, c.rows, c.varying] for name, c in labels.coverage.items()] + [["trained label", labels.label.rows, labels.label.varying]],
        "lrr",
    )
    labellers = markdown_table(
        ["labeller", "backend", "model", "revision", "prompt version"],
        [[kind, m.get("backend", ""), m.get("model", ""), m.get("revision", ""), m.get("prompt_version", "")]
         for kind, models in labels.labellers.items() for m in models],
    ) if labels.labellers else "No model labelled these rows (spans from annotation only)."
    store_weights = "; ".join(", ".join(f"{k}={v:g}" for k, v in w.items()) for w in labels.store_weights) or "not recorded"
    return (f"- label store: `{labels.store}`\n- trained on: {labels.trained_on}, combining {', '.join(labels.signals)}\n"
            f"- the store's own label was made with weights {store_weights}\n"
            f"- {labels.rows} rows trained and validated on; {labels.failed} failed rows skipped, "
            f"{labels.without_signals} labelled rows without the asked signals skipped\n\n{coverage}\n\n"
            f"Labellers (from the provenance the rows carry):\n\n{labellers}\n")


def _usage(folder: Path, config: TrainConfig, adapter: bool) -> str:
    if adapter:
        return ("A LoRA adapter (peft) on the selector it was trained from (`selector_base.json`):\n\n```python\n"
                "from peft import PeftModel\nfrom selector import FrameSelectorForFrameScoring\n\n"
                f"model = PeftModel.from_pretrained(FrameSelectorForFrameScoring.from_pretrained({str(config.init_from)!r}), {str(folder)!r})\n```\n")
    return ("```python\nfrom selector import FrameSelector\n\n"
            f"selector = FrameSelector.from_pretrained({str(folder)!r})  # or the Hub repository it was uploaded to\n"
            "sel = selector.select(\"video.mp4\", \"When does the bunny come out?\", k=8)\n```\n")


def model_card(folder: Path, config: TrainConfig, labels: LabelReport, model_config: PreTrainedConfig,
               validation: dict | None, adapter: bool) -> ModelCard:
    """The card of one trained folder (`adapter`: stage 2's LoRA adapter, loaded with peft)."""
    parts = _parts(model_config)
    settings = _settings(config, model_config)
    data = ModelCardData(
        library_name="peft" if adapter else "frame-selector",
        tags=TAGS + (["lora"] if adapter else []),
        base_model=_base_models(str(config.init_from), model_config) or None,
        # No Hub pipeline fits: the model scores candidate frames for a question, it writes no text.
        frame_selector={"init_from": str(config.init_from), **{part.replace(" ", "_"): name for part, name in parts.items()},
                        "labels": labels.to_dict(), "training": settings, "validation": validation},
    )
    started = "".join(f"- {part}: `{name}`\n" for part, name in parts.items())
    body = (
        f"# Frame selector, stage {config.stage}{' LoRA adapter' if adapter else ''}\n\n"
        f"A question-aware video frame selector ({PAPER}): it scores every candidate frame of a video for a question "
        f"and hands the best k to a frozen video LLM. Trained by `frame-selector train`; this card was written with the weights.\n\n"
        f"## Use\n\n{_usage(folder, config, adapter)}\n"
        f"## Initialised from\n\n- checkpoint: `{config.init_from}`\n{started}\n"
        f"## Labels\n\n{_labels_section(labels)}\n"
        f"## Training\n\n{markdown_table(['setting', 'value'], [[k, v] for k, v in settings.items()])}\n\n"
        f"## Validation\n\n{_validation_section(validation, config)}"
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def write_model_card(folder: Path, *, config: TrainConfig, labels: LabelReport, model_config: PreTrainedConfig, metrics: Path,
                     adapter: bool) -> Path:
    """`folder/README.md`: the card, with the last validation in `metrics` (replacing any card a
    library wrote there)."""
    card = model_card(folder, config, labels, model_config, last_validation(metrics), adapter)
    path = Path(folder) / "README.md"
    write_atomic(path, str(card))
    return path


__all__ = ["model_card", "write_model_card", "last_validation"]
