"""Unpadded ("packed") forward of BERT-style encoders: every layer but attention sees only the real tokens.

A batch of texts padded to ``(batch, seq_len)`` wastes the padded positions' share of every linear layer, layer
norm, GELU and dropout, forward and backward; on random training batches that share is large (STSb pairs at
batch 16: 55% of the positions are padding). Here the real tokens of the batch are gathered into one row
``(1, tokens)`` with their own position ids, run through the unchanged transformers model, and scattered back
into ``(batch, seq_len, hidden)``. Only attention needs the per-text layout: a registered attention function
scatters queries, keys and values into the padded grid, runs ``scaled_dot_product_attention`` with the padding
mask (explicit matmuls for short dropout-free grids on CPU) and gathers the result. The real tokens' outputs are
those of the padded forward (up to float rounding); padded positions come back as zeros (pooling ignores them).

The encoders (:data:`PACKABLE_MODEL_CLASSES`): those whose transformers model takes ``position_ids`` and runs
attention through transformers' AttentionInterface (BERT, RoBERTa, XLM-RoBERTa, CamemBERT, ELECTRA, DistilBERT,
and ModernBERT with its rotary positions and local-attention layers), and MPNet, whose layers add a
relative-position bias to the attention scores, and DeBERTa-v2/v3, whose attention is disentangled: their packed
forwards are written out in :mod:`embedforge.models.packed_mpnet` and :mod:`embedforge.models.packed_deberta`
(grid attention only). RoBERTa's family and MPNet count positions from
``padding_idx + 1`` (:data:`POSITIONS_AFTER_PADDING`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

from embedforge.engine.varlen import VARLEN_KEY, VarlenLayout

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from embedforge.models.base import Features

__all__ = [
    "OWN_PACKED_FORWARD",
    "PACKABLE_MODEL_CLASSES",
    "PACKED_ATTENTION",
    "POSITIONS_AFTER_PADDING",
    "SHORT_GRID_MAX_LEN",
    "TOKEN_TYPE_MODEL_TYPES",
    "VARLEN_ATTENTION",
    "Packing",
    "can_pack",
    "is_packable",
    "nested_attention",
    "packed_sdpa_attention",
    "packed_token_embeddings",
    "packs_in_encode",
]

PACKED_ATTENTION = "embedforge_packed_sdpa"
"""Name under which :func:`packed_sdpa_attention` is registered with transformers' AttentionInterface."""
PACKABLE_MODEL_CLASSES: dict[str, frozenset[str]] = {
    "bert": frozenset({"BertModel", "BertForSequenceClassification"}),
    "roberta": frozenset({"RobertaModel", "RobertaForSequenceClassification"}),
    "xlm-roberta": frozenset({"XLMRobertaModel", "XLMRobertaForSequenceClassification"}),
    "camembert": frozenset({"CamembertModel", "CamembertForSequenceClassification"}),
    "electra": frozenset({"ElectraModel", "ElectraForSequenceClassification"}),
    "distilbert": frozenset({"DistilBertModel", "DistilBertForSequenceClassification"}),
    "mpnet": frozenset({"MPNetModel", "MPNetForSequenceClassification"}),
    "modernbert": frozenset({"ModernBertModel", "ModernBertForSequenceClassification"}),
    "deberta-v2": frozenset({"DebertaV2Model", "DebertaV2ForSequenceClassification"}),
}
"""Per model type, the transformers classes whose forward :func:`packed_token_embeddings` (and, for the sequence
classifiers, :func:`embedforge.models.packed_heads.packed_sequence_logits`) reproduce: their embeddings take
``position_ids`` and their attention goes through transformers' AttentionInterface, or
(:data:`OWN_PACKED_FORWARD`) embedforge writes their layers out."""
POSITIONS_AFTER_PADDING = frozenset({"roberta", "xlm-roberta", "camembert", "mpnet"})
"""Model types whose position ids start after the padding index (fairseq's convention): a text's first token sits
at position ``embeddings.padding_idx + 1``; the others count from 0."""
TOKEN_TYPE_MODEL_TYPES = frozenset({"bert", "roberta", "xlm-roberta", "camembert", "electra", "deberta-v2"})
"""Packable model types whose forward takes ``token_type_ids`` (DistilBERT's, MPNet's and ModernBERT's do not).
Written down rather than read from the forward's signature at each call: the packed forward runs inside
``torch.compile``, where a cached signature lookup would be traced (and warned about) at every compilation."""
OWN_PACKED_FORWARD = frozenset({"mpnet", "deberta-v2"})
"""Model types whose packed forward embedforge writes out layer by layer (their attention is not transformers'
AttentionInterface: MPNet's relative-position bias, DeBERTa's disentangled attention): any ``attn_implementation``
of theirs packs, attention always on the padded grid."""
SHORT_GRID_MAX_LEN = 64
"""Longest padded grid whose dropout-free attention on CPU runs as explicit matmuls: for short texts they beat
torch's fused SDPA kernel (whose blocking targets long sequences); beyond, the fused kernel wins and the explicit
``(batch, heads, seq_len, seq_len)`` scores would grow quadratically."""
VARLEN_ATTENTION = "auto"
"""How attention runs for batches whose collator made a layout: ``"nested"`` (nested jagged tensors through
``scaled_dot_product_attention``: variable-length kernels on GPUs), ``"grid"`` (scatter into the padded grid, masked
SDPA, gather) or ``"auto"``: nested on CUDA, grid elsewhere (on CPU the grid is faster: the nested math kernel loops
over texts)."""
_PACKING_KWARG = "embedforge_packing"
_registered = False


