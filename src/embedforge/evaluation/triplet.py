"""TripletEvaluator: how often an anchor is closer to its positive than to its negative."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from embedforge.evaluation import reporting
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.inputs import check_same_length, check_texts, encode_unique, example_columns
from embedforge.evaluation.metrics import triplet_accuracy
from embedforge.evaluation.similarity import (
    model_fn_names,
    pairwise_similarity,
    resolve_fn_names,
    resolve_main_similarity,
)
from embedforge.util.similarity_function import SimilarityFunction

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.readers import InputExample

__all__ = ["TripletEvaluator"]

logger = logging.getLogger(__name__)


class TripletEvaluator(SentenceEvaluator):
    """Accuracy of ``sim(anchor, positive) > sim(anchor, negative) + margin`` over triplets.

    Anchors are embedded with ``model.encode_query`` and positives/negatives with ``model.encode_document``, so
    a model's ``query`` / ``document`` prompts apply (retrieval-style triplets). Each distinct text is embedded
    once per role: one ``encode_query`` call for the anchors, one ``encode_document`` call for the rest. Metrics,
    for ``name="dev"`` and the model's cosine similarity: ``dev_cosine_accuracy`` (primary). With several
    ``similarity_fn_names``, ``<fn>_accuracy`` for each plus ``max_accuracy`` (primary, unless
    ``main_similarity_function`` is set). Keys and values match sentence-transformers 6.2.

    Args:
        anchors: Anchor texts (e.g. queries).
        positives: Texts that should be closer to their anchor.
        negatives: Texts that should be farther from their anchor.
        main_similarity_function: Function whose accuracy is the primary metric (``"cosine"``, ``"dot"``,
            ``"euclidean"``, ``"manhattan"`` or a :class:`SimilarityFunction`); alone, the only function scored.
        margin: Lead the positive must have over the negative: one number for every function, or a dict from
            function name to margin (missing names get 0). Default 0.
        name: Dataset name, prefixed to every metric key and to the CSV file name.
        batch_size: Texts per forward pass.
        show_progress_bar: Show a progress bar while encoding.
        write_csv: Append the results to ``triplet_evaluation[_<name>]_results.csv`` in the call's
            ``output_path``.
        truncate_dim: Keep the first dimensions of each embedding; default: the model's ``truncate_dim``.
        similarity_fn_names: Functions to score with; default: ``main_similarity_function``, else the model's
            ``similarity_fn_name`` at call time.
        main_distance_function: Deprecated name of ``main_similarity_function``.

    Example:
        >>> evaluator = TripletEvaluator(
        ...     ["A man plays guitar."], ["Someone plays music."], ["A cat sleeps."], name="dev"
        ... )
        >>> evaluator(model)  # doctest: +SKIP
        {'dev_cosine_accuracy': 1.0}
    """

    config_keys: ClassVar[tuple[str, ...]] = ("margin", "truncate_dim")

    def __init__(
        self,
        anchors: Sequence[str],
        positives: Sequence[str],
        negatives: Sequence[str],
        main_similarity_function: str | SimilarityFunction | None = None,
        margin: float | Mapping[str, float] | None = None,
        name: str = "",
        batch_size: int = 16,
        show_progress_bar: bool | None = False,
        write_csv: bool = True,
        truncate_dim: int | None = None,
        similarity_fn_names: Sequence[str | SimilarityFunction] | None = None,
        main_distance_function: str | SimilarityFunction | None = "deprecated",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.anchors = check_texts(owner, "anchors", anchors)
        self.positives = check_texts(owner, "positives", positives)
        self.negatives = check_texts(owner, "negatives", negatives)
        check_same_length(
            owner, ("anchors", self.anchors), ("positives", self.positives), ("negatives", self.negatives)
        )
        if main_distance_function != "deprecated":
            logger.warning(
                "TripletEvaluator: `main_distance_function` is deprecated; pass `main_similarity_function` instead."
            )
            if main_similarity_function is None:
                main_similarity_function = main_distance_function
        self.main_similarity_function = resolve_main_similarity(
            main_similarity_function, owner=owner, argument="main_similarity_function"
        )
        self.similarity_fn_names = list(
            resolve_fn_names(
                similarity_fn_names,
                self.main_similarity_function,
                owner=owner,
                main_argument="main_similarity_function",
            )
        )
        self.margin = _resolve_margin(owner, margin)
        self.name = name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.csv_file = f"triplet_evaluation{reporting.name_suffix(name)}_results.csv"
        self._scored_fn_names = tuple(self.similarity_fn_names)
        if self._scored_fn_names:
            self.primary_metric = self._primary_metric(self._scored_fn_names)

    @classmethod
    def from_input_examples(cls, examples: Sequence[InputExample], **kwargs: Any) -> TripletEvaluator:
        """Build the evaluator from examples whose ``texts`` are ``(anchor, positive, negative)``.

        Args:
            examples: The examples.
            **kwargs: Other constructor arguments.

        Returns:
            The evaluator.
        """
        anchors, positives, negatives = example_columns(cls.__name__, examples, 3)
        return cls(anchors, positives, negatives, **kwargs)

    @property
    def csv_headers(self) -> list[str]:
        """Columns of the CSV file: ``epoch, steps``, then ``accuracy_<fn>`` per function."""
        return ["epoch", "steps", *(f"accuracy_{fn}" for fn in self._scored_fn_names)]

    def __call__(
        self, model: EmbeddingModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Embed the triplets and measure, per similarity function, how often the positive wins.

        Args:
            model: The model to evaluate.
            output_path: Folder for the CSV file; None writes nothing.
            epoch: Epoch of the evaluation (-1: outside training).
            steps: Steps in the epoch (-1: end of epoch).

        Returns:
            The metrics, keys prefixed with ``name``.
        """
        reporting.log_start(type(self).__name__, self.name, epoch, steps, self.truncate_dim)
        anchors, positives, negatives = self.embed_triplets(model)
        self._scored_fn_names = model_fn_names(tuple(self.similarity_fn_names), model)
        metrics: dict[str, float] = {}
        for fn_name in self._scored_fn_names:
            similarity = pairwise_similarity(fn_name)
            positive_scores = similarity(anchors, positives)
            negative_scores = similarity(anchors, negatives)
            metrics[f"{fn_name}_accuracy"] = triplet_accuracy(positive_scores, negative_scores, self.margin[fn_name])
        reporting.log_metrics(
            f"Accuracy {fn_name.capitalize()} Similarity:\t{metrics[f'{fn_name}_accuracy']:.2%}"
            for fn_name in self._scored_fn_names
        )
        if output_path is not None and self.write_csv:
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, [epoch, steps, *metrics.values()])
        if len(self._scored_fn_names) > 1:
            metrics["max_accuracy"] = max(metrics.values())
        self.primary_metric = self._primary_metric(self._scored_fn_names)
        return self.publish_metrics(model, metrics, epoch, steps)

    def embed_triplets(self, model: EmbeddingModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Embed distinct anchors with ``encode_query`` and distinct positives/negatives with ``encode_document``.

        Args:
            model: The model to evaluate.

        Returns:
            Embeddings of anchors, positives and negatives, each ``(n_triplets, dim)``.
        """
        options: dict[str, Any] = {
            "batch_size": self.batch_size,
            "show_progress_bar": self.show_progress_bar,
            "convert_to_numpy": True,
            "truncate_dim": self.truncate_dim,
        }
        (anchors,) = encode_unique(model.encode_query, [self.anchors], **options)
        positives, negatives = encode_unique(model.encode_document, [self.positives, self.negatives], **options)
        return anchors, positives, negatives

    def get_config_dict(self) -> dict[str, Any]:
        """``margin`` when any margin is non-zero, and ``truncate_dim`` when set.

        Returns:
            Attribute name to value.
        """
        config = super().get_config_dict()
        if not any(self.margin.values()):
            config.pop("margin", None)
        return config

    def _primary_metric(self, fn_names: Sequence[str]) -> str:
        """Prefixed primary metric: accuracy of the main function, else the maximum, else the only one."""
        if self.main_similarity_function is not None:
            key = f"{self.main_similarity_function.value}_accuracy"
        elif len(fn_names) > 1:
            key = "max_accuracy"
        else:
            key = f"{fn_names[0]}_accuracy"
        return reporting.prefixed(self.name, key)


def _resolve_margin(owner: str, margin: float | Mapping[str, float] | None) -> dict[str, float]:
    """One margin per similarity function name (0 where not given)."""
    names = SimilarityFunction.possible_values()
    if margin is None:
        return dict.fromkeys(names, 0)
    if isinstance(margin, (int, float)) and not isinstance(margin, bool):
        return dict.fromkeys(names, margin)
    if isinstance(margin, Mapping):
        margin = {key.value if isinstance(key, SimilarityFunction) else key: value for key, value in margin.items()}
        unknown = sorted(set(margin) - set(names), key=str)
        if unknown:
            raise ValueError(
                f"{owner}: `margin` keys must be similarity function names from {names}, found unknown {unknown}. "
                "Use those names as keys."
            )
        return {**dict.fromkeys(names, 0), **margin}
    raise ValueError(
        f"{owner}: `margin` must be a number or a dict from similarity function name ({names}) to number, found "
        f"{type(margin).__name__} {margin!r}. Pass e.g. margin=0.1 or margin={{'cosine': 0.1}}."
    )
