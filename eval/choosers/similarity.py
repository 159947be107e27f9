"""Image-text similarity of a SigLIP or CLIP checkpoint: the usual training-free baseline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

from selector import Frame, VideoInfo, greedy_nms, read_frames, topk
from selector.hardware import default_device, default_dtype
from selector.selection import nms_delta

from .base import Chooser, question_texts

DEFAULT_SIGLIP = "google/siglip-so400m-patch14-384"
DEFAULT_CLIP = "openai/clip-vit-large-patch14"


def _pooled(output: Any) -> torch.Tensor:
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class SimilarityChooser(Chooser):
    """Frames ranked by the cosine similarity of their image embedding to the question's text
    embedding, from a SigLIP or CLIP checkpoint (the usual training-free baseline).

    Frames are decoded with their shorter side at the processor's input size (aspect ratio
    kept), then prepared by the checkpoint's own image processor, so resizing and cropping are
    the model's. SigLIP's text is padded to its full length, as it was trained. The image
    embeddings of the last video are kept, so questions asked one at a time about one video
    decode and encode it once.
    """

    def __init__(
        self,
        model_id: str,
        *,
        nms: bool = False,
        delta: int | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        batch_size: int = 32,
    ) -> None:
        device = torch.device(device or default_device())
        dtype = dtype or default_dtype(device)
        self.model = AutoModel.from_pretrained(model_id, dtype=dtype).to(device).eval()
        self.family = self.model.config.model_type
        if self.family not in ("siglip", "clip"):
            raise ValueError(f"{model_id} is a {self.family!r} model; the similarity chooser takes SigLIP or CLIP")
        self.tokenizer = AutoTokenizer.from_pretrained(model_id)
        self.processor = AutoImageProcessor.from_pretrained(model_id)
        self.model_id = model_id
        self.name = self.family
        self.nms = nms
        self.delta = delta
        self.batch_size = batch_size
        self._cache: tuple[tuple[str, tuple[int, ...]], torch.Tensor] | None = None

    def settings(self) -> dict[str, Any]:
        return {"model": self.model_id, "rule": "nms" if self.nms else "topk", "delta": self.delta, "dtype": str(self.model.dtype)}

    def decode_size(self, info: VideoInfo) -> tuple[int, int]:
        size = self.processor.size
        side = size.get("shortest_edge") or min(size.get("height"), size.get("width"))
        scale = side / min(info.width, info.height)
        return max(1, round(info.width * scale)), max(1, round(info.height * scale))

    @torch.no_grad()
    def image_embeddings(self, info: VideoInfo, candidates: Sequence[Frame]) -> torch.Tensor:
        """L2-normalised image embeddings of the candidates, (n, d), float32."""
        key = (info.path, tuple(c.index for c in candidates))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        frames = read_frames(info, [c.index for c in candidates], size=self.decode_size(info))
        chunks = []
        for start in range(0, len(frames), self.batch_size):
            pixels = self.processor(images=list(frames[start : start + self.batch_size]), return_tensors="pt")["pixel_values"]
            features = _pooled(self.model.get_image_features(pixel_values=pixels.to(self.model.device, self.model.dtype)))
            chunks.append(F.normalize(features.float(), dim=-1))
        embeddings = torch.cat(chunks)
        self._cache = (key, embeddings)
        return embeddings

    @torch.no_grad()
    def text_embeddings(self, questions: Sequence[str]) -> torch.Tensor:
        """L2-normalised text embeddings of the questions, (q, d), float32."""
        length = self.model.config.text_config.max_position_embeddings
        padding = "max_length" if self.family == "siglip" else True
        encoded = self.tokenizer(list(questions), padding=padding, truncation=True, max_length=length, return_tensors="pt")
        inputs = {k: v.to(self.model.device) for k, v in encoded.items() if k in ("input_ids", "attention_mask")}
        return F.normalize(_pooled(self.model.get_text_features(**inputs)).float(), dim=-1)

    def similarities(self, info: VideoInfo, candidates: Sequence[Frame], questions: Sequence[str]) -> np.ndarray:
        """Cosine similarity of every question to every candidate, (q, n)."""
        return (self.text_embeddings(questions) @ self.image_embeddings(info, candidates).T).cpu().numpy()

    def _choose(self, info, plan, candidates, questions, k, item_ids, options):
        questions = question_texts(questions, options)
        results = []
        for row in self.similarities(info, candidates, questions):
            if self.nms:
                delta = nms_delta(len(row), k) if self.delta is None else self.delta
                results.append((greedy_nms(row, k, delta), row, {"delta": delta}, {}))
            else:
                results.append((topk(row, k), row, {}, {}))
        return results


__all__ = ["DEFAULT_CLIP", "DEFAULT_SIGLIP", "SimilarityChooser"]