@dataclass(frozen=True)
class Packing:
    """Where the real tokens of a right-padded ``(batch, seq_len)`` batch sit.

    Attributes:
        mask: ``(batch, seq_len)`` bool, True at real tokens.
        index: ``(tokens,)`` flat positions of the real tokens in the ``batch * seq_len`` grid.
        layout: The collator's :class:`~embedforge.engine.varlen.VarlenLayout` of the batch, when it made one:
            its cumulative lengths let attention run over the variable-length texts directly.
    """

    mask: Tensor
    index: Tensor
    layout: VarlenLayout | None = None

    @classmethod
    def from_attention_mask(cls, attention_mask: Tensor) -> Packing:
        """The packing of ``attention_mask`` ``(batch, seq_len)`` (``nonzero``: a host sync on GPUs)."""
        mask = attention_mask.bool()
        return cls(mask, mask.flatten().nonzero().squeeze(1))

    @classmethod
    def from_features(cls, features: Features) -> Packing:
        """The packing of a column: from its precomputed layout (no host sync) if it has one, else its mask."""
        layout = features.get(VARLEN_KEY)
        if isinstance(layout, VarlenLayout):
            return cls(features["attention_mask"].bool(), layout.index, layout)
        return cls.from_attention_mask(features["attention_mask"])

    def position_ids(self) -> Tensor:
        """``(1, tokens)``: each real token's position within its text."""
        if self.layout is not None:
            return self.layout.position_ids
        return self.pack((self.mask.cumsum(1) - 1).unsqueeze(-1)).T

    def pack(self, tensor: Tensor) -> Tensor:
        """``(batch, seq_len, ...)`` -> ``(tokens, ...)``."""
        return tensor.flatten(0, 1).index_select(0, self.index)

    def unpack(self, tensor: Tensor) -> Tensor:
        """``(tokens, ...)`` -> ``(batch, seq_len, ...)``, zeros at padded positions."""
        batch, seq_len = self.mask.shape
        grid = tensor.new_zeros(batch * seq_len, *tensor.shape[1:])
        return grid.index_copy(0, self.index, tensor).view(batch, seq_len, *tensor.shape[1:])


def packed_sdpa_attention(
    module: torch.nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[Tensor, None]:
    """Attention over packed tokens, per text; without a packing it is transformers' SDPA attention.

    Args:
        module: The attention module (transformers' interface).
        query: ``(1, heads, tokens, head_dim)``; keys and values alike.
        key: See ``query``.
        value: See ``query``.
        attention_mask: Unused for packed inputs (the packing holds the mask).
        scaling: Score scale, default ``head_dim ** -0.5``.
        dropout: Attention-probability dropout.
        **kwargs: ``embedforge_packing``: the :class:`Packing` of the batch; ``sliding_window``: set by the local
            attention layers of ModernBERT (see :func:`_band_limit`).

    Returns:
        ``(1, tokens, heads, head_dim)`` and no attention weights.
    """
    packing: Packing | None = kwargs.pop(_PACKING_KWARG, None)
    if packing is None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
        )
    band = _band_limit(module, kwargs.get("sliding_window"), packing.mask.shape[1])
    if band is None and packing.layout is not None and nested_attention(query.device):
        return _nested_attention_forward(query, key, value, packing.layout, scaling, dropout), None
    grid = [packing.unpack(tensor[0].transpose(0, 1)).transpose(1, 2) for tensor in (query, key, value)]
    mask = packing.mask[:, None, None, :]
    if band is not None:  # local attention: keys within ``band`` positions of the query, (batch, 1, L, L)
        positions = torch.arange(packing.mask.shape[1], device=query.device)
        near = (positions[:, None] - positions[None, :]).abs() <= band
        # a padded query (output discarded) keeps every real key: a row with none would give NaN gradients
        mask = mask & (near | ~packing.mask[:, None, :, None])
    if dropout == 0.0 and query.device.type == "cpu" and packing.mask.shape[1] <= SHORT_GRID_MAX_LEN:
        output = _short_grid_attention(*grid, mask, scaling)
    else:
        output = F.scaled_dot_product_attention(*grid, attn_mask=mask, dropout_p=dropout, scale=scaling)
    return packing.pack(output.transpose(1, 2)).unsqueeze(0), None  # output: (batch, heads, seq_len, head_dim)


