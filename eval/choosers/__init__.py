"""Frame choosers to compare: every one picks k of the same candidate frames of a video.

A comparison of frame selection only means something when every method sees the same
candidates (`selector.candidate_frames(info, plan)`), returns exactly k distinct frames (a method
that silently hands on fewer, or pads with uniform frames, measures something else) and records
every setting it used (docs/evaluation.md, "Fair comparisons"). The base class (`base.Chooser`)
enforces the first two for all choosers; each chooser lists its settings, and each choice, a
`selector.Selection`, carries them together with the plan and k.

Choosers, one module per family (`make_chooser` spec in brackets, `registry` maps the names):

* `uniform.UniformChooser` [`uniform`]: the middle candidate of each of k equal runs: the
  baseline.
* `similarity.SimilarityChooser` [`siglip:MODEL[,nms=1][,delta=N]`, `clip:MODEL,...`]: image-text
  cosine similarity of a SigLIP or CLIP checkpoint, top-k or greedy NMS.
* `scene.SceneChangeChooser` [`scene[:bins=8,size=64]`]: the candidates that open the k largest
  colour-histogram changes, question-agnostic.
* `bolt.BoltChooser` [`bolt[:MODEL][,power=P]`]: BOLT's inverse-transform sampling over the
  similarity scores.
* `selector_chooser.SelectorChooser` [`selector:PATH[,rule=nms][,delta=N]`]: the trained selector.
* `oracle.OracleChooser` [`oracle:PATH[,signal=label][,rule=topk]`]: the top-k of the stored
  pseudo-labels: the ceiling the selector is trained towards.
"""

from .base import Choice, Chooser
from .bolt import BoltChooser, inverse_transform_sample
from .oracle import LABEL_SIGNALS, OracleChooser
from .registry import CHOOSER_NAMES, CHOOSERS, make_chooser
from .scene import SceneChangeChooser
from .selector_chooser import SelectorChooser
from .similarity import DEFAULT_CLIP, DEFAULT_SIGLIP, SimilarityChooser
from .uniform import UniformChooser

__all__ = [
    "BoltChooser",
    "CHOOSERS",
    "CHOOSER_NAMES",
    "Choice",
    "Chooser",
    "DEFAULT_CLIP",
    "DEFAULT_SIGLIP",
    "LABEL_SIGNALS",
    "OracleChooser",
    "SceneChangeChooser",
    "SelectorChooser",
    "SimilarityChooser",
    "UniformChooser",
    "inverse_transform_sample",
    "make_chooser",
]
