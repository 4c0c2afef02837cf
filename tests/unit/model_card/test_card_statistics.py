"""Column statistics, sample rows, example texts and loss summaries, checked against direct computations."""

from __future__ import annotations

import logging
from statistics import mean

import pytest
import torch
from torch import nn

from embedforge.model_card import SentenceTransformerModelCardData
from embedforge.model_card.statistics import (
    SBERT_CITATION,
    LossSummary,
    citations_for,
    column_stats,
    summarize_dataset,
    summarize_loss,
    token_counts,
)


def _expected(numbers, suffix="", integers=True):
    low, high = (int(min(numbers)), int(max(numbers))) if integers else (round(min(numbers), 2), round(max(numbers), 2))
    return {"min": f"{low}{suffix}", "mean": f"{round(mean(numbers), 2)}{suffix}", "max": f"{high}{suffix}"}


def test_text_stats_count_whitespace_words_without_tokenizer(pair_columns):
    stats = column_stats(pair_columns["sentence_A"])
    words = [len(text.split()) for text in pair_columns["sentence_A"]]
    assert stats.dtype == "string"
    assert stats.details == _expected(words, " words")


def test_text_stats_count_tokens_with_tokenizer(tiny_bert_path, pair_columns):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_path))

    def tokenize(texts):
        return tokenizer(texts, padding=True, truncation=True, max_length=10, return_tensors="pt")

    texts = pair_columns["sentence_A"] + pair_columns["sentence_B"] * 30  # several tokenizer batches
    stats = column_stats(texts, tokenize)
    direct = [len(tokenizer(text, truncation=True, max_length=10)["input_ids"]) for text in texts]
    assert stats.details == _expected(direct, " tokens")
    assert max(direct) == 10  # truncated as the model would see the text


def test_number_stats(pair_columns):
    floats = column_stats(pair_columns["score"])
    assert floats.dtype == "float"
    assert floats.details == _expected(pair_columns["score"], integers=False)
    ints = column_stats(pair_columns["label"])
    assert ints.dtype == "int"
    assert ints.details == {"min": "0", "mean": f"{round(mean(pair_columns['label']), 2)}", "max": "4"}


def test_list_stats_give_lengths_or_one_size(pair_columns):
    lengths = [len(vector) for vector in pair_columns["vector"]]
    assert column_stats(pair_columns["vector"]).details == _expected(lengths, " elements")
    same = column_stats([[1.0, 2.0], [3.0, 4.0]])
    assert (same.dtype, same.details) == ("list", {"size": "2 elements"})


def test_other_types_only_give_their_type():
    stats = column_stats([{"a": 1}, {"a": 2}])
    assert (stats.dtype, stats.details) == ("dict", {})


def test_token_counts_from_attention_mask_or_offsets():
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    assert token_counts({"input_ids": torch.zeros(2, 4), "attention_mask": mask}) == [3, 4]
    assert token_counts({"attention_mask": [[1, 0], [1, 1]]}) == [1, 2]
    flat = {"input_ids": torch.arange(9), "offsets": torch.tensor([0, 2, 7])}
    assert token_counts(flat) == [2, 5, 2]
    with pytest.raises(ValueError, match="attention_mask"):
        token_counts({"input_ids": torch.zeros(2, 3)})


def test_dataset_summary_size_columns_samples(pair_dataset, pair_loss):
    summary = summarize_dataset(pair_dataset, {"name": "pairs"}, summarize_loss(pair_loss), None)
    assert summary.name == "pairs"
    assert summary.size == 5
    assert summary.stats_rows == 5
    assert summary.columns == ["sentence_A", "sentence_B", "score", "label", "vector"]
    assert len(summary.samples) == 3
    first, second, third = summary.samples
    assert first["sentence_A"] == "<code>A man is playing a guitar.</code>"
    assert second["sentence_A"] == "<code>A woman is eating food<br>outside \\| near the house.</code>"
    assert first["vector"] == "<code>[0.1, 0.2, 0.3, 0.4, 0.5, ...]</code>"
    assert third["score"] == "<code>0.123</code>"


def test_long_texts_are_cut_in_samples(pair_dataset):
    summary = summarize_dataset(pair_dataset.select([4, 0, 1]), {}, None, None)
    assert summary.samples[0]["sentence_A"] == "<code>" + "x" * 1000 + "...</code>"


def test_missing_values_are_skipped():
    assert column_stats([0.5, None, 1.5]).details == {"min": "0.5", "mean": "1.0", "max": "1.5"}
    assert column_stats(["a b", None, "c"]).details == {"min": "1 words", "mean": "1.5 words", "max": "2 words"}


