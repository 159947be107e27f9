"""The frame selector model: frames, then the question, then a learnable score query, read out
into one score per candidate frame.

As in transformers' `XModel` / `XForY` pairs, `FrameSelectorModel` is the backbone (vision tower,
projector, language model: frames and text to hidden states) and `FrameSelectorForFrameScoring`
puts the score query and its read-out (`selector.score_head`) on it, with the training losses.
The sequence order is the point of the design: the frame part does not depend on the question, so
its key/value cache is computed once per video (`frame_prefix`) and every question on that video
only runs its own few tokens (`FrameSelectorForFrameScoring.score_with_prefix`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, AutoModelForCausalLM, DynamicCache, PreTrainedModel
from transformers.activations import ACT2FN
from transformers.conversion_mapping import register_checkpoint_conversion_mapping
from transformers.core_model_loading import WeightRenaming
from transformers.modeling_outputs import BaseModelOutputWithPast
from transformers.utils import ModelOutput

from .configuration import FrameSelectorConfig
from .packing import PACKED_ATTENTION, pack_questions
from .score_head import ScoreHead, score_head_for, score_loss


_CACHE_NAMES: dict[type, str] = {}  # decoder class -> its cache argument's name


def _cache_name(decoder: nn.Module) -> str:
    """The decoder's name for its key/value cache, as a `forward` argument and an output field.

    transformers 5.24 renamed `past_key_values` to `cache` (the old name warns on every call and
    goes in 5.40); asking the decoder, not the version, keeps this right for any architecture.
    Memoised in a plain dict, not `functools.cache`, which `torch.compile` does not trust inside a
    compiled step.
    """
    kind = type(decoder)
    if kind not in _CACHE_NAMES:
        _CACHE_NAMES[kind] = "cache" if "cache" in inspect.signature(kind.forward).parameters else "past_key_values"
    return _CACHE_NAMES[kind]


@dataclass
class FrameSelectorOutput(ModelOutput):
    """`logits`: (batch, max_candidates), -inf beyond each item's candidate count; `loss`: BCE
    against soft labels over the real candidates, when labels were given."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None


@dataclass
class FramePrefix:
    """The question-independent part of one video's sequence, ready to be reused."""

    cache: DynamicCache
    length: int
    num_candidates: int
    frame_states: torch.Tensor | None = None  # (1, n, W) at the score layer, for a read-out that reads frames


# `FrameSelectorForFrameScoring.packed_question_states`, or a compiled version of it.
QuestionStates = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, tuple], torch.Tensor]


class Projector(nn.Module):
    """Vision width -> LLM width, two layers (LLaVA's projector)."""

    def __init__(self, config: FrameSelectorConfig):
        super().__init__()
        self.linear_1 = nn.Linear(config.vision_config.hidden_size, config.text_config.hidden_size)
        self.act = ACT2FN[config.projector_hidden_act]
        self.linear_2 = nn.Linear(config.text_config.hidden_size, config.text_config.hidden_size)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(features)))


# Checkpoints keep the names of the single class they were first written by (`vision_tower.*`,
# `projector.*`, `language_model.*`, `score_head.*`): transformers renames them into the scoring
# model's backbone on load and back on save; peft renames an older LoRA adapter's weights the same
# way (docs/model.md: its `target_modules` needs `backbone\.` in front). The backbone is `backbone`,
# not transformers' usual `model`: transformers' own legacy renaming folds `model.language_model.model.*`
# (which a causal LM inside `model` would be) into `model.language_model.*`.
register_checkpoint_conversion_mapping(
    FrameSelectorConfig.model_type,
    [WeightRenaming(source_patterns=rf"^{name}", target_patterns=f"backbone.{name}") for name in ("vision_tower", "projector", "language_model")],
    overwrite=True,
)


class FrameSelectorPreTrainedModel(PreTrainedModel):
    config_class = FrameSelectorConfig
    config: FrameSelectorConfig
    base_model_prefix = "backbone"
    supports_gradient_checkpointing = True
    _no_split_modules = ["Qwen2DecoderLayer", "SiglipEncoderLayer"]
    _supports_sdpa = True
    _supports_flash_attn = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, ScoreHead):  # at the scale of the LLM's own token embeddings
            module.initialize(self.config.get_text_config().initializer_range)


