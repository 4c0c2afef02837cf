"""Pooling: token embeddings → one fixed-size sentence embedding."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from torch import Tensor

from embedforge.models.base import Features, Module

PoolingMode = Literal["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]
POOLING_MODES: tuple[str, ...] = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")

_LEGACY_MODE_KEYS: dict[str, str] = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


def modes_from_legacy_flags(flags: dict[str, Any]) -> str | tuple[str, ...]:
    """Translate the ``pooling_mode_*_tokens`` booleans of old configs into a ``pooling_mode`` value."""
    active = tuple(mode for key, mode in _LEGACY_MODE_KEYS.items() if flags.get(key, False))
    if not active:
        return "mean"
    return active[0] if len(active) == 1 else active


class Pooling(Module):
    """Pools ``token_embeddings`` of shape ``(batch, seq_len, dim)`` into ``sentence_embedding``.

    Several modes may be combined (a tuple); their outputs are concatenated, giving
    ``(batch, len(modes) * dim)``. Padding is excluded through ``attention_mask``; with
    ``include_prompt=False`` the first ``prompt_length`` real tokens are excluded as well.

    Args:
        embedding_dimension: Size ``dim`` of the token embeddings.
        pooling_mode: One of ``"cls"`` (first real token), ``"max"``, ``"mean"``, ``"mean_sqrt_len_tokens"``
            (sum / sqrt(length)), ``"weightedmean"`` (position-weighted mean), ``"lasttoken"``, or a tuple
            of them.
        include_prompt: Whether prompt tokens take part in pooling.

    Example:
        >>> import torch
        >>> pooling = Pooling(4, pooling_mode="mean")
        >>> out = pooling({"token_embeddings": torch.ones(2, 3, 4), "attention_mask": torch.ones(2, 3)})
        >>> out["sentence_embedding"].shape
        torch.Size([2, 4])
    """

    POOLING_MODES: ClassVar[tuple[str, ...]] = POOLING_MODES
    config_keys: ClassVar[tuple[str, ...]] = ("embedding_dimension", "pooling_mode", "include_prompt")

    def __init__(
        self,
        embedding_dimension: int,
        pooling_mode: PoolingMode | tuple[PoolingMode, ...] | list[PoolingMode] = "mean",
        include_prompt: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(pooling_mode, (list, tuple)):
            pooling_mode = pooling_mode[0] if len(pooling_mode) == 1 else tuple(pooling_mode)
        for mode in self._as_tuple(pooling_mode):
            if mode not in POOLING_MODES:
                raise ValueError(
                    f"Pooling expects pooling_mode in {POOLING_MODES} (or a tuple of them), got {mode!r}. "
                    "Pick one of those names."
                )
        self.embedding_dimension = embedding_dimension
        self.pooling_mode = pooling_mode
        self.include_prompt = include_prompt

    @staticmethod
    def _as_tuple(pooling_mode: str | tuple[str, ...]) -> tuple[str, ...]:
        return (pooling_mode,) if isinstance(pooling_mode, str) else tuple(pooling_mode)

    @property
    def modes(self) -> tuple[str, ...]:
        """The active pooling modes, in output order."""
        return self._as_tuple(self.pooling_mode)

    @property
    def pooling_output_dimension(self) -> int:
        """Size of the produced sentence embedding."""
        return len(self.modes) * self.embedding_dimension

    def get_sentence_embedding_dimension(self) -> int:
        """Size of the produced sentence embedding."""
        return self.pooling_output_dimension

    get_embedding_dimension = get_sentence_embedding_dimension

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Pooling:
        """Build from a saved config, accepting the pre-6.0 keys (``word_embedding_dimension``, mode flags)."""
        config = dict(config)
        if "word_embedding_dimension" in config:
            config.setdefault("embedding_dimension", config.pop("word_embedding_dimension"))
        legacy = {key: config.pop(key) for key in list(config) if key in _LEGACY_MODE_KEYS}
        if legacy and "pooling_mode" not in config:
            config["pooling_mode"] = modes_from_legacy_flags(legacy)
        return cls(**{key: value for key, value in config.items() if key in cls.config_keys})

    def get_config_dict(self) -> dict[str, Any]:
        """The saved config; a tuple of modes is written as a list (JSON)."""
        config = super().get_config_dict()
        if isinstance(self.pooling_mode, tuple):
            config["pooling_mode"] = list(self.pooling_mode)
        return config

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Add ``sentence_embedding`` ``(batch, len(modes) * dim)`` pooled from ``token_embeddings``."""
        token_embeddings: Tensor = features["token_embeddings"]
        mask = features.get("attention_mask")
        if mask is None or mask.size(-1) != token_embeddings.size(1):
            mask = torch.ones(token_embeddings.shape[:-1], device=token_embeddings.device, dtype=torch.int64)
        original_mask = mask
        prompt_length = features.get("prompt_length") if not self.include_prompt else None
        if prompt_length:
            mask = _exclude_prompt(mask, int(prompt_length))
        outputs = [_POOLERS[mode](token_embeddings, mask, original_mask) for mode in self.modes]
        features["sentence_embedding"] = torch.cat(outputs, dim=-1)
        return features


