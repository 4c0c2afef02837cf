"""The written allow-list of tests/unit/compat/test_st_module_tree.py: sentence-transformers 6.2 names and
modules embedforge does not have, each with its reason. Keep it short and honest: an entry whose name embedforge
now has fails the test (remove it then).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AllowedMissing:
    """ST names (or, with no names, a whole ST module and everything below it) embedforge lacks, and why."""

    path: str
    names: tuple[str, ...]
    reason: str


ST = "sentence_transformers"
_TEXT_ONLY = "multimodal inputs not implemented: embedforge's Transformer takes text only"
NOT_IMPLEMENTED_FAMILIES = ("sparse_encoder", "multi_vector_encoder")
"""ST families embedforge lacks: every path below them must raise the clear ImportError."""

ALLOWED_MISSING: tuple[AllowedMissing, ...] = (
    AllowedMissing(
        ST,
        tuple(
            f"{model}{suffix}"
            for model in ("SparseEncoder", "MultiVectorEncoder")
            for suffix in ("", "Trainer", "TrainingArguments", "ModelCardData")
        ),
        "SparseEncoder / MultiVectorEncoder families not implemented (their paths raise a clear ImportError)",
    ),
    AllowedMissing(f"{ST}.base.merging", (), "model merging (mergekit) not implemented"),
    AllowedMissing(f"{ST}.base.modality", (), _TEXT_ONLY),
    AllowedMissing(f"{ST}.base.modality_types", (), _TEXT_ONLY),
    AllowedMissing(
        f"{ST}.base.modules.transformer",
        ("ModalityParams", "ProcessingKwargs", "QueryExpansionConfig", "set_temporary_class_attrs"),
        f"{_TEXT_ONLY}; query expansion not implemented",
    ),
    AllowedMissing(
        f"{ST}.base.losses",
        ("CachedLossMixin", "column_merging_disabled", "has_static_embedding_input"),
        "ST's loss-engine internals: embedforge's GradCache engine is embedforge.losses.cached (another API)",
    ),
    AllowedMissing(
        f"{ST}.base.losses.gradcache",
        ("CachedLossMixin", "has_static_embedding_input"),
        "ST's loss-engine internals: embedforge's GradCache engine is embedforge.losses.cached (another API)",
    ),
    AllowedMissing(
        f"{ST}.base.losses.merged_forward",
        ("column_merging_disabled", "merge_feature_batches", "chunked_padded_forward", "embed_columns_padded"),
        "ST's loss-engine internals (merged multi-column forward) with no embedforge counterpart",
    ),
    AllowedMissing(
        f"{ST}.base.model_card",
        (
            "BaseModelCardCallback",
            "BaseModelCardData",
            "get_versions",
            "format_log",
            "get_losses",
            "generate_model_card",
        ),
        "ST's model-card base classes; embedforge.model_card is built differently (FamilyCard, render_model_card)",
    ),
    AllowedMissing(
        f"{ST}.sentence_transformer.model_card",
        ("SentenceTransformerModelCardCallback",),
        "embedforge has one card callback, ModelCardCallback",
    ),
    AllowedMissing(
        f"{ST}.cross_encoder.model_card",
        ("CrossEncoderModelCardCallback",),
        "embedforge has one card callback, ModelCardCallback",
    ),
    AllowedMissing(f"{ST}.sentence_transformer.fit_mixin", (), "legacy fit() is embedforge.training.fit, no mixin"),
    AllowedMissing(f"{ST}.cross_encoder.fit_mixin", (), "legacy fit() is embedforge.cross_encoder.fit, no mixin"),
    AllowedMissing(f"{ST}.sentence_transformer.deprecated_model_card_templates", (), "pre-v3 card template unused"),
    AllowedMissing(f"{ST}.cross_encoder.modules.logit_score", (), "LogitScore (causal-LM reranker) absent"),
    AllowedMissing(f"{ST}.cross_encoder.modules", ("LogitScore",), "LogitScore (causal-LM reranker) absent"),
    AllowedMissing(
        f"{ST}.sentence_transformer.losses.adaptive_layer",
        ("TransformerDecorator", "ForwardDecorator"),
        "ST's forward-patching helpers; embedforge wraps forward with embedforge.losses.modifier",
    ),
    AllowedMissing(
        f"{ST}.sentence_transformer.losses.matryoshka",
        ("ForwardDecorator", "CachedLossDecorator"),
        "ST's forward-patching helpers; embedforge wraps forward with embedforge.losses.modifier",
    ),
    AllowedMissing(f"{ST}.util.deprecated_import", (), "embedforge's table of old paths is embedforge.compat"),
)
