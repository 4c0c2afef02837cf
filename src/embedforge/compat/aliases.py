"""The table of module paths that import as another embedforge module, written down as data.

sentence-transformers keeps older module paths importable (e.g. the v3-v5 file of each cross-encoder loss,
``sentence_transformers.cross_encoder.losses.BinaryCrossEntropyLoss``) and warns when they are used. embedforge
accepts the same paths under its own package name: each entry maps an alias to the embedforge module that holds
the names the old module held. :mod:`embedforge.compat.finder` resolves them on first import.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModuleAlias:
    """One importable alias.

    Attributes:
        path: The module path code may import, e.g. ``embedforge.cross_encoder.CrossEncoder``.
        target: The embedforge module it resolves to, e.g. ``embedforge.cross_encoder.model``.
        deprecated: Warn (``DeprecationWarning``) when the alias is imported, naming ``target``.
    """

    path: str
    target: str
    deprecated: bool = True


_CE = "embedforge.cross_encoder"
_CE_LOSS_FILES: dict[str, str] = {
    "BinaryCrossEntropyLoss": "binary_cross_entropy",
    "CachedMultipleNegativesRankingLoss": "cached_multiple_negatives_ranking",
    "CrossEntropyLoss": "cross_entropy",
    "LambdaLoss": "lambda_loss",
    "ListMLELoss": "list_mle",
    "ListNetLoss": "list_net",
    "MSELoss": "mse",
    "MarginMSELoss": "margin_mse",
    "MultipleNegativesRankingLoss": "multiple_negatives_ranking",
    "PListMLELoss": "plist_mle",
    "RankNetLoss": "rank_net",
}
_CE_OLD_EVALUATORS: tuple[str, ...] = (
    "CEBinaryAccuracyEvaluator",
    "CEBinaryClassificationEvaluator",
    "CECorrelationEvaluator",
    "CEF1Evaluator",
    "CERerankingEvaluator",
    "CESoftmaxAccuracyEvaluator",
)

MODULE_ALIASES: tuple[ModuleAlias, ...] = (
    ModuleAlias(f"{_CE}.modules", "embedforge.models", deprecated=False),
    ModuleAlias(f"{_CE}.CrossEncoder", f"{_CE}.model"),
    *(ModuleAlias(f"{_CE}.losses.{name}", f"{_CE}.losses.{file}") for name, file in _CE_LOSS_FILES.items()),
    *(ModuleAlias(f"{_CE}.evaluation.{name}", f"{_CE}.evaluation.deprecated") for name in _CE_OLD_EVALUATORS),
)
"""Every alias, in the order sentence-transformers 6.2 lists the corresponding paths."""

ALIASES_BY_PATH: dict[str, ModuleAlias] = {alias.path: alias for alias in MODULE_ALIASES}
