"""EmbeddingSimilarityEvaluator: correlation of embedding similarities with gold similarity scores (STS)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, get_args

import numpy as np

from embedforge.evaluation import reporting
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.inputs import check_same_length, check_texts, encode_unique, example_columns
from embedforge.evaluation.metrics import as_float_embeddings, correlations
from embedforge.evaluation.similarity import (
    model_fn_names,
    pairwise_similarity,
    resolve_fn_names,
    resolve_main_similarity,
)
from embedforge.util.quantization import Precision
from embedforge.util.similarity_function import SimilarityFunction

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.readers import InputExample

__all__ = ["EmbeddingSimilarityEvaluator"]

_CORRELATIONS = ("pearson", "spearman")


class EmbeddingSimilarityEvaluator(SentenceEvaluator):
    """Pearson and Spearman correlation between ``sim(sentences1[i], sentences2[i])`` and ``scores[i]``.

    Every distinct sentence is embedded once (one ``model.encode`` call), then each requested similarity function
    scores the pairs. Metrics, for ``name="sts-dev"`` and the model's cosine similarity:
    ``sts-dev_pearson_cosine`` and ``sts-dev_spearman_cosine`` (primary). With several ``similarity_fn_names``,
    ``pearson_<fn>`` / ``spearman_<fn>`` for each plus ``pearson_max`` / ``spearman_max`` (primary, unless
    ``main_similarity`` is set). Keys and values match sentence-transformers 6.2.

    Args:
        sentences1: First sentence of each pair.
        sentences2: Second sentence of each pair.
        scores: Gold similarity of each pair (any scale; only correlations are measured).
        batch_size: Sentences per forward pass.
        main_similarity: Function whose Spearman correlation is the primary metric (``"cosine"``, ``"dot"``,
            ``"euclidean"``, ``"manhattan"`` or a :class:`SimilarityFunction`); alone, it is also the only function
            scored.
        similarity_fn_names: Functions to score with; default: ``main_similarity``, else the model's
            ``similarity_fn_name`` at call time.
        name: Dataset name, prefixed to every metric key and to the CSV file name.
        show_progress_bar: Show a progress bar while encoding.
        write_csv: Append the results to ``similarity_evaluation[_<name>][_<precision>]_results.csv`` in the
            ``output_path`` given to the call.
        precision: Quantize embeddings before scoring (``"float32"``, ``"int8"``, ``"uint8"``, ``"binary"``,
            ``"ubinary"``); embeddings are then normalized first, and int8/uint8 ranges come from all sentences.
        truncate_dim: Keep the first dimensions of each embedding; default: the model's ``truncate_dim``.

    Example:
        >>> evaluator = EmbeddingSimilarityEvaluator(
        ...     ["A man plays guitar.", "A dog runs.", "It rains."],
        ...     ["Someone plays music.", "A cat sleeps.", "The sun shines."],
        ...     [0.9, 0.2, 0.1],
        ...     name="sts-dev",
        ... )
        >>> evaluator(model)["sts-dev_spearman_cosine"]  # doctest: +SKIP
        0.5
    """

    config_keys: ClassVar[tuple[str, ...]] = ("truncate_dim", "precision")

    def __init__(
        self,
        sentences1: Sequence[str],
        sentences2: Sequence[str],
        scores: Sequence[float],
        batch_size: int = 16,
        main_similarity: str | SimilarityFunction | None = None,
        similarity_fn_names: Sequence[str | SimilarityFunction] | None = None,
        name: str = "",
        show_progress_bar: bool | None = False,
        write_csv: bool = True,
        precision: Precision | None = None,
        truncate_dim: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.sentences1 = check_texts(owner, "sentences1", sentences1)
        self.sentences2 = check_texts(owner, "sentences2", sentences2)
        self.scores = _check_scores(owner, scores)
        check_same_length(
            owner, ("sentences1", self.sentences1), ("sentences2", self.sentences2), ("scores", self.scores)
        )
        if len(self.scores) < 2:
            raise ValueError(
                f"{owner}: `sentences1`, `sentences2` and `scores` must hold at least 2 pairs (a correlation needs "
                f"two points), found {len(self.scores)}. Pass more sentence pairs."
            )
        if precision is not None and precision not in get_args(Precision):
            raise ValueError(
                f"{owner}: `precision` must be None or one of {list(get_args(Precision))}, got {precision!r}. "
                "Pick one of those."
            )
        self.main_similarity = resolve_main_similarity(main_similarity, owner=owner, argument="main_similarity")
        self.similarity_fn_names = list(
            resolve_fn_names(similarity_fn_names, self.main_similarity, owner=owner, main_argument="main_similarity")
        )
        self.name = name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.precision = precision
        self.truncate_dim = truncate_dim
        self.csv_file = f"similarity_evaluation{reporting.name_suffix(name, precision)}_results.csv"
        self._scored_fn_names = tuple(self.similarity_fn_names)
        if self._scored_fn_names:
            self.primary_metric = self._primary_metric(self._scored_fn_names)

    @classmethod
    def from_input_examples(cls, examples: Sequence[InputExample], **kwargs: Any) -> EmbeddingSimilarityEvaluator:
        """Build the evaluator from examples whose ``texts`` are sentence pairs and ``label`` the gold score.

        Args:
            examples: The examples.
            **kwargs: Other constructor arguments.

        Returns:
            The evaluator.
        """
        first, second = example_columns(cls.__name__, examples, 2)
        return cls(first, second, [example.label for example in examples], **kwargs)

    @property
    def csv_headers(self) -> list[str]:
        """Columns of the CSV file: ``epoch, steps``, then ``<fn>_pearson, <fn>_spearman`` per function."""
        return ["epoch", "steps", *(f"{fn}_{kind}" for fn in self._scored_fn_names for kind in _CORRELATIONS)]

    @property
    def description(self) -> str:
        """``"Semantic Similarity"``."""
        return "Semantic Similarity"

    def __call__(
        self, model: EmbeddingModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Embed the sentences, score the pairs and correlate the scores with the gold ones.

        Args:
            model: The model to evaluate.
            output_path: Folder for the CSV file; None writes nothing.
            epoch: Epoch of the evaluation (-1: outside training).
            steps: Steps in the epoch (-1: end of epoch).

        Returns:
            The metrics, keys prefixed with ``name``.
        """
        reporting.log_start(type(self).__name__, self.name, epoch, steps, self.truncate_dim)
        embeddings1, embeddings2 = self.embed_pairs(model)
        self._scored_fn_names = model_fn_names(tuple(self.similarity_fn_names), model)
        metrics = self.compute_metrics(embeddings1, embeddings2, self._scored_fn_names)
        if output_path is not None and self.write_csv:
            values = [metrics[f"{kind}_{fn}"] for fn in self._scored_fn_names for kind in _CORRELATIONS]
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, [epoch, steps, *values])
        self.primary_metric = self._primary_metric(self._scored_fn_names)
        return self.publish_metrics(model, metrics, epoch, steps)

    def embed_pairs(self, model: EmbeddingModel) -> tuple[np.ndarray, np.ndarray]:
        """Embed every distinct sentence once, in one ``encode`` call.

        Args:
            model: The model to evaluate.

        Returns:
            Float embeddings of ``sentences1`` and ``sentences2``, each ``(n_pairs, dim)`` (binary precisions
            unpacked to one value per bit).
        """
        embeddings1, embeddings2 = encode_unique(
            model.encode,
            [self.sentences1, self.sentences2],
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            convert_to_numpy=True,
            precision=self.precision or "float32",
            normalize_embeddings=bool(self.precision),
            truncate_dim=self.truncate_dim,
        )
        return as_float_embeddings(embeddings1, self.precision), as_float_embeddings(embeddings2, self.precision)

    def compute_metrics(
        self, embeddings1: np.ndarray, embeddings2: np.ndarray, fn_names: Sequence[str]
    ) -> dict[str, float]:
        """Correlations for each similarity function, plus the maxima when there are several.

        Args:
            embeddings1: ``(n_pairs, dim)``.
            embeddings2: ``(n_pairs, dim)``.
            fn_names: Similarity function names.

        Returns:
            Unprefixed metrics: ``pearson_<fn>``, ``spearman_<fn>`` (and ``pearson_max``, ``spearman_max``).
        """
        metrics: dict[str, float] = {}
        lines = []
        for fn_name in fn_names:
            predicted = pairwise_similarity(fn_name)(embeddings1, embeddings2).detach().cpu().numpy()
            pearson, spearman = correlations(self.scores, predicted)
            metrics[f"pearson_{fn_name}"] = pearson
            metrics[f"spearman_{fn_name}"] = spearman
            lines.append(f"{fn_name.capitalize()}-Similarity:\tPearson: {pearson:.4f}\tSpearman: {spearman:.4f}")
        reporting.log_metrics(lines)
        if len(fn_names) > 1:
            for kind in _CORRELATIONS:
                metrics[f"{kind}_max"] = max(metrics[f"{kind}_{fn_name}"] for fn_name in fn_names)
        return metrics

    def _primary_metric(self, fn_names: Sequence[str]) -> str:
        """Prefixed primary metric: ``spearman`` of the main function, else the maximum, else the only one."""
        if self.main_similarity is not None:
            key = f"spearman_{self.main_similarity.value}"
        elif len(fn_names) > 1:
            key = "spearman_max"
        else:
            key = f"spearman_{fn_names[0]}"
        return reporting.prefixed(self.name, key)


def _suffix(part: str | None) -> str:
    return f"_{part}" if part else ""


def _check_scores(owner: str, scores: Sequence[float]) -> list[float]:
    """The scores as a list, checked to be a flat list of numbers."""
    values = list(scores)
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{owner}: `scores` must hold one number per sentence pair, found a non-numeric entry ({error}). "
            "Convert the scores to floats."
        ) from error
    if array.ndim != 1:
        raise ValueError(
            f"{owner}: `scores` must be a flat list with one number per sentence pair, found an array of shape "
            f"{array.shape}. Pass one float per pair."
        )
    return values
