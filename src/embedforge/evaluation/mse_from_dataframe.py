"""MSEEvaluatorFromDataFrame: MSEEvaluator over several language pairs of a table of parallel sentences."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from embedforge.evaluation import reporting
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.inputs import encode_unique
from embedforge.evaluation.mse import check_teacher, scaled_mse

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["MSEEvaluatorFromDataFrame"]


class MSEEvaluatorFromDataFrame(SentenceEvaluator):
    """Mean squared error (×100) between teacher and student embeddings, per (source, target) language pair.

    Each row of ``dataframe`` holds translations of one sentence, keyed by language code. For every combination
    ``(src, trg)`` the teacher embeds the ``src`` sentences (once, when the evaluator is built) and the evaluated
    model embeds the ``trg`` sentences at each call; rows where either text is blank are left out of that
    combination. The MSE ×100 of each combination goes to the CSV file; the metric is the mean over combinations,
    negated so that higher is better. Metrics, for ``name="xnli"``: ``xnli_negative_mse`` (primary). Keys and
    values match sentence-transformers 6.2.

    Args:
        dataframe: Rows of parallel sentences, e.g. ``[{"en": "Hi", "de": "Hallo", "fr": "Salut"}, ...]`` (for a
            pandas DataFrame pass ``df.to_dict("records")``). Every row needs a text (possibly ``""``) for each
            language in ``combinations``.
        teacher_model: Model that embeds the source-language sentences. Required.
        combinations: ``(source language, target language)`` pairs, e.g. ``[("en", "de"), ("en", "fr")]``.
        batch_size: Sentences per forward pass.
        name: Dataset name, prefixed to the metric key and to the CSV file name
            (``mse_evaluation[_<name>]_results.csv``; columns ``epoch, steps, <src>-<trg>...``).
        write_csv: Append the results to that file in the call's ``output_path``.
        truncate_dim: Keep the first dimensions of the teacher's and the student's embeddings; default: each
            model's own ``truncate_dim``.

    Raises:
        ValueError: If ``dataframe`` or ``combinations`` is empty or malformed, a row lacks a language of
            ``combinations`` or holds a non-string text, a combination has no non-blank pair, or
            ``teacher_model`` is missing.

    Example:
        >>> rows = [{"en": "A man plays guitar.", "de": "Ein Mann spielt Gitarre.", "fr": "Un homme joue."}]
        >>> evaluator = MSEEvaluatorFromDataFrame(
        ...     rows, teacher_model=teacher, combinations=[("en", "de"), ("en", "fr")], name="dev"
        ... )  # doctest: +SKIP
        >>> evaluator(student)  # doctest: +SKIP
        {'dev_negative_mse': -0.2041}
    """

    def __init__(
        self,
        dataframe: Iterable[Mapping[str, str]],
        teacher_model: EmbeddingModel | None,
        combinations: Sequence[tuple[str, str]],
        batch_size: int = 8,
        name: str = "",
        write_csv: bool = True,
        truncate_dim: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.combinations = _check_combinations(owner, combinations)
        rows = _check_rows(owner, dataframe, self.combinations)
        teacher = check_teacher(owner, teacher_model)
        self.name = name
        self.batch_size = batch_size
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.csv_file = f"mse_evaluation{reporting.name_suffix(name)}_results.csv"
        self.csv_headers = ["epoch", "steps", *(f"{src}-{trg}" for src, trg in self.combinations)]
        self.primary_metric = reporting.prefixed(name, "negative_mse")
        self.data = {pair: _parallel_pairs(owner, rows, pair) for pair in self.combinations}
        sources = list(dict.fromkeys(text for source, _ in self.data.values() for text in source))
        (embeddings,) = encode_unique(teacher.encode, [sources], **self._encode_options())
        self.teacher_embeddings: dict[str, np.ndarray] = dict(zip(sources, embeddings, strict=True))

    @property
    def description(self) -> str:
        """``"Knowledge Distillation"``."""
        return "Knowledge Distillation"

    def __call__(
        self, model: EmbeddingModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Embed the target sentences of every combination (each distinct text once) and compare with the teacher.

        Args:
            model: The student model to evaluate.
            output_path: Folder for the CSV file; None writes nothing.
            epoch: Epoch of the evaluation (-1: outside training).
            steps: Steps in the epoch (-1: end of epoch).

        Returns:
            ``{"<name>_negative_mse": -mean over combinations of MSE * 100}``.

        Raises:
            ValueError: If the model's embeddings do not have as many dimensions as the teacher's.
        """
        owner = type(self).__name__
        reporting.log_start(owner, self.name, epoch, steps, self.truncate_dim)
        targets = encode_unique(model.encode, [target for _, target in self.data.values()], **self._encode_options())
        scores = []
        for (source, _), target_embeddings in zip(self.data.values(), targets, strict=True):
            source_embeddings = np.asarray([self.teacher_embeddings[text] for text in source])
            scores.append(scaled_mse(owner, source_embeddings, target_embeddings))
        reporting.log_metrics(
            f"MSE (*100) {src}-{trg}:\t{score:4f}" for (src, trg), score in zip(self.combinations, scores, strict=True)
        )
        if output_path is not None and self.write_csv:
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, [epoch, steps, *scores])
        return self.publish_metrics(model, {"negative_mse": -float(np.mean(scores))}, epoch, steps)

    def _encode_options(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "convert_to_numpy": True, "truncate_dim": self.truncate_dim}