class FrameSelectorModel(FrameSelectorPreTrainedModel):
    """The backbone: vision tower, projector and language model, from frames and text to hidden
    states over [frames prefix text][frame tokens][text].

    The language model is the causal-LM class, not the bare decoder, so that the next-token loss
    of training stage 1 has its LM head and the pretrained LLM is kept whole (its tied embeddings
    included); every hidden state comes from its decoder (`get_decoder`).

    `defer_init`: leave weight initialisation to the model this backbone is built into. The
    scoring model builds its head before the backbone's projector is initialised, in the order
    one class once did, so that a seed still gives the same weights (and the demo its numbers).
    """

    def __init__(self, config: FrameSelectorConfig, defer_init: bool = False):
        super().__init__(config)
        self.vision_tower = AutoModel.from_config(config.vision_config)
        self.projector = Projector(config)
        self.language_model = AutoModelForCausalLM.from_config(config.text_config)
        self._defer_init = defer_init
        self.post_init()

    def init_weights(self) -> None:
        if not self.__dict__.pop("_defer_init", False):
            super().init_weights()

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def get_decoder(self) -> nn.Module:
        return self.language_model.get_decoder()

    @property
    def packs_questions(self) -> bool:
        """Whether questions can run packed after a cached prefix (`packed_hidden_states`): only
        attention kernels that take an arbitrary mask (`PACKED_ATTENTION`) can."""
        return self.get_decoder().config._attn_implementation in PACKED_ATTENTION

    # --- frames -------------------------------------------------------------------------------

    def vision_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised frames -> (N, tokens_per_frame, vision width) pooled features.

        This is the frozen, question-independent part that training caches on disk.
        """
        out = self.vision_tower(pixel_values=pixel_values)
        if self.config.frame_pooling == "head":
            return out.pooler_output[:, None]
        hidden = out.last_hidden_state
        n, patches, width = hidden.shape
        side = int(round(patches**0.5))
        if side * side != patches:
            raise ValueError(f"vision tower returned {patches} patches, not a square grid")
        grid = hidden.transpose(1, 2).reshape(n, width, side, side)
        pooled = F.adaptive_avg_pool2d(grid, self.config.pool_size)
        return pooled.flatten(2).transpose(1, 2)

    def frame_embeddings(self, vision_features: torch.Tensor) -> torch.Tensor:
        """(..., tokens, vision width) -> (..., tokens, LLM width)."""
        return self.projector(vision_features.to(self.projector.linear_1.weight.dtype))

    def frame_states(self, hidden: torch.Tensor, start: int, n: int) -> torch.Tensor:
        """(B, L, W) hidden states -> (B, n, W): the mean over each frame's tokens, frames
        starting at sequence position `start`."""
        tokens = self.config.tokens_per_frame
        return hidden[:, start : start + n * tokens].unflatten(1, (n, tokens)).mean(dim=2)

    # --- sequence assembly --------------------------------------------------------------------

    def prefix_embeddings(
        self, vision_features: torch.Tensor, prefix_ids: torch.Tensor, frame_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames prefix text + frame tokens, and the matching attention mask.

        vision_features: (B, n_max, T, Dv); frame_mask: (B, n_max) with 1 for real candidates.
        """
        batch, n_max, tokens, _ = vision_features.shape
        frames = self.frame_embeddings(vision_features).reshape(batch, n_max * tokens, -1)
        text = self.get_input_embeddings()(prefix_ids.to(frames.device)).expand(batch, -1, -1)
        embeds = torch.cat([text.to(frames.dtype), frames], dim=1)
        mask = torch.cat(
            [
                torch.ones(batch, prefix_ids.shape[-1], dtype=torch.long, device=frames.device),
                frame_mask.to(frames.device).long().repeat_interleave(tokens, dim=1),
            ],
            dim=1,
        )
        return embeds, mask

    def sequence_embeddings(
        self,
        vision_features: torch.Tensor,
        prefix_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        input_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        num_candidates: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """[frames prefix][frames][text] as embeddings (B, L, W) and attention mask (B, L).

        The text comes as `input_ids` or as `inputs_embeds` (a scorer appends its query token);
        `num_candidates` (B,) says how many of the n_max frames are real (default all)."""
        batch, n_max = vision_features.shape[:2]
        if num_candidates is None:
            num_candidates = torch.full((batch,), n_max, dtype=torch.long)
        frame_mask = torch.arange(n_max)[None, :] < num_candidates.cpu()[:, None]
        prefix, prefix_mask = self.prefix_embeddings(vision_features, prefix_ids, frame_mask)
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids.to(prefix.device))
        embeds = torch.cat([prefix, inputs_embeds.to(prefix.dtype)], dim=1)
        mask = torch.cat([prefix_mask, attention_mask.to(prefix.device).long()], dim=1)
        return embeds, mask

    # --- forward paths ------------------------------------------------------------------------

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        prefix_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        vision_features: torch.Tensor | None = None,
        num_candidates: torch.Tensor | None = None,
    ) -> BaseModelOutputWithPast:
        """Every layer's hidden states (`hidden_states`, embeddings first) over
        [frames prefix][frames][text] for a batch of (video, text) items.

        Frames come as `pixel_values` (B, n_max, 3, H, W) or as cached `vision_features`
        (B, n_max, T, Dv); text as `input_ids` (B, L) left-padded, or `inputs_embeds`.
        """
        vision_features = self.features_of(pixel_values, vision_features)
        embeds, mask = self.sequence_embeddings(vision_features, prefix_ids, attention_mask, input_ids, inputs_embeds, num_candidates)
        return self.get_decoder()(
            inputs_embeds=embeds,
            attention_mask=mask,
            position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
            use_cache=False,
            output_hidden_states=True,
        )

    def features_of(self, pixel_values: torch.Tensor | None, vision_features: torch.Tensor | None) -> torch.Tensor:
        """(B, n_max, T, Dv) features of frames given either way (exactly one of the two)."""
        if (pixel_values is None) == (vision_features is None):
            raise ValueError("pass exactly one of pixel_values and vision_features")
        if vision_features is None:
            batch, n_max = pixel_values.shape[:2]
            vision_features = self.vision_features(pixel_values.flatten(0, 1)).unflatten(0, (batch, n_max))
        return vision_features

    @torch.no_grad()
    def frame_prefix(self, vision_features: torch.Tensor, prefix_ids: torch.Tensor, keep_frame_states: bool = False) -> FramePrefix:
        """Run one video's frames once; the result serves every question on that video.

        vision_features: (n, T, Dv) for one video. `keep_frame_states`: keep each frame's mean
        hidden state at the score layer, for a read-out that reads them.
        """
        n = vision_features.shape[0]
        if n > self.config.max_candidates:
            raise ValueError(f"{n} candidates exceed max_candidates={self.config.max_candidates}")
        embeds, mask = self.prefix_embeddings(vision_features[None], prefix_ids, torch.ones(1, n, dtype=torch.bool))
        decoder = self.get_decoder()
        out = decoder(inputs_embeds=embeds, attention_mask=mask, use_cache=True, output_hidden_states=keep_frame_states)
        frame_states = None
        if keep_frame_states:
            frame_states = self.frame_states(out.hidden_states[self.config.score_layer], prefix_ids.shape[-1], n)
        return FramePrefix(cache=out[_cache_name(decoder)], length=embeds.shape[1], num_candidates=n, frame_states=frame_states)

    def packed_hidden_states(
        self, embeds: torch.Tensor, owner: torch.Tensor, local: torch.Tensor, layers: tuple[tuple[torch.Tensor, torch.Tensor], ...],
    ) -> tuple[torch.Tensor, ...]:
        """Every layer's hidden states (1, T, W) of packed question embeddings (T, W)
        (`pack_questions`) after a cached prefix given as its per-layer (keys, values).

        Each token attends to the whole prefix and, causally, to its own question's tokens (a
        block-diagonal mask); padding tokens (owner -1) are seen by no question.
        """
        prefix_length = layers[0][0].shape[-2]
        own = (owner[:, None] == owner[None, :]) & (local[:, None] >= local[None, :])
        allowed = torch.cat([own.new_ones(len(owner), prefix_length), own], dim=1)
        mask = torch.zeros(allowed.shape, dtype=embeds.dtype, device=embeds.device)
        mask = mask.masked_fill_(~allowed, torch.finfo(embeds.dtype).min)[None, None]
        decoder = self.get_decoder()
        out = decoder(
            inputs_embeds=embeds[None],
            attention_mask=mask,
            position_ids=(prefix_length + local)[None],
            use_cache=True,
            output_hidden_states=True,
            **{_cache_name(decoder): DynamicCache(list(layers))},  # update() concatenates: the prefix stays as it is
        )
        return out.hidden_states

    def hidden_states_after_prefix(
        self, prefix: FramePrefix, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Every layer's hidden states of B left-padded texts (B, L, W) after the prefix's cache,
        copied per text (the path of attention kernels that cannot pack). The cache is left as
        it was."""
        batch = inputs_embeds.shape[0]
        decoder = self.get_decoder()
        mask = torch.cat([attention_mask.new_ones(batch, prefix.length), attention_mask], dim=1)
        cache = DynamicCache([(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v, *_ in prefix.cache])
        out = decoder(
            inputs_embeds=inputs_embeds,
            attention_mask=mask,
            position_ids=(mask.cumsum(-1) - 1).clamp(min=0)[:, prefix.length :],
            use_cache=True,
            output_hidden_states=True,
            **{_cache_name(decoder): cache},
        )
        return out.hidden_states


class FrameSelectorForFrameScoring(FrameSelectorPreTrainedModel):
    """The selector: the backbone (`backbone`), a learnable score query after the question and a
    read-out (`score_head`) into one score per candidate frame, with the training losses.

    The sequence order is the point of the design: the frame part does not depend on the
    question, so its key/value cache is computed once per video (`frame_prefix`) and every
    question on that video only runs its own few tokens (`score_with_prefix`).
    """

    def __init__(self, config: FrameSelectorConfig):
        super().__init__(config)
        self.backbone = FrameSelectorModel(config, defer_init=True)
        self.score_head = score_head_for(config)
        self.post_init()

    # The backbone's parts by their checkpoint names, as transformers' `XForY` classes expose them.
    @property
    def vision_tower(self) -> nn.Module:
        return self.backbone.vision_tower

    @property
    def projector(self) -> Projector:
        return self.backbone.projector

    @property
    def language_model(self) -> nn.Module:
        return self.backbone.language_model

    def get_input_embeddings(self) -> nn.Module:
        return self.backbone.get_input_embeddings()

    def get_decoder(self) -> nn.Module:
        return self.backbone.get_decoder()

    @property
    def packs_questions(self) -> bool:
        """Whether questions run packed after the prefix (`score_with_prefix`)."""
        return self.backbone.packs_questions

    def vision_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The backbone's pooled features of (N, 3, H, W) frames (`FrameSelectorModel.vision_features`)."""
        return self.backbone.vision_features(pixel_values)

    # --- the score query and its read-out -----------------------------------------------------

    def question_embeddings(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Question tokens (left-padded, so the query is always last) + the score query."""
        embeds = self.get_input_embeddings()(input_ids)
        query = self.score_head.query.to(embeds.dtype).expand(input_ids.shape[0], -1, -1)
        mask = torch.cat([attention_mask.long(), attention_mask.new_ones(input_ids.shape[0], 1).long()], dim=1)
        return torch.cat([embeds, query], dim=1), mask

    def read_scores(self, query_state: torch.Tensor, num_candidates: torch.Tensor, frame_states: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, max_candidates), -inf beyond each item's candidate count."""
        logits = self.score_head(query_state, frame_states).float()
        if logits.shape[1] < self.config.max_candidates:
            logits = F.pad(logits, (0, self.config.max_candidates - logits.shape[1]), value=float("-inf"))
        positions = torch.arange(self.config.max_candidates, device=logits.device)
        return logits.masked_fill(positions[None, :] >= num_candidates.to(logits.device)[:, None], float("-inf"))

    def candidate_scores(self, logits: torch.Tensor) -> torch.Tensor:
        """Scores in [0, 1] from (B, n) logits of real candidates, in float64, ordered as the logits.

        A BCE-trained head is calibrated per candidate: its sigmoid. A listwise head is only
        defined up to a shift, so its logits drift far from 0 and a float32 sigmoid rounds the
        best candidates to exactly 1.0 (ties that selection would then break by position): its
        scores are the softmax over the candidates, which sum to 1.
        """
        if self.config.score_loss == "listwise":
            return torch.softmax(logits.double(), dim=-1)
        return torch.sigmoid(logits.double())

    # --- forward paths ------------------------------------------------------------------------

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        prefix_ids: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        vision_features: torch.Tensor | None = None,
        num_candidates: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        targets: torch.Tensor | None = None,
    ) -> FrameSelectorOutput:
        """Score a batch of (video, question) items in one pass (the training path); the
        processor's output (`FrameSelectorProcessor.__call__`) is these arguments.

        With next-token `targets` (B, L) instead, `input_ids` is a right-padded conversation and
        the output is its language-modelling loss (`language_modeling_loss`); both losses go
        through `forward` so that wrappers such as DDP and peft see every training step.

        input_ids / attention_mask: (B, L) question tokens, left-padded. prefix_ids: (P,) tokens of
        the processor's `frames_prefix`. Frames come as `pixel_values` (B, n_max, 3, H, W) or as cached
        `vision_features` (B, n_max, T, Dv); `num_candidates` (B,) says how many are real (default
        n_max). `labels` (B, >= n) soft targets in [0, 1]; positions beyond n are ignored.
        """
        vision_features = self.backbone.features_of(pixel_values, vision_features)
        if targets is not None:
            loss = self.language_modeling_loss(vision_features, prefix_ids, input_ids, attention_mask, targets, num_candidates)
            return FrameSelectorOutput(loss=loss)
        batch, n_max = vision_features.shape[:2]
        if n_max > self.config.max_candidates:
            raise ValueError(f"{n_max} candidates exceed max_candidates={self.config.max_candidates}")
        if num_candidates is None:
            num_candidates = torch.full((batch,), n_max, dtype=torch.long)
        device = self.get_input_embeddings().weight.device
        question, question_mask = self.question_embeddings(input_ids.to(device), attention_mask.to(device))
        hidden = self.backbone(attention_mask=question_mask, prefix_ids=prefix_ids, inputs_embeds=question,
                            vision_features=vision_features, num_candidates=num_candidates).hidden_states[self.config.score_layer]
        frame_states = None
        if self.score_head.reads_frames:
            frame_states = self.backbone.frame_states(hidden, prefix_ids.shape[-1], n_max)
        logits = self.read_scores(hidden[:, -1], num_candidates, frame_states)
        loss = None
        if labels is not None:
            loss = score_loss(logits, labels, self.config.score_loss)
        return FrameSelectorOutput(loss=loss, logits=logits)

    def language_modeling_loss(
        self,
        vision_features: torch.Tensor,
        prefix_ids: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor,
        num_candidates: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Next-token loss of the selector's own LM on [frames prefix][frames][conversation].

        Stage 1 of training alternates this with the score loss, so the projector learns to
        speak the LLM's language and not only to please the score head. input_ids / labels:
        (B, L) right-padded conversation tokens; labels are -100 except on answer tokens.
        """
        embeds, mask = self.backbone.sequence_embeddings(vision_features, prefix_ids, attention_mask, input_ids,
                                                      num_candidates=num_candidates)
        ignore = torch.full((embeds.shape[0], embeds.shape[1] - labels.shape[1]), -100, dtype=torch.long, device=embeds.device)
        targets = torch.cat([ignore, labels.to(embeds.device)], dim=1)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        return self.language_model(inputs_embeds=embeds, attention_mask=mask, position_ids=position_ids, labels=targets).loss

    @torch.no_grad()
    def frame_prefix(self, vision_features: torch.Tensor, prefix_ids: torch.Tensor) -> FramePrefix:
        """Run one video's frames once, keeping what the read-out needs of them; the result
        serves every question on that video. vision_features: (n, T, Dv) for one video."""
        return self.backbone.frame_prefix(vision_features, prefix_ids, keep_frame_states=self.score_head.reads_frames)

    def packed_question_states(
        self, ids: torch.Tensor, query: torch.Tensor, owner: torch.Tensor, local: torch.Tensor,
        layers: tuple[tuple[torch.Tensor, torch.Tensor], ...],
    ) -> torch.Tensor:
        """Hidden states (1, T, W) at the score layer of packed questions (`pack_questions`) after
        a cached prefix given as its per-layer (keys, values).

        Tensors in, a tensor out, shapes fixed by T and the prefix length: this is the function
        `torch.compile` captures (`selector.compiling`), so it holds no Python that reads data.
        """
        embeds = self.get_input_embeddings()(ids)
        embeds = torch.where(query[:, None], self.score_head.query[0].to(embeds.dtype), embeds)
        return self.backbone.packed_hidden_states(embeds, owner, local, layers)[self.config.score_layer]

    @torch.no_grad()
    def score_with_prefix(
        self,
        prefix: FramePrefix,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        length: int | None = None,
        states: QuestionStates | None = None,
        packed: bool = True,
    ) -> torch.Tensor:
        """Logits (B, max_candidates) for B questions on the video of `prefix`, reusing its cache.

        The B questions run as one packed sequence after the prefix: each attends to the frames
        and, causally, to its own tokens (a block-diagonal mask), so the prefix's keys and values
        are neither copied per question nor repeated per question for grouped-query attention
        (with `sdpa` and `eager`; other kernels get a batch-expanded cache). The prefix cache is
        not modified.

        `length` pads the packed sequence to that many tokens and `states` replaces
        `packed_question_states` (packed kernels only): a compiled step sees a few fixed shapes
        (`selector.compiling.CompiledQuestions`). Padding changes no score.

        `packed=False` takes the batch-expanded cache even where the kernel could pack: the path
        before packing, kept so that benchmarks can measure what packing saves. Same scores.
        """
        batch = input_ids.shape[0]
        device = prefix.cache.layers[0].keys.device
        if packed and self.packs_questions:
            tokens = pack_questions(input_ids, attention_mask, length).to(device)
            layers = tuple((k, v) for k, v, *_ in prefix.cache)
            hidden = (states or self.packed_question_states)(tokens.ids, tokens.query, tokens.owner, tokens.local, layers)
            query_state = hidden[0, tokens.last]
        else:
            if length is not None or states is not None:
                raise ValueError(f"padding and compiled steps need packed attention ({', '.join(sorted(PACKED_ATTENTION))})")
            question, question_mask = self.question_embeddings(input_ids.to(device), attention_mask.to(device))
            query_state = self.backbone.hidden_states_after_prefix(prefix, question, question_mask)[self.config.score_layer][:, -1]
        frame_states = None if prefix.frame_states is None else prefix.frame_states.expand(batch, -1, -1)
        return self.read_scores(query_state, torch.full((batch,), prefix.num_candidates), frame_states)


# As for transformers' own models, `AutoModel.from_pretrained(checkpoint)` gives the backbone (once this
# module is imported); the scoring model is loaded by name (`FrameSelectorForFrameScoring`).
AutoModel.register(FrameSelectorConfig, FrameSelectorModel, exist_ok=True)

__all__ = ["FrameSelectorForFrameScoring", "FrameSelectorModel", "FrameSelectorOutput", "FramePrefix", "Projector"]
