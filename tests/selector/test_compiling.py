"""The compiled question step (`selector.compiling`) scores like eager and chooses the same frames.

Questions fall in different padded lengths and in the same one; padding a question changes no
score. The capture tests use a backend that runs the captured graph as it is (what torch.compile
traced, without code generation: seconds); the inductor ones (real code generation on the CPU,
tens of seconds on two cores) are marked slow.
"""

import pytest
import torch

from selector import FrameSelector, VideoQuestion
from selector.compiling import CompiledQuestions, compiles, question_length
from selector.packing import pack_questions
from selector.selection import greedy_nms
from selector.tiny import build_tiny_selector

# Tokens with the template and score query: 12 and 23 (padded to 32); 57 with four options (64);
# three questions packed, 96 (128).
SHORT, MEDIUM = "Why?", "When does the bunny come out of its burrow?"
OPTIONS = ["a bunny", "a bird", "a butterfly", "nothing"]
CASES = [([SHORT], None), ([MEDIUM], None), ([MEDIUM], [OPTIONS]), ([SHORT, MEDIUM, MEDIUM + " Why?"], [None, OPTIONS, None])]


@pytest.fixture(autouse=True)
def _fresh_compiler():
    """Every test compiles its own graphs: torch.compile keeps one cache per function, with a
    limit of recompilations that the tests' several models and dtypes would otherwise share."""
    torch.compiler.reset()
    yield
    torch.compiler.reset()


class Captures:
    """A torch.compile backend that counts the graphs captured and runs them unchanged."""

    def __init__(self):
        self.graphs = 0

    def __call__(self, graph: torch.fx.GraphModule, example_inputs: list) -> object:
        self.graphs += 1
        return graph.forward


@pytest.fixture(scope="module")
def tiny():
    model, processor = build_tiny_selector(seed=3, max_candidates=12)
    with torch.no_grad():  # a larger head than the random init, so scores differ visibly
        for p in model.score_head.parameters():
            p.normal_(0, 0.5)
    torch.manual_seed(0)
    prefix = model.eval().frame_prefix(model.vision_features(torch.randn(9, 3, 24, 24)), processor.prefix_ids())
    return model, processor, prefix


def _batch(processor, questions, options):
    options = options or [None] * len(questions)
    batch = processor(questions=[VideoQuestion(str(i), "v.mp4", q, o or []) for i, (q, o) in enumerate(zip(questions, options))])
    return batch["input_ids"], batch["attention_mask"]


def _tokens(mask: torch.Tensor) -> int:
    return int(mask.sum()) + mask.shape[0]


def test_question_lengths_are_a_few_powers_of_two():
    assert [question_length(t) for t in (1, 24, 32, 33, 64, 65, 400, 513)] == [32, 32, 32, 64, 64, 128, 512, 1024]


def test_the_cases_fall_in_three_lengths(tiny):
    _, processor, _ = tiny
    lengths = [question_length(_tokens(_batch(processor, q, o)[1])) for q, o in CASES]
    assert lengths == [32, 32, 64, 128]


def test_compile_setting(tiny):
    model, _, _ = tiny
    assert not compiles("off", model) and compiles("on", model)
    assert not compiles("auto", model)  # on the CPU eager stays
    with pytest.raises(ValueError, match="compile must be one of auto, off, on"):
        compiles("yes", model)
    selector = FrameSelector(*build_tiny_selector(seed=0))
    assert not selector.compiled and FrameSelector(*build_tiny_selector(seed=0), compile="on").compiled


def test_compile_on_needs_packed_attention():
    model, _ = build_tiny_selector(seed=0)
    model.config.text_config._attn_implementation = "flash_attention_2"
    with pytest.raises(ValueError, match="needs eager or sdpa attention"):
        compiles("on", model)
    assert not compiles("auto", model) and not compiles("off", model)


def test_padding_changes_no_score(tiny):
    model, processor, _ = tiny
    model = model.double()
    try:
        torch.manual_seed(0)
        prefix = model.frame_prefix(model.vision_features(torch.randn(9, 3, 24, 24, dtype=torch.float64)), processor.prefix_ids())
        for questions, options in CASES:
            ids, mask = _batch(processor, questions, options)
            exact = model.score_with_prefix(prefix, ids, mask)
            for length in (question_length(_tokens(mask)), 256):
                torch.testing.assert_close(model.score_with_prefix(prefix, ids, mask, length), exact, rtol=1e-12, atol=1e-12)
    finally:
        model.float()