def _band_limit(module: torch.nn.Module, sliding_window: int | None, seq_len: int) -> int | None:
    """The farthest key a query may attend to in a local (sliding-window) attention layer, or None: no limit.

    ModernBERT's local layers pass ``sliding_window`` in flash attention's form (the distance plus one); its padded
    SDPA forward lets a query reach keys up to ``config.sliding_window`` positions away, which is what is read
    here. None too when no text of the ``seq_len``-wide grid is long enough for the limit to matter.
    """
    if sliding_window is None:
        return None
    distance = int(module.config.sliding_window)
    return None if seq_len - 1 <= distance else distance


def nested_attention(device: torch.device) -> bool:
    """Whether attention over a layout runs on nested jagged tensors (VARLEN_ATTENTION's rule)."""
    if VARLEN_ATTENTION == "auto":
        return device.type == "cuda"
    return VARLEN_ATTENTION == "nested"


def _nested_attention_forward(
    query: Tensor, key: Tensor, value: Tensor, layout: VarlenLayout, scaling: float | None, dropout: float
) -> Tensor:
    """Attention per text over the packed tokens as nested jagged tensors: no padded grid at all.

    ``scaled_dot_product_attention`` on jagged tensors dispatches to the variable-length flash / memory-efficient
    kernels on GPUs (dropout included); on CPU it runs each text through the math kernel (tests).

    Args:
        query: ``(1, heads, tokens, head_dim)``; keys and values alike.
        key: See ``query``.
        value: See ``query``.
        layout: The batch's layout (offsets and the shortest/longest text, known on the host: no sync).
        scaling: Score scale, default ``head_dim ** -0.5``.
        dropout: Attention-probability dropout.

    Returns:
        ``(1, tokens, heads, head_dim)``.
    """

    def jagged(tensor: Tensor) -> Tensor:  # (1, heads, tokens, dim) -> (batch, heads, j, dim)
        return torch.nested.nested_tensor_from_jagged(
            tensor[0].transpose(0, 1).contiguous(),  # ModernBERT: views into one fused qkv projection
            offsets=layout.cu_seqlens,
            min_seqlen=layout.min_seqlen,
            max_seqlen=layout.max_seqlen,
        ).transpose(1, 2)

    output = F.scaled_dot_product_attention(jagged(query), jagged(key), jagged(value), dropout_p=dropout, scale=scaling)
    return output.transpose(1, 2).values().unsqueeze(0)


def _short_grid_attention(query: Tensor, key: Tensor, value: Tensor, mask: Tensor, scaling: float | None) -> Tensor:
    """``softmax(q kᵀ · scale + mask bias) v`` as two batched matmuls, for grids of at most SHORT_GRID_MAX_LEN.

    Args:
        query: ``(batch, heads, seq_len, head_dim)``; keys and values alike.
        key: See ``query``.
        value: See ``query``.
        mask: ``(batch, 1, 1, seq_len)`` bool, True at real keys (every text has at least one).
        scaling: Score scale, default ``head_dim ** -0.5``.

    Returns:
        ``(batch, heads, seq_len, head_dim)``.
    """
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    bias = torch.zeros(mask.shape, dtype=query.dtype, device=query.device).masked_fill_(~mask, float("-inf"))
    scores = torch.matmul(query, key.transpose(-1, -2)).mul_(scale).add_(bias)  # (batch, heads, seq, seq)
    return torch.matmul(scores.softmax(-1), value)


def is_packable(model: PreTrainedModel) -> bool:
    """Whether ``model``'s type and class have the packed forward (:data:`PACKABLE_MODEL_CLASSES`)."""
    if getattr(model.config, "conv_kernel_size", 0):  # DeBERTa-v2's convolution layer reads the padded grid
        return False
    return type(model).__name__ in PACKABLE_MODEL_CLASSES.get(model.config.model_type, ())


def packs_in_encode(model: PreTrainedModel, unpad: bool | None) -> bool:
    """Whether ``encode`` batches ``model`` with packed layouts (its forward then runs unpadded).

    On CUDA only (on CPU, length-sorted batches have too little padding to pay for the gathers), for packable
    models, unless ``unpad`` is False; MPNet only when ``unpad`` is True: its attention stays on the padded grid, so
    length-sorted batches would pay the gathers for little padding saved.
    """
    chosen = unpad is True or (unpad is None and model.config.model_type not in OWN_PACKED_FORWARD)
    return chosen and is_packable(model) and model.device.type == "cuda"


