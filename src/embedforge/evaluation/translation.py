"""TranslationEvaluator: does a sentence's nearest neighbour in the other language have its translation's text?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch

from embedforge.evaluation import reporting
from embedforge.evaluation.base import SentenceEvaluator
from embedforge.evaluation.inputs import check_same_length, check_texts, encode_unique
from embedforge.util.similarity import cos_sim

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel

__all__ = ["TranslationEvaluator"]


class TranslationEvaluator(SentenceEvaluator):
    """Translation matching accuracy in both directions over parallel sentences (bitext mining, e.g. Tatoeba).

    ``target_sentences[i]`` is the translation of ``source_sentences[i]``. Every distinct sentence is embedded
    once (one ``model.encode`` call); a source sentence counts as correct when the target with the highest cosine
    similarity has the same text as its translation (so duplicate translations are not penalised), and likewise
    from target to source. Metrics, for ``name="tatoeba-de"``: ``tatoeba-de_src2trg_accuracy``,
    ``tatoeba-de_trg2src_accuracy`` and ``tatoeba-de_mean_accuracy`` (primary, their mean). Keys and values match
    sentence-transformers 6.2.

    Args:
        source_sentences: Sentences in the source language.
        target_sentences: Their translations, in the same order.
        show_progress_bar: Show a progress bar while encoding.
        batch_size: Sentences per forward pass.
        name: Dataset name, prefixed to every metric key and to the CSV file name
            (``translation_evaluation[_<name>]_results.csv``; columns ``epoch, steps, src2trg, trg2src``).
        print_wrong_matches: Print each source sentence whose best match is wrong, with its five best targets.
        write_csv: Append the results to that file in the call's ``output_path``.
        truncate_dim: Keep the first dimensions of each embedding; default: the model's ``truncate_dim``.

    Raises:
        ValueError: If the sentence lists are empty, hold non-strings or differ in length.

    Example:
        >>> evaluator = TranslationEvaluator(
        ...     ["A man plays guitar.", "It rains."], ["Ein Mann spielt Gitarre.", "Es regnet."], name="en-de"
        ... )
        >>> evaluator(model)  # doctest: +SKIP
        {'en-de_src2trg_accuracy': 1.0, 'en-de_trg2src_accuracy': 1.0, 'en-de_mean_accuracy': 1.0}
    """

    config_keys: ClassVar[tuple[str, ...]] = ("truncate_dim",)
    csv_headers: ClassVar[list[str]] = ["epoch", "steps", "src2trg", "trg2src"]

    def __init__(
        self,
        source_sentences: Sequence[str],
        target_sentences: Sequence[str],
        show_progress_bar: bool = False,
        batch_size: int = 16,
        name: str = "",
        print_wrong_matches: bool = False,
        write_csv: bool = True,
        truncate_dim: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.source_sentences = check_texts(owner, "source_sentences", source_sentences)
        self.target_sentences = check_texts(owner, "target_sentences", target_sentences)
        check_same_length(
            owner, ("source_sentences", self.source_sentences), ("target_sentences", self.target_sentences)
        )
        self.show_progress_bar = show_progress_bar
        self.batch_size = batch_size
        self.name = name
        self.print_wrong_matches = print_wrong_matches
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.csv_file = f"translation_evaluation{reporting.name_suffix(name)}_results.csv"
        self.primary_metric = reporting.prefixed(name, "mean_accuracy")

    def __call__(
        self, model: EmbeddingModel, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Embed both sides and measure how often the most similar sentence is the translation.

        Args:
            model: The model to evaluate.
            output_path: Folder for the CSV file; None writes nothing.
            epoch: Epoch of the evaluation (-1: outside training).
            steps: Steps in the epoch (-1: end of epoch).

        Returns:
            The metrics, keys prefixed with ``name``.
        """
        reporting.log_start(type(self).__name__, self.name, epoch, steps, self.truncate_dim)
        source_embeddings, target_embeddings = encode_unique(
            model.encode,
            [self.source_sentences, self.target_sentences],
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            convert_to_numpy=True,
            truncate_dim=self.truncate_dim,
        )
        scores = cos_sim(torch.from_numpy(source_embeddings), torch.from_numpy(target_embeddings)).cpu().numpy()
        src2trg = _match_accuracy(scores, self.target_sentences)
        trg2src = _match_accuracy(scores.T, self.source_sentences)
        if self.print_wrong_matches:
            self._print_wrong_matches(scores)
        reporting.log_metrics([f"Accuracy src2trg: {src2trg * 100:.2f}", f"Accuracy trg2src: {trg2src * 100:.2f}"])
        if output_path is not None and self.write_csv:
            reporting.write_csv(output_path, self.csv_file, self.csv_headers, [epoch, steps, src2trg, trg2src])
        metrics = {
            "src2trg_accuracy": src2trg,
            "trg2src_accuracy": trg2src,
            "mean_accuracy": (src2trg + trg2src) / 2,
        }
        return self.publish_metrics(model, metrics, epoch, steps)

    def _print_wrong_matches(self, scores: np.ndarray) -> None:
        """Print each source whose best target has another text than its translation, with its top 5 targets.

        Args:
            scores: Cosine similarities ``(n_sources, n_targets)``.
        """
        targets = self.target_sentences
        for i, best in enumerate(scores.argmax(axis=1).tolist()):
            if targets[best] == targets[i]:
                continue
            print(f"\nIncorrect  : Source {i} is most similar to target {best} instead of target {i}")
            print(f"Source     : {self.source_sentences[i]}")
            print(f"Pred Target: {targets[best]} (Score: {scores[i, best]:.4f})")
            print(f"True Target: {targets[i]} (Score: {scores[i, i]:.4f})")
            for j in np.argsort(-scores[i], kind="stable")[:5].tolist():
                print(f"\t {j} (Score: {scores[i, j]:.4f}) {targets[j]}")


def _match_accuracy(scores: np.ndarray, candidates: Sequence[str]) -> float:
    """Share of rows ``i`` whose highest-scoring column has the same text as column ``i``.

    Args:
        scores: Similarities ``(n, n)``: row ``i`` is a query, column ``j`` the candidate ``candidates[j]``.
        candidates: The candidate texts; ``candidates[i]`` is the right answer for row ``i``.

    Returns:
        Accuracy in ``[0, 1]``.
    """
    best = scores.argmax(axis=1)
    return sum(candidates[j] == candidates[i] for i, j in enumerate(best.tolist())) / len(candidates)
