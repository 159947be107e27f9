"""Hand-off to downstream models, offline: the real processor classes (and tiny random models of
the real classes) built from parts, selections on the bundled videos, and checks that the times
each model is told are the selection's true times, that the visual budget of the model's video
path is kept, and that the OpenAI / vLLM requests and the file export carry the right frames."""

from __future__ import annotations

import base64
import io
import json
import math
import re

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import (
    LlavaOnevisionConfig,
    LlavaOnevisionForConditionalGeneration,
    LlavaOnevisionImageProcessor,
    LlavaOnevisionProcessor,
    LlavaOnevisionVideoProcessor,
    Qwen2VLVideoProcessor,
    Qwen3VLVideoProcessor,
)

from selector import FrameSelector, probe, read_frames
from selector.api import ScoredFrame, Selection
from selector.frames import Frame
from selector.handoff import (
    ROUTES,
    TARGETS,
    HandoffInputs,
    PixelBudget,
    export_frames,
    frames_for,
    hand_off,
    load_sidecar,
    openai_messages,
    prepare_inputs,
    printed_times,
    target_of,
    to_inputs,
    video_plan,
    vllm_video_messages,
)
from selector.tiny import build_tiny_selector, build_tiny_tokenizer
from tests.support.fake_openai import FakeOpenAI
from tests.support.paths import VIDEOS

BUNNY = VIDEOS / "moviepy__big_buck_bunny_0_30.webm"  # 720 frames, 24 fps, 30 s, 1280x720
VFR = VIDEOS / "torchcodec__var_fps_video.mp4"  # variable frame rate: index / fps is off by up to 0.5 s
LATE = VIDEOS / "mediabunny__rotate-buck-bunny.mp4"  # rotated, first frame at 0.083 s
QUESTION = "When does the bunny come out of its burrow?"
NON_UNIFORM = [12, 40, 210, 300, 310, 531, 600, 700]  # k=8, gaps from 0.4 s to 9.2 s
UNIFORM = [45 + 90 * i for i in range(8)]  # every 3.75 s


def selection(info, indices, question=QUESTION, rule="hand") -> Selection:
    """A hand-made selection with the frames' true presentation times."""
    frames = [
        ScoredFrame(candidate=c, index=int(i), seconds=float(info.timestamps[i]), fps=info.fps, score=0.5 + 0.01 * c)
        for c, i in enumerate(indices)
    ]
    candidates = [Frame(f.candidate, f.index, f.seconds, f.fps) for f in frames]
    settings = {"rule": rule, "delta": None, "plan": {"kind": "hand"}, "model": "test"}
    return Selection(info.path, question, len(frames), frames, [f.score for f in frames], candidates, settings)


def pair_means(seconds: list[float]) -> list[float]:
    """Qwen3-VL's time of each temporal patch of two frames: the mean of the pair (odd last: itself)."""
    padded = list(seconds) + ([seconds[-1]] if len(seconds) % 2 else [])
    return [(padded[i] + padded[i + 1]) / 2 for i in range(0, len(padded), 2)]


def visual_tokens(inputs, processor) -> int:
    ids = inputs["input_ids"][0]
    tok = processor.tokenizer
    return sum(int((ids == tok.convert_tokens_to_ids(t)).sum()) for t in (processor.image_token, processor.video_token))


def decoded(inputs, processor) -> str:
    text = processor.tokenizer.decode(inputs["input_ids"][0])
    return re.sub(r"(<\|(?:image|video)_pad\|>)+", "<pads>", text)


# --- fixtures: videos, tiny processors and models (the Qwen ones are in conftest.py) ---------


@pytest.fixture(scope="module")
def bunny():
    return probe(BUNNY)


