"""sentence-transformers 6.2 paths that embedforge does not implement, each with the reason the error gives.

Importing such a path (or anything below it) raises ``ImportError`` with the reason, instead of a bare
``ModuleNotFoundError``; the top-level names of those features raise ``AttributeError`` the same way.
"""

from __future__ import annotations

_ST = "embedforge.sentence_transformer"
_BASE = "embedforge.base"
_CE = "embedforge.cross_encoder"
_SPARSE = "embedforge.sparse_encoder"
_MULTI_VECTOR = "embedforge.multi_vector_encoder"
_MULTIMODAL = (
    "sentence-transformers' multimodal input helpers have no counterpart: embedforge reads text, and images "
    "with dual encoders such as CLIP (embedforge.models.CLIPModel, embedforge.models.modality); use "
    "sentence-transformers for other multimodal models, audio or video"
)

UNAVAILABLE_PATHS: dict[str, str] = {
    _SPARSE: (
        "the SparseEncoder family (sentence_transformers.sparse_encoder) is not implemented in embedforge yet; "
        "use sentence-transformers for sparse models"
    ),
    _MULTI_VECTOR: (
        "the MultiVectorEncoder family (sentence_transformers.multi_vector_encoder) is not implemented in "
        "embedforge yet; use sentence-transformers for multi-vector models"
    ),
    f"{_BASE}.merging": "model merging (merge_models, via mergekit) is not implemented in embedforge",
    f"{_BASE}.modality": _MULTIMODAL,
    f"{_BASE}.modality_types": _MULTIMODAL,
    f"{_ST}.fit_mixin": "the legacy fit() is embedforge.training.fit (a function, no FitMixin classes)",
    f"{_CE}.fit_mixin": "the legacy CrossEncoder.fit() is embedforge.cross_encoder.fit (no FitMixin classes)",
    f"{_ST}.deprecated_model_card_templates": (
        "the pre-v3 model card template is not used; embedforge.model_card renders model cards"
    ),
    f"{_CE}.modules.logit_score": "LogitScore (a causal-LM reranker head) is not implemented in embedforge",
    "embedforge.util.deprecated_import": (
        "embedforge's table of old import paths is embedforge.compat (install_alias_finder, deprecated_paths)"
    ),
}
"""Path prefix -> why it is missing and what to use instead."""

UNAVAILABLE_NAMES: dict[str, str] = {
    **dict.fromkeys(
        ("SparseEncoder", "SparseEncoderTrainer", "SparseEncoderTrainingArguments", "SparseEncoderModelCardData"),
        _SPARSE,
    ),
    **dict.fromkeys(
        (
            "MultiVectorEncoder",
            "MultiVectorEncoderTrainer",
            "MultiVectorEncoderTrainingArguments",
            "MultiVectorEncoderModelCardData",
        ),
        _MULTI_VECTOR,
    ),
}
"""Top-level ``embedforge.<name>`` of sentence-transformers' ``__all__`` -> the unavailable path that explains it."""


def unavailable_reason(path: str) -> str | None:
    """Why ``path`` cannot be imported, or None when it is not (below) an unavailable path.

    Args:
        path: A dotted module path, e.g. ``embedforge.sparse_encoder.losses``.

    Returns:
        The reason of the nearest unavailable ancestor (or the path itself), else None.
    """
    prefix = path
    while prefix:
        reason = UNAVAILABLE_PATHS.get(prefix)
        if reason is not None:
            return reason
        prefix = prefix.rpartition(".")[0]
    return None
