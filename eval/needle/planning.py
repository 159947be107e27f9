"""Planning the needle world: what each video will show (its length and needle events, in time
order) and the questions about it, with their answers and needle spans. Everything is a function
of the settings and the seed; `eval.needle.rendering` draws the plans.

Questions come from four templates that each need particular needle frames:

* attribute: "What colour is the star?" (one star in the video);
* counting: "How many times does a red square appear?" (1-3 appearances, all needed);
* order: "What appears right after the blue circle?" (that needle and the next one);
* multi-hop: "The card shows a colour. Which shape appears in that colour?" (the card, then the
  one shape of that colour).

Every question carries its needle spans (seconds and frame ranges), so labels come from the spans
and recall is exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from selector.records import VideoQuestion

COLOURS = {"red": (220, 30, 30), "green": (20, 190, 40), "blue": (30, 60, 230), "yellow": (240, 220, 20)}
SHAPES = ("circle", "square", "triangle", "star")
KINDS = ("attribute", "counting", "order", "multihop")
COUNT_OPTIONS = ["1", "2", "3", "4"]


@dataclass(frozen=True)
class WorldSettings:
    """Sizes of a world. Durations are drawn per video from [min_seconds, max_seconds]."""

    videos: int = 100
    min_seconds: float = 30.0
    max_seconds: float = 45.0
    fps: float = 8.0
    size: int = 96
    needle_seconds: tuple[float, float] = (1.0, 2.0)
    questions_per_video: int = 2
    # Needle events no question asks about, per video (drawn from this range). They are what makes
    # the task question-aware: with fewer salient events than frames asked for, any detector of
    # "something is there" plus NMS would catch the evidence without reading the question.
    fillers: tuple[int, int] = (2, 5)
    # Questions beyond the templated ones, about the video's other events ("How many times does a
    # green square appear?", "What appears right after the red star?"), drawn for training where
    # labels come free with the spans: they teach every colour and shape word, not only the few
    # the templated questions ask about. Not used for held-out splits.
    extra_questions: int = 0
    distractors: int = 4
    noise: float = 12.0
    seed: int = 0

    def check(self) -> None:
        if self.videos < 1 or self.questions_per_video < 1:
            raise ValueError("a world needs at least one video and one question per video")
        if not 0 < self.min_seconds <= self.max_seconds:
            raise ValueError(f"video length range {self.min_seconds}..{self.max_seconds} s is empty")
        if not 0 <= self.fillers[0] <= self.fillers[1]:
            raise ValueError(f"filler range {self.fillers} is not ordered")
        if self.extra_questions < 0:
            raise ValueError(f"extra_questions must be >= 0, got {self.extra_questions}")
        if self.size < 32 or self.size % 2:
            raise ValueError(f"frame size {self.size} must be even and at least 32")


@dataclass(frozen=True)
class Needle:
    """One event: `shape` is a shape name or "card"; `colour` is what it shows."""

    shape: str
    colour: str
    first: int  # first frame index showing it
    last: int  # last frame index showing it (inclusive)
    x: float  # centre, as a fraction of the frame
    y: float

    def describe(self) -> str:
        return f"a card showing {self.colour}" if self.shape == "card" else f"a {self.colour} {self.shape}"

    def span(self, fps: float) -> tuple[float, float]:
        """Seconds from the first frame's start to the last frame's end."""
        return (self.first / fps, (self.last + 1) / fps)


@dataclass(kw_only=True)
class Question(VideoQuestion):
    """A `VideoQuestion` (its `answer` is the correct option's text, its `spans` the needles'
    seconds; `to_dict` is its label/eval manifest row) with what the world adds: the template it
    came from and the needles a reader must see to answer it."""

    kind: str
    needles: list[int]  # indices into the video's needle list
    frames: list[tuple[int, int]] = field(default_factory=list)  # (first, last) frame of each needle


@dataclass
class VideoPlan:
    """What one video will show: its length and needle events, and the questions about it."""

    name: str
    frames: int
    fps: float
    needles: list[Needle]
    questions: list[Question]
    seed: int


def _slots(rng: np.random.Generator, count: int, frames: int, fps: float, seconds: tuple[float, float], at: Sequence[float] | None = None) -> list[tuple[int, int]]:
    """`count` non-overlapping (first, last) frame ranges with at least half a second between them.

    `at` fixes the relative start positions (0..1) instead of drawing them.
    """
    gap = max(1, int(round(0.5 * fps)))
    lengths = [max(1, int(round(rng.uniform(*seconds) * fps))) for _ in range(count)]
    if at is not None:
        starts = [min(frames - n, max(0, int(round(p * (frames - n))))) for p, n in zip(at, lengths)]
        return [(s, s + n - 1) for s, n in zip(starts, lengths)]
    free = frames - sum(lengths) - gap * (count + 1)
    while free < 0 and max(lengths) > 1:  # a crowded short video: shorten the longest needles until all fit
        lengths[lengths.index(max(lengths))] -= 1
        free += 1
    if free < 0:
        raise ValueError(f"{count} needles do not fit in {frames} frames")
    cuts = np.sort(rng.integers(0, free + 1, size=count))
    slots, cursor = [], gap
    for i, n in enumerate(lengths):
        start = cursor + int(cuts[i] - (cuts[i - 1] if i else 0))
        slots.append((start, start + n - 1))
        cursor = start + n + gap
    return slots


def _place(rng: np.random.Generator) -> tuple[float, float]:
    return float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7))


def _options(rng: np.random.Generator, answer: str, pool: Sequence[str], n: int = 4) -> list[str]:
    others = [p for p in pool if p != answer]
    chosen = list(rng.choice(others, size=min(n - 1, len(others)), replace=False)) + [answer]
    rng.shuffle(chosen)
    return [str(c) for c in chosen]


def _describe(shape: str, colour: str) -> str:
    return Needle(shape, colour, 0, 0, 0, 0).describe()


def _events(rng: np.random.Generator, kinds: Sequence[str], fillers: tuple[int, int] = (2, 5)) -> tuple[list[tuple[str, str]], dict]:
    """The (shape, colour) sequence of a video in time order, built so every asked kind has a
    unique answer, and where each question's needles sit in it, plus `fillers` (a range) events
    that no question asks about."""
    while True:
        shapes, colours = list(SHAPES), list(COLOURS)
        combos = [(s, c) for s in shapes for c in colours]
        rng.shuffle(combos)
        events: list[tuple[str, str]] = []
        plan: dict = {}
        reserved_shape = reserved_colour = None
        if "attribute" in kinds:
            reserved_shape = shapes[int(rng.integers(len(shapes)))]
        if "multihop" in kinds:
            reserved_colour = colours[int(rng.integers(len(colours)))]
        usable = [(s, c) for s, c in combos if s != reserved_shape and c != reserved_colour]
        if "counting" in kinds:
            combo = usable.pop()
            plan["counting"] = (combo, int(rng.integers(1, 4)))
            events += [combo] * plan["counting"][1]
        if "order" in kinds:
            first, second = usable.pop(), usable.pop()
            plan["order"] = (first, second)
            events += [("pair", "")]  # placeholder: the pair stays adjacent
        if "attribute" in kinds:
            colour = colours[int(rng.integers(len(colours)))] if reserved_colour is None else rng.choice([c for c in colours if c != reserved_colour])
            plan["attribute"] = (reserved_shape, str(colour))
            events.append((reserved_shape, str(colour)))
        if "multihop" in kinds:
            shape = rng.choice([s for s in shapes if s != reserved_shape])
            plan["multihop"] = (str(shape), reserved_colour)
            events += [("card", reserved_colour), (str(shape), reserved_colour)]
        # One or two fillers that keep every answer unique.
        taken = set(events)
        for _ in range(int(rng.integers(fillers[0], fillers[1] + 1))):
            free = [x for x in usable if x not in taken]
            if free:
                events.append(free[int(rng.integers(len(free)))])
        order = rng.permutation(len(events))
        timeline: list[tuple[str, str]] = []
        for i in order:
            if events[i] == ("pair", ""):
                timeline += list(plan["order"])
            else:
                timeline.append(events[i])
        if "multihop" in plan and timeline.index(("card", plan["multihop"][1])) > timeline.index(plan["multihop"]):
            continue  # the card comes first: it is what points to the shape
        if "order" in plan and sum(e == plan["order"][0] for e in timeline) != 1:
            continue
        if "counting" in plan and timeline.count(plan["counting"][0]) != plan["counting"][1]:
            continue
        return timeline, plan


def plan_video(name: str, settings: WorldSettings, seed: int, kinds: Sequence[str], at: Sequence[float] | None = None,
               seconds: float | None = None, fillers: bool = True) -> VideoPlan:
    """Needles and questions of one video. `at`/`seconds` pin the needles' relative positions
    and the length (the needle grid); otherwise both are drawn from the seed."""
    rng = np.random.default_rng(seed)
    length = seconds if seconds is not None else rng.uniform(settings.min_seconds, settings.max_seconds)
    frames = int(round(length * settings.fps))
    timeline, plan = _events(rng, kinds, settings.fillers if fillers else (0, 0))
    if at is not None and len(at) != len(timeline):
        raise ValueError(f"{len(at)} positions for {len(timeline)} needles")
    slots = _slots(rng, len(timeline), frames, settings.fps, settings.needle_seconds, at)
    needles = [Needle(s, c, a, b, *_place(rng)) for (s, c), (a, b) in zip(timeline, slots)]
    where = {(n.shape, n.colour): [i for i, m in enumerate(needles) if (m.shape, m.colour) == (n.shape, n.colour)] for n in needles}
    questions = []
    for kind in kinds:
        qid = f"{name}-{kind}"
        if kind == "attribute":
            shape, colour = plan[kind]
            q = Question(qid, name, f"What colour is the {shape}?", _options(rng, colour, list(COLOURS)), colour, kind=kind, needles=where[(shape, colour)])
        elif kind == "counting":
            (shape, colour), count = plan[kind]
            q = Question(qid, name, f"How many times does a {colour} {shape} appear?", list(COUNT_OPTIONS), str(count), kind=kind,
                         needles=where[(shape, colour)])
        elif kind == "order":
            first, second = plan[kind]
            i = where[first][0]
            answer = needles[i + 1].describe()
            pool = sorted({_describe(s, c) for s in SHAPES for c in COLOURS})
            q = Question(qid, name, f"What appears right after the {first[1]} {first[0]}?", _options(rng, answer, pool), answer, kind=kind,
                         needles=[i, i + 1])
        else:
            shape, colour = plan[kind]
            card = where[("card", colour)][0]
            q = Question(qid, name, "The card shows a colour. Which shape appears in that colour?",
                         _options(rng, shape, list(SHAPES)), shape, kind=kind, needles=[card, where[(shape, colour)][0]])
        questions.append(q)
    questions += _extra_questions(name, needles, where, settings.extra_questions, np.random.default_rng(seed + 104_729),
                                  {q.question for q in questions})
    for q in questions:
        q.spans = [needles[i].span(settings.fps) for i in q.needles]
        q.frames = [(needles[i].first, needles[i].last) for i in q.needles]
    return VideoPlan(name, frames, settings.fps, needles, questions, seed)


def _extra_questions(name: str, needles: Sequence[Needle], where: dict, count: int, rng: np.random.Generator,
                     asked: set[str]) -> list[Question]:
    """Up to `count` questions about the video's shape events, none already `asked`, drawn in
    turn from the forms that apply: counting and order (which name a colour and a shape), and
    attribute and shape counting (which name a shape alone). Its own generator, so the templated
    plan stays as it was.

    The shape-only forms are there because colour is the easier cue: a selector taught only
    questions that name both learns to find the colour and never learns the shape words, and
    then cannot answer "What colour is the star?".
    """
    combos = [combo for combo in dict.fromkeys((n.shape, n.colour) for n in needles) if combo[0] != "card"]
    rng.shuffle(combos)
    shapes = [shape for shape in SHAPES if any(s == shape for s, _ in combos)]
    rng.shuffle(shapes)
    pool = sorted({_describe(s, c) for s in SHAPES for c in COLOURS})
    forms: dict[str, list[Question]] = {"counting": [], "order": [], "attribute": [], "shape counting": []}
    for shape, colour in combos:
        appearances = where[(shape, colour)]
        forms["counting"].append(Question("", name, f"How many times does a {colour} {shape} appear?", list(COUNT_OPTIONS),
                                          str(len(appearances)), kind="counting", needles=appearances))
        if len(appearances) == 1 and appearances[0] + 1 < len(needles):
            answer = needles[appearances[0] + 1].describe()
            forms["order"].append(Question("", name, f"What appears right after the {colour} {shape}?", _options(rng, answer, pool),
                                           answer, kind="order", needles=[appearances[0], appearances[0] + 1]))
    for shape in shapes:
        shown = [i for i, n in enumerate(needles) if n.shape == shape]
        if len(shown) == 1:
            colour = needles[shown[0]].colour
            forms["attribute"].append(Question("", name, f"What colour is the {shape}?", _options(rng, colour, list(COLOURS)), colour,
                                               kind="attribute", needles=shown))
        elif len(shown) <= len(COUNT_OPTIONS):
            forms["shape counting"].append(Question("", name, f"How many times does a {shape} appear?", list(COUNT_OPTIONS),
                                                    str(len(shown)), kind="counting", needles=shown))
    questions: list[Question] = []
    seen = set(asked)
    while len(questions) < count and any(forms.values()):
        for form in list(forms):
            while forms[form] and forms[form][0].question in seen:
                forms[form].pop(0)
            if forms[form] and len(questions) < count:
                q = forms[form].pop(0)
                q.id = f"{name}-extra-{len(questions)}"
                seen.add(q.question)
                questions.append(q)
    return questions


def plan_world(settings: WorldSettings, split: str) -> list[VideoPlan]:
    """Plans of one split. Splits draw from disjoint seed ranges, so a held-out video never
    repeats a training one."""
    settings.check()
    offset = {"train": 0, "test": 1_000_003, "grid": 2_000_029, "harder": 3_000_017, "labeller": 4_000_037}[split]
    plans = []
    for i in range(settings.videos):
        kinds = [KINDS[(i * settings.questions_per_video + j) % len(KINDS)] for j in range(settings.questions_per_video)]
        kinds = list(dict.fromkeys(kinds))
        plans.append(plan_video(f"{split}-{i:05d}", settings, settings.seed * 7_777_777 + offset + i, kinds))
    return plans


__all__ = ["WorldSettings", "Needle", "Question", "VideoPlan", "plan_video", "plan_world", "COLOURS", "SHAPES", "KINDS"]