LLAVA_OV_CHAT_TEMPLATE = (  # llava-hf/llava-onevision-qwen2-*-hf: media first, then "\n" + each text
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + ' '}}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ '\n' + content['text'] }}{% endfor %}"
    "{{'<|im_end|>\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def llava():
    tok = build_tiny_tokenizer()
    tok.add_tokens(["<image>", "<video>"], special_tokens=True)
    # SigLIP 28x28 with 14-pixel patches: 4 tokens a frame, pooled to 1, plus one newline a video.
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size={"height": 28, "width": 28}, image_grid_pinpoints=[[28, 28]]),
        tokenizer=tok,
        video_processor=LlavaOnevisionVideoProcessor(size={"height": 28, "width": 28}),
        num_image_tokens=4,
        vision_feature_select_strategy="full",
        chat_template=LLAVA_OV_CHAT_TEMPLATE,
    )
    config = LlavaOnevisionConfig(
        vision_config=dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                           num_attention_heads=4, image_size=28, patch_size=14),
        text_config=dict(model_type="qwen2", vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
                         pad_token_id=tok.pad_token_id),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        video_token_id=tok.convert_tokens_to_ids("<video>"),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_grid_pinpoints=[[28, 28]],
    )
    torch.manual_seed(0)
    return LlavaOnevisionForConditionalGeneration(config).eval(), processor


def generates(model, inputs) -> None:
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=2, do_sample=False)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 2 or out.shape[1] > inputs["input_ids"].shape[1]


# --- Qwen3-VL: <t seconds> from the metadata --------------------------------------------------


@pytest.mark.parametrize("indices", [NON_UNIFORM, NON_UNIFORM[:7]], ids=["k8", "k7-odd"])
def test_qwen3_prints_true_times_from_source_indices_and_fps(qwen3, bunny, indices):
    model, processor = qwen3
    sel = selection(bunny, indices)
    inputs = to_inputs(sel, processor, info=bunny)
    meta = inputs.handoff["video_metadata"]
    assert inputs.handoff["mode"] == "video" and meta["clock"] == "source"
    assert meta["frames_indices"] == indices and meta["fps"] == pytest.approx(bunny.fps)
    assert meta["total_num_frames"] == bunny.num_frames
    text = decoded(inputs, processor)
    printed = printed_times(text)
    # One timestamp per temporal patch of two frames, the mean of the pair, to one decimal.
    assert len(printed) == math.ceil(len(indices) / 2) == int(inputs["video_grid_thw"][0, 0])
    assert [f"{t:.1f}" for t in printed] == inputs.handoff["prompt_times"]
    # Printed with one decimal, from index / fps (here within 4 ms of the container's times).
    assert printed == pytest.approx(pair_means(sel.seconds), abs=0.05 + meta["source_clock_error"] + 1e-6)
    assert re.search(r"<\d+\.\d seconds><\|vision_start\|><pads><\|vision_end\|>", text)
    generates(model, inputs)


def test_qwen3_repeat_mode_gives_every_frame_its_own_time_within_the_budget(qwen3, bunny):
    model, processor = qwen3
    sel = selection(bunny, NON_UNIFORM)
    native = to_inputs(sel, processor, info=bunny)
    repeat = to_inputs(sel, processor, info=bunny, mode="repeat")
    slack = 0.05 + repeat.handoff["video_metadata"]["source_clock_error"] + 1e-6
    assert printed_times(decoded(repeat, processor)) == pytest.approx(sel.seconds, abs=slack)
    assert int(repeat["video_grid_thw"][0, 0]) == len(NON_UNIFORM)
    assert visual_tokens(repeat, processor) == repeat.handoff["visual_tokens"]
    assert visual_tokens(repeat, processor) <= visual_tokens(native, processor) == native.handoff["budget"]["video_tokens"]
    generates(model, repeat)
    images = to_inputs(sel, processor, info=bunny, mode="images")
    assert images.handoff["prompt_times"] == [f"{t:.1f}" for t in sel.seconds]
    assert visual_tokens(images, processor) <= native.handoff["budget"]["video_tokens"]
    one = to_inputs(selection(bunny, [300]), processor, info=bunny)  # one frame: repeated, not refused
    assert one.handoff["mode"] == "repeat" and printed_times(decoded(one, processor)) == [pytest.approx(12.5, abs=0.05)]


