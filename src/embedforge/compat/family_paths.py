"""sentence-transformers 6.2's module paths of the dense, base and cross-encoder families, under embedforge's name.

sentence-transformers 6.2 groups its code by family (``sentence_transformer/``, ``cross_encoder/``) over a shared
``base/``; embedforge keeps the dense family in top-level packages (``embedforge.losses``, ``embedforge.models``,
...). This table maps each 6.2 path to the embedforge module that holds its names:

- :data:`FAMILY_MODULES`: the path *is* that embedforge module (same object); submodules follow, so
  ``embedforge.sentence_transformer.losses.cosent`` is ``embedforge.losses.cosent``.
- :data:`FAMILY_COMPOSITES`: the path's names live in several embedforge modules; the path imports as a module
  built from ``{name: "defining module"}`` (see :class:`~embedforge.compat.composite_module.CompositeModule`).

Only names embedforge implements are listed; ``tests/unit/compat/test_st_module_tree.py`` compares this table
with the installed sentence-transformers and lists what is missing.
"""

from __future__ import annotations

_ST = "embedforge.sentence_transformer"
_BASE = "embedforge.base"
_CE = "embedforge.cross_encoder"

FAMILY_MODULES: dict[str, str] = {
    f"{_ST}.data_collator": "embedforge.data.collator",
    f"{_ST}.datasets": "embedforge.datasets",
    f"{_ST}.evaluation": "embedforge.evaluation",
    f"{_ST}.losses": "embedforge.losses",
    f"{_ST}.model": "embedforge.model.sentence_transformer",
    f"{_ST}.model_card": "embedforge.model_card",
    f"{_ST}.modules": "embedforge.models",
    f"{_ST}.readers": "embedforge.readers",
    f"{_ST}.trainer": "embedforge.training.trainer",
    f"{_ST}.training_args": "embedforge.training_args",
    f"{_BASE}.data_collator": "embedforge.data.collator",
    f"{_BASE}.evaluation.evaluator": "embedforge.evaluation.base",
    f"{_BASE}.evaluation.sequential": "embedforge.evaluation.sequential",
    f"{_BASE}.model": "embedforge.model.base",
    f"{_BASE}.modules.dense": "embedforge.models.dense",
    f"{_BASE}.modules.input_module": "embedforge.models.base",
    f"{_BASE}.modules.module": "embedforge.models.base",
    f"{_BASE}.modules.normalize": "embedforge.models.normalize",
    f"{_BASE}.modules.router": "embedforge.models.router",
    f"{_BASE}.modules.transformer": "embedforge.models.transformer",
    f"{_BASE}.peft_mixin": "embedforge.model.peft_mixin",
    f"{_BASE}.trainer": "embedforge.training.base_trainer",
    f"{_BASE}.training_args": "embedforge.training.arguments",
    f"{_CE}.modules": "embedforge.models",
    f"{_CE}.util": "embedforge.util.decorators",
}
"""Path -> the embedforge module it is."""

_SAMPLERS: dict[str, str] = {
    "DefaultBatchSampler": "embedforge.data.samplers.default",
    "GroupByLabelBatchSampler": "embedforge.data.samplers.group_by_label",
    "NoDuplicatesBatchSampler": "embedforge.data.samplers.no_duplicates",
    "MultiDatasetDefaultBatchSampler": "embedforge.data.samplers.multi_dataset",
    "RoundRobinBatchSampler": "embedforge.data.samplers.round_robin",
    "ProportionalBatchSampler": "embedforge.data.samplers.proportional",
    "BatchSamplers": "embedforge.training.arguments",
    "MultiDatasetBatchSamplers": "embedforge.training.arguments",
}
_GRADCACHE: dict[str, str] = {
    "RandContext": "embedforge.losses.rand_context",
    "uses_gradient_cache": "embedforge.losses.modifier",
}

FAMILY_COMPOSITES: dict[str, dict[str, str]] = {
    _ST: {
        "SentenceTransformer": "embedforge.model.sentence_transformer",
        "SentenceTransformerModelCardData": "embedforge.model_card.data",
        "SentenceTransformerDataCollator": "embedforge.data.collator",
        "SentenceTransformerTrainer": "embedforge.training.trainer",
        "SentenceTransformerTrainingArguments": "embedforge.training.arguments",
    },
    _BASE: {
        "BaseModel": "embedforge.model.base",
        "BaseDataCollator": "embedforge.data.collator",
        "BaseTrainer": "embedforge.training.base_trainer",
        "BaseTrainingArguments": "embedforge.training.arguments",
        "PeftAdapterMixin": "embedforge.model.peft_mixin",
        **_SAMPLERS,
    },
    f"{_BASE}.evaluation": {
        "BaseEvaluator": "embedforge.evaluation.base",
        "SentenceEvaluator": "embedforge.evaluation.base",
        "SequentialEvaluator": "embedforge.evaluation.sequential",
    },
    f"{_BASE}.losses": _GRADCACHE,
    f"{_BASE}.losses.gradcache": _GRADCACHE,
    f"{_BASE}.losses.merged_forward": {"embed_columns": "embedforge.losses.embedding"},
    f"{_BASE}.model_card": {"format_duration": "embedforge.model_card._markdown"},
    f"{_BASE}.modules": {
        name: "embedforge.models" for name in ("Dense", "InputModule", "Module", "Normalize", "Router", "Transformer")
    },
    f"{_BASE}.sampler": _SAMPLERS,
}
"""Path -> {public name: defining embedforge module}."""

COMPOSITE_PACKAGES: frozenset[str] = frozenset(
    {_ST, _BASE, f"{_BASE}.evaluation", f"{_BASE}.losses", f"{_BASE}.modules"}
)
"""The composite paths that are packages (aliases live below them)."""
