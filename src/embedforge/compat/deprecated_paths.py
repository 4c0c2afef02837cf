"""sentence-transformers' deprecated module paths under embedforge's name: old path -> the path that replaced it.

Generated once from sentence-transformers 6.2's own table (``sentence_transformers.util.deprecated_import``) by
replacing the package name, then checked in as data; nothing here imports sentence-transformers. Importing an
old path warns (``DeprecationWarning``) and gives the module of the new path.

Left out on purpose (``tests/unit/compat/test_st_module_tree.py`` checks each case):

- old paths that are embedforge's own modules (``embedforge.losses``, ``embedforge.models``,
  ``embedforge.models.tokenizer``, ``embedforge.evaluation``, ``embedforge.datasets``, ``embedforge.readers``,
  ``embedforge.training_args``, ``embedforge.model_card``, ``embedforge.quantization``,
  ``embedforge.similarity_functions``): they are embedforge's documented homes, so they import without a warning
  and hold the same objects as the new paths;
- ``sparse_encoder`` paths: that family is not implemented (see :mod:`embedforge.compat.unavailable_paths`).
"""

from __future__ import annotations

_ST = "embedforge.sentence_transformer"
_CE = "embedforge.cross_encoder"
_BASE = "embedforge.base"

DEPRECATED_PATHS: dict[str, str] = {
    f"{_ST}.modules.normalize": f"{_BASE}.modules.normalize",
    "embedforge.SentenceTransformer": f"{_ST}.model",
    f"{_CE}.CrossEncoder": f"{_CE}.model",
    "embedforge.trainer": f"{_ST}.trainer",
    "embedforge.sampler": f"{_BASE}.sampler",
    "embedforge.peft_mixin": f"{_BASE}.peft_mixin",
    "embedforge.data_collator": f"{_ST}.data_collator",
    "embedforge.LoggingHandler": "embedforge.util.logging",
    "embedforge.datasets.DenoisingAutoEncoderDataset": f"{_ST}.datasets.denoising_auto_encoder",
    "embedforge.datasets.NoDuplicatesDataLoader": f"{_ST}.datasets.no_duplicates_dataloader",
    "embedforge.datasets.ParallelSentencesDataset": f"{_ST}.datasets.parallel_sentences",
    "embedforge.datasets.SentenceLabelDataset": f"{_ST}.datasets.sentence_label",
    "embedforge.datasets.SentencesDataset": f"{_ST}.datasets.sentences",
    "embedforge.evaluation.BinaryClassificationEvaluator": f"{_ST}.evaluation.binary_classification",
    "embedforge.evaluation.EmbeddingSimilarityEvaluator": f"{_ST}.evaluation.embedding_similarity",
    "embedforge.evaluation.InformationRetrievalEvaluator": f"{_ST}.evaluation.information_retrieval",
    "embedforge.evaluation.LabelAccuracyEvaluator": f"{_ST}.evaluation.label_accuracy",
    "embedforge.evaluation.MSEEvaluator": f"{_ST}.evaluation.mse",
    "embedforge.evaluation.NanoBEIREvaluator": f"{_ST}.evaluation.nano_beir",
    "embedforge.evaluation.ParaphraseMiningEvaluator": f"{_ST}.evaluation.paraphrase_mining",
    "embedforge.evaluation.RerankingEvaluator": f"{_ST}.evaluation.reranking",
    "embedforge.evaluation.SentenceEvaluator": f"{_BASE}.evaluation.evaluator",
    "embedforge.evaluation.SequentialEvaluator": f"{_BASE}.evaluation.sequential",
    "embedforge.evaluation.SimilarityFunction": "embedforge.util.similarity",
    "embedforge.evaluation.TranslationEvaluator": f"{_ST}.evaluation.translation",
    "embedforge.evaluation.TripletEvaluator": f"{_ST}.evaluation.triplet",
    "embedforge.losses.AdaptiveLayerLoss": f"{_ST}.losses.adaptive_layer",
    "embedforge.losses.AnglELoss": f"{_ST}.losses.angle",
    "embedforge.losses.BatchAllTripletLoss": f"{_ST}.losses.batch_all_triplet",
    "embedforge.losses.BatchHardSoftMarginTripletLoss": f"{_ST}.losses.batch_hard_soft_margin_triplet",
    "embedforge.losses.BatchHardTripletLoss": f"{_ST}.losses.batch_hard_triplet",
    "embedforge.losses.BatchSemiHardTripletLoss": f"{_ST}.losses.batch_semi_hard_triplet",
    "embedforge.losses.CachedGISTEmbedLoss": f"{_ST}.losses.cached_gist_embed",
    "embedforge.losses.CachedMultipleNegativesRankingLoss": f"{_ST}.losses.cached_multiple_negatives_ranking",
    "embedforge.losses.CachedMultipleNegativesSymmetricRankingLoss": (
        f"{_ST}.losses.cached_multiple_negatives_symmetric_ranking"
    ),
    "embedforge.losses.CoSENTLoss": f"{_ST}.losses.cosent",
    "embedforge.losses.ContrastiveLoss": f"{_ST}.losses.contrastive",
    "embedforge.losses.ContrastiveTensionLoss": f"{_ST}.losses.contrastive_tension",
    "embedforge.losses.CosineSimilarityLoss": f"{_ST}.losses.cosine_similarity",
    "embedforge.losses.DenoisingAutoEncoderLoss": f"{_ST}.losses.denoising_auto_encoder",
    "embedforge.losses.DistillKLDivLoss": f"{_ST}.losses.distill_kl_div",
    "embedforge.losses.GISTEmbedLoss": f"{_ST}.losses.gist_embed",
    "embedforge.losses.MSELoss": f"{_ST}.losses.mse",
    "embedforge.losses.MarginMSELoss": f"{_ST}.losses.margin_mse",
    "embedforge.losses.Matryoshka2dLoss": f"{_ST}.losses.matryoshka_2d",
    "embedforge.losses.MatryoshkaLoss": f"{_ST}.losses.matryoshka",
    "embedforge.losses.MegaBatchMarginLoss": f"{_ST}.losses.mega_batch_margin",
    "embedforge.losses.MultipleNegativesRankingLoss": f"{_ST}.losses.multiple_negatives_ranking",
    "embedforge.losses.MultipleNegativesSymmetricRankingLoss": f"{_ST}.losses.multiple_negatives_symmetric_ranking",
    "embedforge.losses.OnlineContrastiveLoss": f"{_ST}.losses.online_contrastive",
    "embedforge.losses.SoftmaxLoss": f"{_ST}.losses.softmax",
    "embedforge.losses.TripletLoss": f"{_ST}.losses.triplet",
    "embedforge.models.Asym": f"{_BASE}.modules.router",
    "embedforge.models.BoW": f"{_ST}.modules.bow",
    "embedforge.models.CLIPModel": f"{_ST}.modules.clip_model",
    "embedforge.models.CNN": f"{_ST}.modules.cnn",
    "embedforge.models.Dense": f"{_BASE}.modules.dense",
    "embedforge.models.Dropout": f"{_ST}.modules.dropout",
    "embedforge.models.InputModule": f"{_BASE}.modules.input_module",
    "embedforge.models.LSTM": f"{_ST}.modules.lstm",
    "embedforge.models.LayerNorm": f"{_ST}.modules.layer_norm",
    "embedforge.models.Module": f"{_BASE}.modules.module",
    "embedforge.models.Normalize": f"{_BASE}.modules.normalize",
    "embedforge.models.Pooling": f"{_ST}.modules.pooling",
    "embedforge.models.Router": f"{_BASE}.modules.router",
    "embedforge.models.StaticEmbedding": f"{_ST}.modules.static_embedding",
    "embedforge.models.Transformer": f"{_BASE}.modules.transformer",
    "embedforge.models.WeightedLayerPooling": f"{_ST}.modules.weighted_layer_pooling",
    "embedforge.models.WordEmbeddings": f"{_ST}.modules.word_embeddings",
    "embedforge.models.WordWeights": f"{_ST}.modules.word_weights",
    "embedforge.models.tokenizer.PhraseTokenizer": f"{_ST}.modules.tokenizer.phrase",
    "embedforge.models.tokenizer.WhitespaceTokenizer": f"{_ST}.modules.tokenizer.whitespace",
    "embedforge.models.tokenizer.WordTokenizer": f"{_ST}.modules.tokenizer.word",
    "embedforge.readers.InputExample": f"{_ST}.readers.input_example",
    "embedforge.readers.LabelSentenceReader": f"{_ST}.readers.label_sentence",
    "embedforge.readers.PairedFilesReader": f"{_ST}.readers.paired_files",
    "embedforge.readers.NLIDataReader": f"{_ST}.readers.nli_data",
    "embedforge.readers.STSDataReader": f"{_ST}.readers.sts_data",
    "embedforge.readers.TripletReader": f"{_ST}.readers.triplet",
    f"{_CE}.losses.BinaryCrossEntropyLoss": f"{_CE}.losses.binary_cross_entropy",
    f"{_CE}.losses.CachedMultipleNegativesRankingLoss": f"{_CE}.losses.cached_multiple_negatives_ranking",
    f"{_CE}.losses.CrossEntropyLoss": f"{_CE}.losses.cross_entropy",
    f"{_CE}.losses.LambdaLoss": f"{_CE}.losses.lambda_loss",
    f"{_CE}.losses.ListMLELoss": f"{_CE}.losses.list_mle",
    f"{_CE}.losses.ListNetLoss": f"{_CE}.losses.list_net",
    f"{_CE}.losses.MSELoss": f"{_CE}.losses.mse",
    f"{_CE}.losses.MarginMSELoss": f"{_CE}.losses.margin_mse",
    f"{_CE}.losses.MultipleNegativesRankingLoss": f"{_CE}.losses.multiple_negatives_ranking",
    f"{_CE}.losses.PListMLELoss": f"{_CE}.losses.plist_mle",
    f"{_CE}.losses.RankNetLoss": f"{_CE}.losses.rank_net",
    f"{_CE}.evaluation.CEBinaryAccuracyEvaluator": f"{_CE}.evaluation.deprecated",
    f"{_CE}.evaluation.CEBinaryClassificationEvaluator": f"{_CE}.evaluation.deprecated",
    f"{_CE}.evaluation.CEF1Evaluator": f"{_CE}.evaluation.deprecated",
    f"{_CE}.evaluation.CESoftmaxAccuracyEvaluator": f"{_CE}.evaluation.deprecated",
    f"{_CE}.evaluation.CECorrelationEvaluator": f"{_CE}.evaluation.deprecated",
    f"{_CE}.evaluation.CERerankingEvaluator": f"{_CE}.evaluation.deprecated",
}
"""Old path -> new path, in the order sentence-transformers 6.2 lists them."""