@pytest.mark.parametrize("video", [VFR, LATE], ids=["vfr", "late-start"])
def test_qwen3_pts_clock_where_index_over_fps_is_wrong(qwen3, video):
    _, processor = qwen3
    info = probe(video)
    n = info.num_frames
    sel = selection(info, sorted({int(n * f) for f in (0.02, 0.1, 0.15, 0.4, 0.55, 0.6, 0.9, 0.97)}))
    inputs = to_inputs(sel, processor, info=info)
    assert inputs.handoff["video_metadata"]["clock"] == "pts"
    assert printed_times(decoded(inputs, processor)) == pytest.approx(pair_means(sel.seconds), abs=0.05 + 1e-6)
    naive = to_inputs(sel, processor, info=info, clock="source")  # what index / fps would have said
    errors = np.abs(np.asarray(printed_times(decoded(naive, processor))) - pair_means(sel.seconds))
    assert errors.max() > 0.06


# --- Qwen2.5-VL / Qwen2-VL: one time scalar, so non-uniform selections go as images ------------


def test_qwen25_non_uniform_goes_as_timed_images_within_the_video_budget(qwen25, bunny):
    model, processor = qwen25
    sel = selection(bunny, NON_UNIFORM)
    inputs = to_inputs(sel, processor, info=bunny)
    assert inputs.handoff["mode"] == "images" and not inputs.handoff["uniform"]
    assert "pixel_values_videos" not in inputs and "second_per_grid_ts" not in inputs
    assert inputs["image_grid_thw"].shape[0] == len(NON_UNIFORM)
    text = decoded(inputs, processor)
    written = [float(t) for t in re.findall(r"Frame at (\d+\.\d+) s: <\|vision_start\|><pads><\|vision_end\|>", text)]
    assert written == pytest.approx(sel.seconds, abs=0.05 + 1e-6)
    plan = inputs.handoff["budget"]
    assert visual_tokens(inputs, processor) == inputs.handoff["visual_tokens"] <= plan["video_tokens"]
    assert plan["video_tokens"] == video_plan(processor.video_processor, 8, bunny.width, bunny.height)["tokens"]
    generates(model, inputs)
    with pytest.raises(ValueError, match="second_per_grid_ts"):
        to_inputs(sel, processor, info=bunny, mode="video")


def test_qwen25_uniform_goes_as_video_with_the_true_spacing(qwen25, bunny):
    model, processor = qwen25
    sel = selection(bunny, UNIFORM)
    inputs = to_inputs(sel, processor, info=bunny)
    gap = (sel.seconds[-1] - sel.seconds[0]) / 7
    assert inputs.handoff["mode"] == "video" and inputs.handoff["uniform"]
    assert float(inputs["second_per_grid_ts"][0]) == pytest.approx(2 * gap, rel=1e-5)  # 7.5 s per patch of two frames
    assert inputs.handoff["video_metadata"]["frames_indices"] == UNIFORM
    assert "from 1.9 s to 28.1 s, one every 3.75 s" in decoded(inputs, processor)
    assert visual_tokens(inputs, processor) == inputs.handoff["visual_tokens"] == inputs.handoff["budget"]["video_tokens"]
    generates(model, inputs)
    # A uniform selection over part of the video: the processor's value (from the average fps of
    # the frames over the whole video) would be 2 * 30 s / 4 = 15 s per patch; the truth is 1 s.
    part = to_inputs(selection(bunny, [24, 36, 48, 60]), processor, info=bunny)
    assert part.handoff["processor_second_per_grid_ts"] == [pytest.approx(15.0, rel=1e-3)]
    assert float(part["second_per_grid_ts"][0]) == pytest.approx(1.0, rel=1e-4)


