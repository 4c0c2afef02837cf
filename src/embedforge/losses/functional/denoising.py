"""Math of the denoising auto-encoder (TSDAE) loss: next-token cross-entropy of the reconstruction."""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F

__all__ = ["reconstruction_loss", "teacher_forcing_inputs"]


def teacher_forcing_inputs(target_ids: Tensor) -> tuple[Tensor, Tensor]:
    """Split target token ids into decoder inputs and the tokens they must predict.

    Args:
        target_ids: ``(batch, seq)`` token ids of the original sentences.

    Returns:
        ``(decoder_input_ids, label_ids)``, both ``(batch, seq - 1)``: the ids without the last token, and the ids
        without the first token.
    """
    return target_ids[:, :-1], target_ids[:, 1:]


def reconstruction_loss(logits: Tensor, label_ids: Tensor, pad_token_id: int | None) -> Tensor:
    """Mean cross-entropy of the decoder's predictions over the non-padding target tokens.

    Args:
        logits: ``(batch, seq, vocab)`` decoder logits.
        label_ids: ``(batch, seq)`` tokens to predict.
        pad_token_id: Padding id, left out of the mean; None to count every token.

    Returns:
        Scalar loss.
    """
    ignore_index = -100 if pad_token_id is None else pad_token_id
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), label_ids.reshape(-1), ignore_index=ignore_index)