def _exclude_prompt(mask: Tensor, prompt_length: int) -> Tensor:
    """A copy of ``mask`` ``(batch, seq_len)`` with the first ``prompt_length`` real tokens zeroed."""
    mask = mask.clone()
    start = mask.to(torch.int32).argmax(dim=1)  # > 0 only with left padding
    positions = torch.arange(mask.size(1), device=mask.device).unsqueeze(0)
    mask[positions < (start + prompt_length).unsqueeze(1)] = 0
    return mask


def _accumulation_dtype(embeddings: Tensor) -> torch.dtype:
    return torch.float32 if embeddings.dtype in (torch.float16, torch.bfloat16) else embeddings.dtype


def _pool_cls(embeddings: Tensor, mask: Tensor, original_mask: Tensor) -> Tensor:
    first = mask.to(torch.int).argmax(dim=1)
    index = first.view(-1, 1, 1).expand(-1, 1, embeddings.size(-1))
    return torch.gather(embeddings, 1, index).squeeze(1)


def _pool_max(embeddings: Tensor, mask: Tensor, original_mask: Tensor) -> Tensor:
    expanded = mask.unsqueeze(-1).expand_as(embeddings)
    return embeddings.masked_fill(expanded == 0, float("-inf")).max(dim=1).values


def _masked_sum(embeddings: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    dtype = _accumulation_dtype(embeddings)
    weights = mask.unsqueeze(-1).to(embeddings.dtype)
    total = (embeddings * weights).sum(dim=1, dtype=dtype)
    count = torch.clamp(weights.sum(dim=1, dtype=dtype), min=1e-9)
    return total, count


def _pool_mean(embeddings: Tensor, mask: Tensor, original_mask: Tensor) -> Tensor:
    total, count = _masked_sum(embeddings, mask)
    return (total / count).to(embeddings.dtype)


def _pool_mean_sqrt_len(embeddings: Tensor, mask: Tensor, original_mask: Tensor) -> Tensor:
    total, count = _masked_sum(embeddings, mask)
    return (total / torch.sqrt(count)).to(embeddings.dtype)


def _pool_weighted_mean(embeddings: Tensor, mask: Tensor, original_mask: Tensor) -> Tensor:
    dtype = _accumulation_dtype(embeddings)
    positions = torch.arange(1, embeddings.size(1) + 1, device=embeddings.device, dtype=dtype).view(1, -1, 1)
    if original_mask.numel():
        positions = positions - original_mask.to(torch.int32).argmax(dim=1).view(-1, 1, 1)
    weights = mask.unsqueeze(-1).to(dtype) * positions
    total = (embeddings * weights).sum(dim=1)
    return (total / torch.clamp(weights.sum(dim=1), min=1e-9)).to(embeddings.dtype)


def _pool_last_token(embeddings: Tensor, mask: Tensor, original_mask: Tensor) -> Tensor:
    seq_len = embeddings.size(1)
    values, flipped = mask.flip(1).max(1)
    flipped = torch.where(values == 0, seq_len - 1, flipped)
    index = (seq_len - flipped - 1).view(-1, 1, 1).expand(-1, 1, embeddings.size(-1))
    masked = embeddings * mask.unsqueeze(-1).to(embeddings.dtype)
    return torch.gather(masked, 1, index).squeeze(1)


_POOLERS = {
    "cls": _pool_cls,
    "max": _pool_max,
    "mean": _pool_mean,
    "mean_sqrt_len_tokens": _pool_mean_sqrt_len,
    "weightedmean": _pool_weighted_mean,
    "lasttoken": _pool_last_token,
}