def test_packing_pads_at_the_end():
    ids = torch.tensor([[0, 5, 6], [7, 8, 9]])
    mask = torch.tensor([[0, 1, 1], [1, 1, 1]])
    packed = pack_questions(ids, mask, 12)
    assert packed.ids.tolist() == [5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0, 0]
    assert packed.query.tolist() == [False, False, True, False, False, False, True] + [False] * 5
    assert packed.owner.tolist() == [0, 0, 0, 1, 1, 1, 1] + [-1] * 5
    assert packed.local.tolist() == [0, 1, 2, 0, 1, 2, 3] + [0] * 5
    assert packed.last.tolist() == [2, 6]
    with pytest.raises(ValueError, match="7 question tokens do not fit length 6"):
        pack_questions(ids, mask, 6)


def _assert_like_eager(model, processor, prefix, step, tolerance: float) -> None:
    """Logits within `tolerance` of eager's, relative to the largest (a bfloat16 logit of 8 is
    known to 1/32: eager rounds after every operator, a compiled kernel only at its end), and the
    same frames chosen (NMS, k=3), in every case."""
    for questions, options in CASES:
        ids, mask = _batch(processor, questions, options)
        eager = model.score_with_prefix(prefix, ids, mask)
        compiled = step(prefix, ids, mask)
        scale = eager[:, : prefix.num_candidates].abs().max().item()
        torch.testing.assert_close(compiled, eager, rtol=tolerance, atol=tolerance * scale)
        assert torch.isinf(compiled[:, prefix.num_candidates:]).all()
        for row, eager_row in zip(model.candidate_scores(compiled[:, :9]), model.candidate_scores(eager[:, :9])):
            assert greedy_nms(row.cpu().numpy(), 3) == greedy_nms(eager_row.cpu().numpy(), 3)


def test_captured_step_scores_like_eager_one_graph_per_length(tiny):
    model, processor, prefix = tiny
    backend = Captures()
    step = CompiledQuestions(model, backend=backend)
    _assert_like_eager(model, processor, prefix, step, 1e-5)
    assert backend.graphs == 3  # 32, 64 and 128 tokens: the two 32-token cases share a graph
    _assert_like_eager(model, processor, prefix, step, 1e-5)
    assert backend.graphs == 3  # and every length is reused


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"))]


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-5), (torch.bfloat16, 2e-2)], ids=["float32", "bfloat16"])
def test_inductor_step_scores_like_eager(device, dtype, tolerance):
    """Inductor's code: on the CPU in the default mode, on CUDA as a CUDA graph (reduce-overhead)."""
    model, processor = build_tiny_selector(seed=3, max_candidates=12)
    with torch.no_grad():
        for p in model.score_head.parameters():
            p.normal_(0, 0.5)
    model = model.to(device, dtype).eval()
    torch.manual_seed(0)
    pixels = torch.randn(9, 3, 24, 24, dtype=dtype, device=device)
    prefix = model.frame_prefix(model.vision_features(pixels), processor.prefix_ids())
    step = CompiledQuestions(model)
    assert step.mode == (None if device == "cpu" else "reduce-overhead")
    _assert_like_eager(model, processor, prefix, step, tolerance)
    _assert_like_eager(model, processor, prefix, step, tolerance)  # graphs replayed


@pytest.mark.slow
def test_compiled_selector_chooses_like_eager(tiny_selector_dir, videos):
    video = videos / "moviepy__big_buck_bunny_0_30.webm"
    eager, compiled = (FrameSelector.from_pretrained(tiny_selector_dir, device="cpu", compile=c) for c in ("off", "on"))
    assert compiled.compiled and not eager.compiled
    questions = [MEDIUM, SHORT]
    for a, b in zip(eager.select_many(video, questions, k=4, candidates=32), compiled.select_many(video, questions, k=4, candidates=32)):
        assert a.indices == b.indices
        torch.testing.assert_close(torch.tensor(b.scores), torch.tensor(a.scores), rtol=1e-5, atol=1e-6)