def can_pack(model: PreTrainedModel, features: Features, padding_side: str, in_eval: bool = False) -> bool:
    """Whether to run ``model`` on ``features`` with :func:`packed_token_embeddings`.

    In training mode (``model.training``); in eval mode only when ``in_eval`` (cross-encoder scoring: its pairs'
    lengths vary more within a batch) or when the features carry a :class:`VarlenLayout` (whoever built the batch
    asked for the unpadded forward: the training collator, GPU ``encode``). Otherwise ``encode`` and evaluation
    keep transformers' padded forward (their batches are already formed by token count). With a layout, whether
    the batch has padding is known on the host (no device sync). Training mode, not ``torch.is_grad_enabled()``,
    decides, so that GradCache's gradient-free first pass and its replayed second pass draw the same dropout masks
    over the same shapes. Modules after the encoder that read padded positions (``CNN``) see zeros there in
    training.
    """
    config = model.config
    mask = features.get("attention_mask")
    layout = features.get(VARLEN_KEY)
    layout = layout if isinstance(layout, VarlenLayout) else None
    return (
        (model.training or in_eval or layout is not None)
        and is_packable(model)
        and (config._attn_implementation == "sdpa" or config.model_type in OWN_PACKED_FORWARD)
        and not config.output_hidden_states
        and not config.output_attentions
        and not _activation_checkpointing(model)
        and padding_side == "right"
        and mask is not None
        and mask.dim() == 2
        and "inputs_embeds" not in features
        and "position_ids" not in features
        and (layout.has_padding if layout is not None else not bool(mask.all()))
    )


def _activation_checkpointing(model: PreTrainedModel) -> bool:
    """Whether any submodule recomputes activations (transformers' ``gradient_checkpointing`` flag).

    Read directly: the property that reports it is named differently across transformers versions (and the old
    name warns in transformers 5.2x).
    """
    return any(getattr(module, "gradient_checkpointing", False) is True for module in model.modules())


def packed_token_embeddings(model: PreTrainedModel, features: Features) -> Tensor:
    """The encoder's last hidden state ``(batch, seq_len, hidden)`` computed on the real tokens only.

    Args:
        model: A model for which :func:`can_pack` holds.
        features: ``input_ids``, ``attention_mask`` (and ``token_type_ids``), each ``(batch, seq_len)``.

    Returns:
        ``(batch, seq_len, hidden)``, zeros at padded positions.
    """
    packing = Packing.from_features(features)
    position_ids = packing.position_ids()
    model_type = model.config.model_type
    if model_type in POSITIONS_AFTER_PADDING:
        position_ids = position_ids + (model.embeddings.padding_idx + 1)
    inputs = {"position_ids": position_ids}
    names = ("input_ids", "token_type_ids") if model_type in TOKEN_TYPE_MODEL_TYPES else ("input_ids",)
    for name in names:
        if name in features:
            inputs[name] = packing.pack(features[name].unsqueeze(-1)).T  # (1, tokens)
    if model_type in OWN_PACKED_FORWARD:  # its layers written out, from the same packed inputs
        from embedforge.models.packed_deberta import packed_deberta_hidden_states
        from embedforge.models.packed_mpnet import packed_mpnet_hidden_states

        forward = packed_mpnet_hidden_states if model_type == "mpnet" else packed_deberta_hidden_states
        return packing.unpack(forward(model, inputs, packing)[0])
    with _packed_attention(model):
        output = model(**inputs, return_dict=True, **{_PACKING_KWARG: packing})
    return packing.unpack(output.last_hidden_state[0])


@contextmanager
def _packed_attention(model: PreTrainedModel) -> Iterator[None]:
    """Route ``model``'s attention through :func:`packed_sdpa_attention` for one call."""
    _register()
    previous = model.config._attn_implementation
    model.config._attn_implementation = PACKED_ATTENTION
    try:
        yield
    finally:
        model.config._attn_implementation = previous


def _register() -> None:
    global _registered  # noqa: PLW0603 - registering once per process
    if _registered:
        return
    from transformers import AttentionInterface

    # Registered as an attention function only, with no mask function: transformers' mask builders then return no
    # mask for the packed row at once. A registered mask function (even one returning None) made them first look
    # for packed sequences in the position ids, a device-to-host sync per forward on GPUs; a real mask would be
    # (tokens, tokens). The packing holds the layout.
    AttentionInterface.register(PACKED_ATTENTION, packed_sdpa_attention)
    _registered = True
