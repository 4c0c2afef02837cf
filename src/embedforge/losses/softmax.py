"""SoftmaxLoss: SBERT's classifier on ``[u; v; |u - v|]`` of each sentence pair (e.g. NLI labels)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from torch import Tensor, nn

from embedforge.losses import functional
from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.embedding import embed_columns

if TYPE_CHECKING:
    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["SoftmaxLoss"]

logger = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _renamed_kwargs(**renames: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Accept old keyword names: ``old=value`` is passed on as ``new=value`` with a warning.

    Args:
        **renames: Old name → new name. If both are given, the new one wins.

    Returns:
        A decorator.
    """

    def decorator(function: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(function)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            for old, new in renames.items():
                if old in kwargs:
                    logger.warning("The `%s` argument was renamed; use `%s` instead.", old, new)
                    value = kwargs.pop(old)
                    kwargs.setdefault(new, value)
            return function(*args, **kwargs)

        return wrapper

    return decorator


class SoftmaxLoss(Loss):
    """Train the embeddings through a linear classifier over each pair (SBERT's NLI objective).

    With ``u = model(sentence_A)`` and ``v = model(sentence_B)`` of shape ``(batch, dim)``::

        features = [u; v; |u - v|; u * v]          # the parts switched on, (batch, k * dim)
        loss     = loss_fct(classifier(features), labels)   # classifier: nn.Linear(k * dim, num_labels)

    ========================  ==========================================================
    Inputs                    Labels
    ========================  ==========================================================
    (sentence_A, sentence_B)  class index (int)
    (sentence_A, sentence_B)  class probabilities, ``(batch, num_labels)`` float, rows sum to 1
    ========================  ==========================================================

    The classifier is trained with the model but is not part of it: it is not saved with the model. Called with
    ``labels=None`` the loss returns ``(embeddings, logits)`` instead, for accuracy evaluation.

    When to use: labelled sentence pairs such as NLI (entailment / neutral / contradiction). On NLI data
    :class:`MultipleNegativesRankingLoss` on (anchor, entailment, contradiction) triplets usually gives better
    embeddings (https://arxiv.org/abs/2004.09813).

    Related: :class:`MultipleNegativesRankingLoss`, :class:`CoSENTLoss`. The classifier input is built by
    :func:`embedforge.losses.functional.pair_classifier_features`.

    References:
        Reimers and Gurevych 2019, "Sentence-BERT", https://arxiv.org/abs/1908.10084.

    Args:
        model: The model to train.
        embedding_dimension: Size of the sentence embeddings (``model.get_sentence_embedding_dimension()``). The
            old name ``sentence_embedding_dimension`` is still accepted.
        num_labels: Number of classes.
        concatenation_sent_rep: Include ``u`` and ``v``.
        concatenation_sent_difference: Include ``|u - v|``.
        concatenation_sent_multiplication: Include ``u * v``.
        loss_fct: Classification loss of ``(batch, num_labels)`` logits and the labels.

    Raises:
        ValueError: If no part of the classifier input is switched on.

    Example:
        >>> import torch
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.losses import SoftmaxLoss
        >>> model = SentenceTransformer("path/to/model")  # doctest: +SKIP
        >>> loss = SoftmaxLoss(model, model.get_sentence_embedding_dimension(), num_labels=3)  # doctest: +SKIP
        >>> premises = model.tokenize(["A person on a horse jumps.", "Children smiling."])  # doctest: +SKIP
        >>> hypotheses = model.tokenize(["A person is outdoors.", "There are no children."])  # doctest: +SKIP
        >>> loss([premises, hypotheses], torch.tensor([0, 2])).backward()  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=2,
        max_texts=2,
        label=LabelKind.INT_OR_FLOAT_LIST,
        description="(sentence_A, sentence_B) pairs with a class label (an int, or a list of class probabilities)",
    )
    config_keys = (
        "num_labels",
        "concatenation_sent_rep",
        "concatenation_sent_difference",
        "concatenation_sent_multiplication",
    )
    citation = """
@inproceedings{reimers-2019-sentence-bert,
    title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of the 2019 Conference on Empirical Methods in Natural Language Processing",
    month = "11",
    year = "2019",
    publisher = "Association for Computational Linguistics",
    url = "https://arxiv.org/abs/1908.10084",
}
"""

    @_renamed_kwargs(sentence_embedding_dimension="embedding_dimension")
    def __init__(
        self,
        model: EmbeddingModel,
        embedding_dimension: int,
        num_labels: int,
        concatenation_sent_rep: bool = True,
        concatenation_sent_difference: bool = True,
        concatenation_sent_multiplication: bool = False,
        loss_fct: Callable[[Tensor, Tensor], Tensor] = nn.CrossEntropyLoss(),  # noqa: B008 - ST's signature
    ) -> None:
        super().__init__(model)
        parts = 2 * concatenation_sent_rep + concatenation_sent_difference + concatenation_sent_multiplication
        if parts == 0:
            raise ValueError(
                "SoftmaxLoss needs at least one of concatenation_sent_rep, concatenation_sent_difference or "
                "concatenation_sent_multiplication to be True; all three are False."
            )
        self.num_labels = num_labels
        self.concatenation_sent_rep = concatenation_sent_rep
        self.concatenation_sent_difference = concatenation_sent_difference
        self.concatenation_sent_multiplication = concatenation_sent_multiplication
        self.classifier = nn.Linear(parts * embedding_dimension, num_labels, device=model.device)
        self.loss_fct = loss_fct

    def forward(  # type: ignore[override]
        self, sentence_features: list[Features], labels: Tensor | None
    ) -> Tensor | tuple[list[Tensor], Tensor]:
        """Embed both columns, classify each pair, and compute the loss.

        Args:
            sentence_features: The two tokenized columns, ``input_ids`` ``(batch, seq)``….
            labels: ``(batch,)`` class indices or ``(batch, num_labels)`` class probabilities; None to get the
                predictions instead of the loss.

        Returns:
            Scalar loss; or, with ``labels=None``, ``([u, v], logits)`` with ``logits`` ``(batch, num_labels)``.
        """
        embeddings = embed_columns(self.model, sentence_features)
        logits = self.classify(embeddings)
        if labels is None:
            return embeddings, logits
        return functional.classification_loss(logits, labels, self.loss_fct)

    def classify(self, embeddings: list[Tensor]) -> Tensor:
        """Class logits of pairs of embeddings.

        Args:
            embeddings: Two ``(batch, dim)`` tensors ``u`` and ``v``.

        Returns:
            ``(batch, num_labels)`` logits.
        """
        features = functional.pair_classifier_features(
            embeddings[0],
            embeddings[1],
            concatenation_sent_rep=self.concatenation_sent_rep,
            concatenation_sent_difference=self.concatenation_sent_difference,
            concatenation_sent_multiplication=self.concatenation_sent_multiplication,
        )
        return self.classifier(features.to(self.classifier.weight.dtype))