def test_qwen2_vl_text_times_and_generation(qwen2, bunny):
    model, processor = qwen2
    images = to_inputs(selection(bunny, NON_UNIFORM), processor, info=bunny)
    assert images.handoff["target"] == "qwen2_vl" and images.handoff["mode"] == "images"
    assert images.handoff["prompt_times"] == [f"{bunny.timestamps[i]:.1f}" for i in NON_UNIFORM]
    generates(model, images)
    video = to_inputs(selection(bunny, UNIFORM), processor, info=bunny)
    assert video.handoff["mode"] == "video" and "second_per_grid_ts" not in video
    generates(model, video)


# --- pixel budget ------------------------------------------------------------------------------


@pytest.mark.parametrize("cap", [False, True])
@pytest.mark.parametrize("kind", ["qwen2", "qwen3"])
def test_video_plan_is_what_the_processor_itself_does(bunny, kind, cap):
    """The default budget reproduces the processor's own resize of full-size frames (real
    default settings), so the hand-off spends exactly what the model's video path would."""
    vp = Qwen2VLVideoProcessor() if kind == "qwen2" else Qwen3VLVideoProcessor()
    if cap:
        vp.max_video_tokens = 64 if kind == "qwen3" else 600  # make the cap bind at this size
    vp.cap_pixels_per_frame = cap
    frames = read_frames(bunny, UNIFORM, size=(640, 360))
    out = vp(videos=[frames], do_sample_frames=False, return_tensors="pt", cap_pixels_per_frame=cap)
    t, gh, gw = out["video_grid_thw"][0].tolist()
    plan = video_plan(vp, len(UNIFORM), 640, 360)
    assert plan["frame_size"] == [gw * vp.patch_size, gh * vp.patch_size]
    assert plan["tokens"] == t * gh * gw // vp.merge_size**2


def test_budget_overrides_and_max_frames(qwen25, bunny):
    _, processor = qwen25
    sel = selection(bunny, NON_UNIFORM)
    small = to_inputs(sel, processor, info=bunny, budget=PixelBudget(max_pixels=56 * 56))
    assert small.handoff["budget"]["video_frame_size"] == [56, 28]  # 16:9 within 56*56 pixels
    assert small.handoff["budget"]["video_tokens"] == 4 * 1 * 2  # 4 temporal patches of 1x2 tokens
    assert visual_tokens(small, processor) <= 8
    total = to_inputs(sel, processor, info=bunny, budget={"total_pixels": 8 * 28 * 28})  # 8 tokens in all
    assert visual_tokens(total, processor) <= 8 + len(NON_UNIFORM)  # >= 1 token an image
    with pytest.raises(ValueError, match="max_frames"):
        to_inputs(sel, processor, info=bunny, budget=PixelBudget(max_frames=4))


# --- LLaVA-OneVision / LLaVA-Video ----------------------------------------------------------------


def test_llava_time_instruction_is_rewritten_for_a_selection(llava, bunny):
    model, processor = llava
    sel = selection(bunny, NON_UNIFORM)
    inputs = to_inputs(sel, processor, info=bunny)
    times = ",".join(f"{bunny.timestamps[i]:.2f}s" for i in NON_UNIFORM)
    expected = (f"The video lasts for {bunny.duration:.2f} seconds, and 8 frames are selected from it. "
                f"These frames are located at {times}.Please answer the following questions related to this video.")
    text = processor.tokenizer.decode(inputs["input_ids"][0])
    assert f"<video>\n{expected}\n{QUESTION}<|im_end|>" in text.replace("<video>" * 9, "<video>")
    assert "uniformly" not in text
    assert tuple(inputs["pixel_values_videos"].shape) == (1, 8, 3, 28, 28)
    assert visual_tokens(inputs, processor) == inputs.handoff["visual_tokens"] == 8 + 1
    generates(model, inputs)
    uniform = to_inputs(selection(bunny, UNIFORM), processor, info=bunny)
    assert "8 frames are uniformly sampled from it" in uniform.prompt


