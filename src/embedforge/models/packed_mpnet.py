"""Unpadded ("packed") forward of MPNet encoders (all-mpnet-base-v2 and its kin).

MPNet's attention does not go through transformers' AttentionInterface: each layer adds a relative-position bias,
computed once per forward by the encoder, to its attention scores. So its packed forward is written out here,
layer by layer, from the model's own modules: the embeddings, every linear layer, layer norm, GELU and dropout
run on the real tokens as one row ``(1, tokens, hidden)``; attention scatters queries, keys and values into the
padded grid and runs ``scaled_dot_product_attention`` with the relative-position bias (the same for every text:
it depends only on the distance between two positions) plus the padding mask. The real tokens' outputs are the
padded forward's up to float rounding (``tests/unit/models/test_packing.py``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from torch import nn

    from embedforge.models.packing import Packing

__all__ = ["packed_mpnet_hidden_states"]


def packed_mpnet_hidden_states(model: nn.Module, inputs: dict[str, Tensor], packing: Packing) -> Tensor:
    """MPNet's last hidden state over the packed tokens.

    Args:
        model: A transformers ``MPNetModel``.
        inputs: ``input_ids`` and ``position_ids``, each ``(1, tokens)``: the batch's real tokens, text after text,
            and each one's position id (``padding_idx + 1`` for a text's first token).
        packing: Where the tokens sit in the padded ``(batch, seq_len)`` grid.

    Returns:
        ``(1, tokens, hidden)``.
    """
    hidden = model.embeddings(**inputs)
    batch, seq_len = packing.mask.shape
    grid = hidden.new_empty(1, seq_len)  # compute_position_bias reads only the shape and the device
    bias = model.encoder.compute_position_bias(grid).to(hidden.dtype)  # (1, heads, seq_len, seq_len)
    padding = torch.zeros(batch, 1, 1, seq_len, dtype=hidden.dtype, device=hidden.device)
    bias = bias + padding.masked_fill_(~packing.mask[:, None, None, :], float("-inf"))  # (batch, heads, L, L)
    for layer in model.encoder.layer:
        attention = layer.attention
        context = _grid_attention(attention.attn, hidden, bias, packing)
        attention_output = attention.LayerNorm(attention.dropout(attention.attn.o(context)) + hidden)
        hidden = layer.output(layer.intermediate(attention_output), attention_output)
    return hidden


def _grid_attention(attn: nn.Module, hidden: Tensor, bias: Tensor, packing: Packing) -> Tensor:
    """One MPNet self-attention over packed tokens: ``softmax(q kᵀ / √d + bias) v`` per text, before ``o``.

    Args:
        attn: The layer's ``MPNetSelfAttention`` (``q``, ``k``, ``v``, dropout, head counts).
        hidden: ``(1, tokens, hidden)``.
        bias: ``(batch, heads, seq_len, seq_len)`` relative-position bias plus the padding mask.
        packing: The batch's packing.

    Returns:
        ``(1, tokens, hidden)`` the heads' outputs, concatenated.
    """
    heads, head_dim = attn.num_attention_heads, attn.attention_head_size

    def to_grid(projection: nn.Module) -> Tensor:  # (1, tokens, hidden) -> (batch, heads, seq_len, head_dim)
        packed = projection(hidden)[0].view(-1, heads, head_dim)
        return packing.unpack(packed).transpose(1, 2)

    dropout = attn.dropout.p if attn.training else 0.0
    output = F.scaled_dot_product_attention(
        to_grid(attn.q), to_grid(attn.k), to_grid(attn.v), attn_mask=bias, dropout_p=dropout,
        scale=1.0 / math.sqrt(head_dim),
    )  # fmt: skip
    return packing.pack(output.transpose(1, 2)).reshape(1, -1, heads * head_dim)