def _check_combinations(owner: str, combinations: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The combinations as a list of ``(source, target)`` language pairs."""
    pairs = [] if isinstance(combinations, str) else list(combinations)
    if not pairs:
        raise ValueError(
            f"{owner}: `combinations` must hold at least one (source language, target language) pair, found "
            f"{combinations!r}. Pass e.g. combinations=[('en', 'de')]."
        )
    for index, pair in enumerate(pairs):
        if isinstance(pair, str) or len(pair) != 2 or not all(isinstance(lang, str) for lang in pair):
            raise ValueError(
                f"{owner}: `combinations` must hold (source language, target language) pairs of column names, "
                f"found {pair!r} at index {index}. Pass e.g. combinations=[('en', 'de')]."
            )
    return [(pair[0], pair[1]) for pair in pairs]


def _check_rows(
    owner: str, dataframe: Iterable[Mapping[str, str]], combinations: Sequence[tuple[str, str]]
) -> list[Mapping[str, str]]:
    """The rows as a list, each a mapping with a string for every language of ``combinations``."""
    rows = list(dataframe)
    if not rows:
        raise ValueError(
            f"{owner}: `dataframe` must hold at least one row of parallel sentences, found none. Pass rows such as "
            "[{'en': 'Hello', 'de': 'Hallo'}]."
        )
    languages = list(dict.fromkeys(lang for pair in combinations for lang in pair))
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ValueError(
                f"{owner}: `dataframe` must be a list of rows mapping language codes to sentences, found "
                f"{type(row).__name__} {row!r} as row {index}. For a pandas DataFrame pass df.to_dict('records')."
            )
        missing = [lang for lang in languages if lang not in row]
        if missing:
            raise ValueError(
                f"{owner}: row {index} of `dataframe` has no column {missing} (columns: {list(row)}), needed by "
                f"`combinations` {combinations}. Give every row a text for each of {languages}; use '' where a "
                "translation is missing (such rows are skipped)."
            )
        bad = next((lang for lang in languages if not isinstance(row[lang], str)), None)
        if bad is not None:
            raise ValueError(
                f"{owner}: row {index} of `dataframe` must hold a string in column {bad!r}, found "
                f"{type(row[bad]).__name__} {row[bad]!r}. Convert it, or use '' to skip the row."
            )
    return rows


def _parallel_pairs(
    owner: str, rows: Sequence[Mapping[str, str]], pair: tuple[str, str]
) -> tuple[list[str], list[str]]:
    """Source and target sentences of the rows where neither is blank."""
    src, trg = pair
    kept = [(row[src], row[trg]) for row in rows if row[src].strip() and row[trg].strip()]
    if not kept:
        raise ValueError(
            f"{owner}: combination {pair} has no row where both {src!r} and {trg!r} are non-blank, so its MSE is "
            "undefined. Remove the combination or add parallel sentences for it."
        )
    return [source for source, _ in kept], [target for _, target in kept]
