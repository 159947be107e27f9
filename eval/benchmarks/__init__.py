"""Benchmark loaders: a local copy of a benchmark, in its official layout or in lmms-eval's
Parquet layout, into `Record`s.

Both layouts are accepted because both are in use: papers quote numbers from the official
scripts, and most people fetch the data through lmms-eval's Hugging Face copies, whose field
names differ (docs/evaluation.md, "Benchmark notes"). `layout="auto"` takes the official files
when they are there, else the Parquet files. Video-MME's authors publish their annotations as the
Parquet lmms-eval reads, so for Video-MME the Parquet is the official layout too.

Each loader's docstring names the official script whose rules it follows for option letters,
repeated options, empty options and unanswerable rows (docs/evaluation.md, "Official scoring
rules"); a question those rules make odd but still score carries why in `Record.notes`.

Local layout: one folder per benchmark under `root`, named as the benchmark (`root` may also be
that folder itself); each module's docstring gives the files in it.

Every video is looked up with the extensions .mp4, .MP4, .mkv and .webm, as lmms-eval does.
Nothing is dropped silently: a question whose video is missing, whose row is malformed, or that
has no ground truth comes back with `Record.problem` set. The one deliberate exclusion is MLVU's
two generation tasks (sub-scene captioning and summary), which are not part of its
multiple-choice score (M-Avg).

One module per benchmark (`videomme`, `longvideobench`, `nextqa`, `egoschema`, `activitynetqa`,
`mlvu`), each defining `BENCHMARK`, a `benchmark.Benchmark` with its loader, published answer
parsers, headline metric and lmms-eval doc fields; `registry` collects them (`BENCHMARKS`), so a
new benchmark is one module here plus its test. What they share: `files` (layouts, rows,
videos), `rows` (rows into flagged records), `choices` (options and answers of multiple choice),
`lmms_parsers` (lmms-eval's reply parsers that several use).
"""

from .activitynetqa import ACTIVITYNETQA_TYPES
from .benchmark import Benchmark
from .choices import answer_letter, strip_letter, text_letter
from .files import VIDEO_EXTENSIONS, Layout, resolve_video
from .mlvu import split_embedded_options
from .nextqa import NEXTQA_GROUPS
from .registry import BENCHMARKS, benchmark_name, load_benchmark

__all__ = [
    "ACTIVITYNETQA_TYPES",
    "BENCHMARKS",
    "Benchmark",
    "Layout",
    "NEXTQA_GROUPS",
    "VIDEO_EXTENSIONS",
    "answer_letter",
    "benchmark_name",
    "load_benchmark",
    "resolve_video",
    "split_embedded_options",
    "strip_letter",
    "text_letter",
]