# --- OpenAI-compatible servers ------------------------------------------------------------------


def _jpeg(url: str) -> Image.Image:
    assert url.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_openai_messages_structure_and_round_trip(bunny):
    from openai import OpenAI

    sel = selection(bunny, NON_UNIFORM)
    request = openai_messages(sel, info=bunny, max_side=320, jpeg_quality=80, system="Be brief.")
    messages = request.messages
    assert [m["role"] for m in messages] == ["system", "user"]
    parts = messages[1]["content"]
    assert parts[0]["type"] == "text" and parts[-1] == {"type": "text", "text": QUESTION}
    frames = parts[1:-1]
    assert [p["type"] for p in frames] == ["text", "image_url"] * 8
    written = [float(re.fullmatch(r"Frame at (\d+\.\d) s:", p["text"]).group(1)) for p in frames[::2]]
    assert written == pytest.approx(sel.seconds, abs=0.05 + 1e-6)
    sizes = {_jpeg(p["image_url"]["url"]).size for p in frames[1::2]}
    assert sizes == {(320, 180)}
    assert request.handoff["jpeg_quality"] == 80 and request.handoff["indices"] == NON_UNIFORM
    json.dumps(request.handoff)
    with FakeOpenAI() as fake:
        client = OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
        reply = client.chat.completions.create(model="m", **request.kwargs())
        assert reply.choices[0].message.content
        assert fake.chat_requests()[0].body["messages"] == messages


def test_vllm_video_request_carries_the_source_clock(bunny):
    from openai import OpenAI

    sel = selection(bunny, NON_UNIFORM)
    request = vllm_video_messages(sel, info=bunny, max_side=160)
    (video, text) = request.messages[0]["content"]
    url = video["video_url"]["url"]
    assert video["type"] == "video_url" and url.startswith("data:video/jpeg;base64,")
    chunks = url.removeprefix("data:video/jpeg;base64,").split(",")
    assert len(chunks) == 8 and Image.open(io.BytesIO(base64.b64decode(chunks[0]))).size == (160, 90)
    assert text == {"type": "text", "text": QUESTION}
    kwargs = request.extra_body["media_io_kwargs"]["video"]
    assert kwargs == {"fps": pytest.approx(bunny.fps), "frames_indices": NON_UNIFORM, "total_num_frames": 720,
                      "duration": pytest.approx(bunny.duration), "num_frames": 8}
    assert [i / kwargs["fps"] for i in kwargs["frames_indices"]] == pytest.approx(sel.seconds, abs=0.01)
    with FakeOpenAI() as fake:
        OpenAI(base_url=fake.base_url, api_key="k", max_retries=0).chat.completions.create(model="m", **request.kwargs())
        body = fake.chat_requests()[0].body
        assert body["media_io_kwargs"]["video"]["frames_indices"] == NON_UNIFORM  # extra_body lands at the top level
    vfr = probe(VFR)
    vfr_sel = selection(vfr, [10, 100, 200, 290])
    clock = vllm_video_messages(vfr_sel, info=vfr).extra_body["media_io_kwargs"]["video"]
    assert clock["fps"] == 1000.0 and [i / 1000 for i in clock["frames_indices"]] == pytest.approx(vfr_sel.seconds, abs=1e-3)


# --- generic output ---------------------------------------------------------------------------------


