"""GenQ / GPL pipelines on a tiny random T5 and tiny BERT models: shapes, reproducibility, the GPL margin labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from embedforge import CrossEncoder, SentenceTransformer, SentenceTransformerTrainer
from embedforge import SentenceTransformerTrainingArguments as Args
from embedforge.domain_adaptation import QueryGenerator, genq_pairs, gpl_triplets
from embedforge.losses import MarginMSELoss

PASSAGES = [
    "a man plays a guitar near the park",
    "the woman eats food at the table",
    "a dog runs on the beach near the water",
    "children play with a ball in the grass",
    "the old car is parked in the street",
    "a cat sits on the table in the house",
]


@pytest.fixture
def generator_path(tiny_bert_path: Path, tmp_path: Path) -> Path:
    """A random 1-layer T5 sharing the tiny BERT's tokenizer (decoding starts at [PAD], ends at [SEP])."""
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_path))
    config = T5Config(
        vocab_size=tokenizer.vocab_size,
        d_model=16,
        d_ff=32,
        d_kv=8,
        num_layers=1,
        num_heads=2,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    target = tmp_path / "t5"
    T5ForConditionalGeneration(config).save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    return target


def test_generator_samples_reproducibly_and_decodes_greedily(generator_path: Path) -> None:
    generator = QueryGenerator(str(generator_path), device="cpu", max_query_length=8)
    first = generator.generate(PASSAGES[:3], num_queries=3, batch_size=2, seed=5)
    assert first == generator.generate(PASSAGES[:3], num_queries=3, batch_size=2, seed=5)
    assert len(first) == 3 and all(1 <= len(group) <= 3 and len(set(group)) == len(group) for group in first)
    assert all(query and query == query.strip() for group in first for query in group)
    greedy = generator.generate(PASSAGES[:2], num_queries=2, do_sample=False)
    assert greedy == generator.generate(PASSAGES[:2], num_queries=2, do_sample=False)
    with pytest.raises(ValueError, match="num_queries must be at least 1"):
        generator.generate(PASSAGES, num_queries=0)


def test_genq_pairs_keep_each_query_with_its_passage(generator_path: Path) -> None:
    generator = QueryGenerator(str(generator_path), device="cpu", max_query_length=8)
    corpus = {f"doc{i}": text for i, text in enumerate(PASSAGES)}
    pairs = genq_pairs(corpus, generator, num_queries=2, seed=1)
    expected = generator.generate(PASSAGES, num_queries=2, seed=1)
    assert pairs.column_names == ["query", "passage"]
    assert list(zip(pairs["query"], pairs["passage"], strict=True)) == [
        (query, passage) for passage, group in zip(PASSAGES, expected, strict=True) for query in group
    ]


def test_gpl_labels_are_cross_encoder_margins_and_train(tiny_bert_path: Path, tmp_path: Path) -> None:
    from datasets import Dataset

    pairs = Dataset.from_dict(
        {"query": [f"where is the {w}" for w in ("guitar", "food", "dog")], "passage": PASSAGES[:3]}
    )
    retriever = SentenceTransformer(str(tiny_bert_path), device="cpu")
    torch.manual_seed(0)
    teacher = CrossEncoder(str(tiny_bert_path), device="cpu")
    triplets = gpl_triplets(pairs, PASSAGES, retriever, teacher, num_negatives=2, range_max=4)
    assert triplets.column_names == ["query", "positive", "negative", "label"]
    assert len(triplets) == 6 and all(row["negative"] != row["positive"] for row in triplets)
    identity = torch.nn.Identity()
    positive = teacher.predict(list(zip(triplets["query"], triplets["positive"], strict=True)), activation_fn=identity)
    negative = teacher.predict(list(zip(triplets["query"], triplets["negative"], strict=True)), activation_fn=identity)
    np.testing.assert_allclose(triplets["label"], positive - negative, atol=1e-5)
    args = Args(output_dir=str(tmp_path / "gpl"), max_steps=1, per_device_train_batch_size=3, report_to="none",
                use_cpu=True, save_strategy="no")  # fmt: skip
    SentenceTransformerTrainer(
        model=retriever, args=args, train_dataset=triplets, loss=MarginMSELoss(retriever)
    ).train()
