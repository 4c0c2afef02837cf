"""Evaluators: measure a SentenceTransformer on a dataset during or after training.

Mirrors ``sentence_transformers.evaluation`` (6.2): same class names, arguments, metric keys and values.
Every evaluator returns a dict of metrics whose keys start with its ``name`` and declares its ``primary_metric``.
"""

from __future__ import annotations

from embedforge.evaluation.base import BaseEvaluator, SentenceEvaluator
from embedforge.evaluation.binary_classification import BinaryClassificationEvaluator
from embedforge.evaluation.embedding_similarity import EmbeddingSimilarityEvaluator
from embedforge.evaluation.information_retrieval import InformationRetrievalEvaluator
from embedforge.evaluation.label_accuracy import LabelAccuracyEvaluator
from embedforge.evaluation.mse import MSEEvaluator
from embedforge.evaluation.mse_from_dataframe import MSEEvaluatorFromDataFrame
from embedforge.evaluation.nano_beir import NanoBEIREvaluator
from embedforge.evaluation.paraphrase_mining import ParaphraseMiningEvaluator
from embedforge.evaluation.reranking import RerankingEvaluator
from embedforge.evaluation.sequential import SequentialEvaluator
from embedforge.evaluation.translation import TranslationEvaluator
from embedforge.evaluation.triplet import TripletEvaluator
from embedforge.similarity_functions import SimilarityFunction

__all__ = [
    "BaseEvaluator",
    "BinaryClassificationEvaluator",
    "EmbeddingSimilarityEvaluator",
    "InformationRetrievalEvaluator",
    "LabelAccuracyEvaluator",
    "MSEEvaluator",
    "MSEEvaluatorFromDataFrame",
    "NanoBEIREvaluator",
    "ParaphraseMiningEvaluator",
    "RerankingEvaluator",
    "SentenceEvaluator",
    "SequentialEvaluator",
    "SimilarityFunction",
    "TranslationEvaluator",
    "TripletEvaluator",
]
