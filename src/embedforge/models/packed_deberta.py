"""Unpadded ("packed") forward of DeBERTa-v2 and -v3 encoders (the backbone of many cross-encoder rerankers).

DeBERTa's attention is disentangled: besides content-to-content scores, each layer adds content-to-position and
position-to-content scores gathered by the relative distance between two positions (log-bucketed in v3), and it
does not go through transformers' AttentionInterface. Its packed forward is therefore written out here, layer by
layer, from the model's own modules: the embeddings, the query/key/value projections, the attention output, the
feed-forward layers, layer norms and dropout run on the real tokens as one row ``(1, tokens, hidden)``; the scores
are formed on the padded grid by the layer's own ``disentangled_attention_bias`` (the relative positions depend
only on the grid's width), masked where either position is padding, as transformers' forward masks them. The real
tokens' outputs are the padded forward's up to float rounding (``tests/unit/models/test_packed_deberta.py``).
Models with DeBERTa-v2's convolution layer (``conv_kernel_size``) keep the padded forward.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from torch import nn

    from embedforge.models.packing import Packing

__all__ = ["packed_deberta_hidden_states"]


def packed_deberta_hidden_states(model: nn.Module, inputs: dict[str, Tensor], packing: Packing) -> Tensor:
    """DeBERTa-v2's last hidden state over the packed tokens.

    Args:
        model: A transformers ``DebertaV2Model`` without a convolution layer.
        inputs: ``input_ids``, ``position_ids`` (and ``token_type_ids``), each ``(1, tokens)``: the batch's real
            tokens, text after text, and each one's position within its text.
        packing: Where the tokens sit in the padded ``(batch, seq_len)`` grid.

    Returns:
        ``(1, tokens, hidden)``.
    """
    hidden = model.embeddings(**inputs)  # the padded forward's mask multiplies real tokens by 1
    encoder = model.encoder
    seq_len = packing.mask.shape[1]
    relative_pos = encoder.get_rel_pos(hidden.new_empty(1, seq_len, 1))  # reads only the width and the device
    rel_embeddings = encoder.get_rel_embedding()
    mask = packing.mask[:, None, :, None] & packing.mask[:, None, None, :]  # (batch, 1, seq_len, seq_len)
    for layer in encoder.layer:
        context = _grid_attention(layer.attention.self, hidden, mask, relative_pos, rel_embeddings, packing)
        attention_output = layer.attention.output(context, hidden)
        hidden = layer.output(layer.intermediate(attention_output), attention_output)
    return hidden


def _grid_attention(
    attn: nn.Module,
    hidden: Tensor,
    mask: Tensor,
    relative_pos: Tensor | None,
    rel_embeddings: Tensor | None,
    packing: Packing,
) -> Tensor:
    """One disentangled self-attention over packed tokens, before the attention output layer.

    Args:
        attn: The layer's ``DisentangledSelfAttention``.
        hidden: ``(1, tokens, hidden)``.
        mask: ``(batch, 1, seq_len, seq_len)`` bool, True where query and key are both real tokens.
        relative_pos: ``(1, seq_len, seq_len)`` relative (bucketed) positions, or None without relative attention.
        rel_embeddings: The encoder's relative-position embeddings, or None.
        packing: The batch's packing.

    Returns:
        ``(1, tokens, heads * head_dim)``.
    """
    heads = attn.num_attention_heads

    def to_grid(projection: nn.Module) -> Tensor:  # (1, tokens, hidden) -> (batch * heads, seq_len, head_dim)
        return attn.transpose_for_scores(packing.unpack(projection(hidden)[0]), heads)

    query, key, value = to_grid(attn.query_proj), to_grid(attn.key_proj), to_grid(attn.value_proj)
    scale_factor = 1 + ("c2p" in attn.pos_att_type) + ("p2c" in attn.pos_att_type)
    scale = torch.sqrt(torch.tensor(query.size(-1), dtype=torch.float) * scale_factor).to(query.dtype)
    scores = torch.bmm(query, key.transpose(-1, -2) / scale)
    if attn.relative_attention:
        bias = attn.disentangled_attention_bias(
            query, key, relative_pos, attn.pos_dropout(rel_embeddings), scale_factor
        )
        scores = scores + bias
    batch, seq_len = packing.mask.shape
    scores = scores.view(batch, heads, seq_len, seq_len).masked_fill(~mask, torch.finfo(query.dtype).min)
    probabilities = attn.dropout(torch.softmax(scores, dim=-1))
    context = torch.bmm(probabilities.view(-1, seq_len, seq_len), value)  # (batch * heads, seq_len, head_dim)
    context = context.view(batch, heads, seq_len, -1).transpose(1, 2)  # (batch, seq_len, heads, head_dim)
    return packing.pack(context).reshape(1, -1, heads * context.shape[-1])