def test_transformed_and_streaming_and_empty_datasets(pair_dataset):
    from datasets import Dataset

    transformed = pair_dataset.select_columns(["sentence_A"])
    transformed.set_transform(lambda batch: {"upper": [text.upper() for text in batch["sentence_A"]]})
    summary = summarize_dataset(transformed, {}, None, None)
    assert summary.columns == ["upper"]
    assert summary.samples[0] == {"upper": "<code>A MAN IS PLAYING A GUITAR.</code>"}

    streaming = summarize_dataset(pair_dataset.to_iterable_dataset(), {"name": "stream"}, None, None)
    assert (streaming.name, streaming.size, streaming.stats, streaming.samples) == ("stream", None, {}, [])
    assert streaming.columns == ["sentence_A", "sentence_B", "score", "label", "vector"]

    empty = summarize_dataset(Dataset.from_dict({"text": []}), {}, None, None)
    assert (empty.size, empty.columns, empty.stats) == (0, ["text"], {})


def test_dataset_name_column_is_ignored_and_stats_use_first_1000_rows():
    from datasets import Dataset

    texts = ["one two"] * 1000 + ["one two three four five six"] * 10
    dataset = Dataset.from_dict({"text": texts, "dataset_name": ["a"] * len(texts)})
    summary = summarize_dataset(dataset, {}, None, None)
    assert summary.columns == ["text"]
    assert summary.size == 1010
    assert summary.stats_rows == 1000
    assert summary.stats["text"].details["max"] == "2 words"


def test_example_texts_prefer_short_rows(pair_dataset):
    summary = summarize_dataset(pair_dataset, {}, None, None)
    # Rows by total text length: row 3 (both its texts), then row 0.
    assert summary.example_texts == [
        "Two dogs.",
        "Two cats sit on the grass.",
        "A man is playing a guitar.",
        "Someone plays music.",
    ]


def test_embedforge_loss_summary_has_config_and_citation(pair_loss):
    summary = summarize_loss(pair_loss)
    assert summary.name == "ScoredPairLoss"
    assert summary.fullname.endswith("conftest.ScoredPairLoss")
    assert summary.config == pair_loss.get_config_dict()
    assert summary.config["scale"] == 20.0
    assert summary.citation == type(pair_loss).citation


def test_other_modules_are_described_by_class_name():
    summary = summarize_loss(nn.MSELoss())
    assert (summary.name, summary.fullname) == ("MSELoss", "torch.nn.modules.loss.MSELoss")
    assert summary.config is None
    assert summary.citation is None


def test_set_training_data_nested_losses_citations_and_names(pair_dataset, wrapped_loss):
    card = SentenceTransformerModelCardData(train_datasets=[{"id": "org/pairs", "revision": "0123456789abcdef"}])
    card.set_training_data({"": pair_dataset}, {"dev": pair_dataset, "test": pair_dataset}, {"": wrapped_loss})
    assert [loss.name for loss in card.losses] == ["WrappingLoss", "ScoredPairLoss"]
    assert list(card.citations) == ["Sentence Transformers", "WrappingLoss", "ScoredPairLoss"]
    assert card.citations["Sentence Transformers"] == SBERT_CITATION
    (train,) = card.train_dataset_summaries
    assert (train.name, train.id, train.revision) == ("org/pairs", "org/pairs", "0123456789abcdef")
    assert [summary.name for summary in card.eval_dataset_summaries] == ["dev", "test"]
    assert all(summary.loss.name == "WrappingLoss" for summary in card.eval_dataset_summaries)


def test_same_citation_shares_a_heading():
    shared = "@misc{same}"
    citations = citations_for([LossSummary("A", "m.A", {}, shared), LossSummary("B", "m.B", {}, shared)])
    assert citations == {"Sentence Transformers": SBERT_CITATION, "A and B": shared}


def test_mismatched_metadata_is_dropped_with_a_warning(pair_dataset, pair_loss, caplog):
    card = SentenceTransformerModelCardData(train_datasets=[{"name": "a"}, {"name": "b"}])
    with caplog.at_level(logging.WARNING):
        card.set_training_data({"only": pair_dataset}, None, {"only": pair_loss})
    assert "lists 2 datasets but training uses 1" in caplog.text
    assert card.train_dataset_summaries[0].name == "only"
    assert card.eval_dataset_summaries == []


def test_per_dataset_losses(pair_dataset, pair_loss, wrapped_loss):
    card = SentenceTransformerModelCardData()
    card.set_training_data({"a": pair_dataset, "b": pair_dataset}, None, {"a": pair_loss, "b": wrapped_loss})
    assert [summary.loss.name for summary in card.train_dataset_summaries] == ["ScoredPairLoss", "WrappingLoss"]
    assert [loss.name for loss in card.losses] == ["ScoredPairLoss", "WrappingLoss"]