def test_frames_and_files_with_sidecar(bunny, tmp_path):
    sel = selection(bunny, NON_UNIFORM)
    bundle = frames_for(sel, info=bunny, max_side=160)
    assert bundle.frames.shape == (8, 90, 160, 3) and bundle.frames.dtype == np.uint8
    assert bundle.indices == NON_UNIFORM and bundle.seconds == sel.seconds
    np.testing.assert_array_equal(bundle.frames, read_frames(bunny, NON_UNIFORM, size=(160, 90)))
    sidecar = export_frames(sel, tmp_path / "png", format="png", info=bunny, size=(160, 90))
    record = load_sidecar(sidecar.parent)
    assert record["indices"] == NON_UNIFORM and record["seconds"] == pytest.approx(sel.seconds, abs=1e-6)
    assert record["settings"]["rule"] == "hand" and record["k"] == 8 and record["fps"] == pytest.approx(bunny.fps)
    assert [f["index"] for f in record["files"]] == NON_UNIFORM
    for f, frame in zip(record["files"], bundle.frames):
        assert f"_f{f['index']:06d}_" in f["file"]
        np.testing.assert_array_equal(np.asarray(Image.open(sidecar.parent / f["file"])), frame)  # PNG is lossless
    jpeg = load_sidecar(export_frames(sel, tmp_path / "jpg", info=bunny, max_side=160, quality=70))
    assert jpeg["format"] == "jpeg" and jpeg["quality"] == 70
    assert all((tmp_path / "jpg" / f["file"]).suffix == ".jpg" for f in jpeg["files"])


# --- the one-call helper with the tiny selector ------------------------------------------------------


def test_prepare_inputs_selects_and_hands_off_in_one_call(qwen2, qwen25, bunny):
    model, processor = qwen2
    selector = FrameSelector(*build_tiny_selector(seed=0))
    inputs = prepare_inputs(selector, BUNNY, QUESTION, processor, k=4, candidates=32)
    assert isinstance(inputs, HandoffInputs) and inputs.to("cpu").handoff is inputs.handoff
    assert "handoff" not in inputs.keys()  # the record is an attribute, never a generate() argument
    record = inputs.handoff
    assert record["k"] == 4 and record["rule"] == "nms" and record["settings"]["plan"]["n"] == 32
    assert record["settings"]["delta"] == 2 and len(record["indices"]) == 4
    assert record["seconds"] == pytest.approx([float(bunny.timestamps[i]) for i in record["indices"]], abs=1e-6)
    json.dumps(record)
    generates(model, inputs)
    chat = prepare_inputs(selector, BUNNY, QUESTION, "openai", k=4, candidates=32, max_side=64)
    assert chat.handoff["indices"] == record["indices"]  # the same selection, whatever the target
    evenly = prepare_inputs(selector, bunny, QUESTION, qwen25[1], k=4, candidates=32, rule="uniform")
    assert evenly.handoff["mode"] == "video" and evenly.handoff["rule"] == "uniform"
    with pytest.raises(TypeError, match="no hand-off"):
        to_inputs(selector.select(BUNNY, QUESTION, k=2, candidates=16), object())


def test_the_table_finds_each_model_by_its_processor_and_each_route_by_name(qwen2, qwen25, qwen3, llava, bunny):
    """Every downstream model is one module's `HANDOFF`, collected in `HANDOFFS`: a model family is
    found by its processor's class (a subclass through its parent), a route by its name."""
    processors = {"qwen2_vl": qwen2[1], "qwen2_5_vl": qwen25[1], "qwen3_vl": qwen3[1], "llava_onevision": llava[1]}
    assert sorted(TARGETS) == sorted(processors) and ROUTES == ("openai", "vllm_video", "frames")
    assert {name: target_of(processor) for name, processor in processors.items()} == {name: name for name in processors}
    derived = type("MyProcessor", (type(qwen25[1]),), {})
    assert target_of(object.__new__(derived)) == "qwen2_5_vl" and target_of(object()) is None
    sel = selection(bunny, NON_UNIFORM)
    assert hand_off(sel, "frames", info=bunny, max_side=64).handoff["target"] == "frames"
    with pytest.raises(ValueError, match="one of"):
        hand_off(sel, "qwen2_vl", info=bunny)  # a model family is reached through its processor
