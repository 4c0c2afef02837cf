"""Tiny models built in code for the tests: a WordPiece tokenizer, a 2-layer BERT, a 2-layer BERT classifier, a
seeded word-embedding bi-encoder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

WORDS = (
    "the a an of to and in is was for on that with as by at from it this be are or his her "
    "man woman dog cat child person people car street water ball plays playing runs running sits "
    "sitting walks walking eats eating red blue green big small young old two three guitar grass "
    "beach park house table food music outside inside near under over quick brown fox jumps lazy "
    "query document passage answer question search what who where how why when"
).split()


def build_tokenizer_files(folder: Path, pad_id: int = 0) -> None:
    """Write a tiny uncased WordPiece vocabulary and its fast tokenizer files into ``folder``.

    ``[PAD]`` gets id ``pad_id`` (0 or 1; ``[UNK]`` the other): MPNet's embeddings take 1 as the padding index.
    """
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-")
    specials = ["[PAD]", "[UNK]"] if pad_id == 0 else ["[UNK]", "[PAD]"]
    vocab = [*specials, "[CLS]", "[SEP]", "[MASK]", *letters, *(f"##{c}" for c in letters), *WORDS]
    tokens = list(dict.fromkeys(vocab))
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    vocab_map = {token: index for index, token in enumerate(tokens)}
    tokenizer = BertTokenizerFast(vocab=vocab_map, do_lower_case=True, model_max_length=64)
    tokenizer.save_pretrained(str(folder))


def _tiny_config(folder: Path, **extra: object) -> object:
    """The tokenizer files in ``folder`` and a 2-layer BERT config (hidden 32) with its vocabulary."""
    from transformers import BertConfig

    build_tokenizer_files(folder)
    vocab_size = len((folder / "vocab.txt").read_text(encoding="utf-8").split())
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        **extra,
    )


def build_tiny_bert(folder: Path, seed: int = 0) -> Path:
    """Save a random 2-layer BERT (hidden 32) with its tokenizer as a plain transformers checkpoint."""
    import torch
    from transformers import BertModel

    config = _tiny_config(folder)
    torch.manual_seed(seed)
    BertModel(config).eval().save_pretrained(str(folder))
    return folder


def build_tiny_classifier(folder: Path, num_labels: int = 1, seed: int = 0) -> Path:
    """Save a random 2-layer ``BertForSequenceClassification`` (hidden 32) with its tokenizer (plain checkpoint)."""
    import torch
    from transformers import BertForSequenceClassification

    config = _tiny_config(folder, num_labels=num_labels)
    torch.manual_seed(seed)
    BertForSequenceClassification(config).eval().save_pretrained(str(folder))
    return folder


def tiny_encoder_sizes(model_type: str) -> dict[str, Any]:
    """Config keywords of a 2-layer, hidden-32 encoder of ``model_type`` (DistilBERT names them its own way)."""
    if model_type == "distilbert":
        return {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64}
    sizes = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
    if model_type == "electra":
        sizes["embedding_size"] = 16
    if model_type == "deberta-v2":  # DeBERTa-v3's settings: shared keys, log-bucketed distances beyond 4 positions
        sizes.update(
            relative_attention=True, pos_att_type=["p2c", "c2p"], position_buckets=8, share_att_key=True,
            norm_rel_ebd="layer_norm", position_biased_input=False, type_vocab_size=0,
        )  # fmt: skip
    if model_type == "modernbert":  # local attention over 4 positions either side in layer 1 (layer 0: global)
        sizes.update(local_attention=8, pad_token_id=0, cls_token_id=2, sep_token_id=3, bos_token_id=2, eos_token_id=3)
    return sizes


def build_tiny_encoder(folder: Path, model_type: str, seed: int = 0, num_labels: int | None = None) -> Path:
    """Save a random 2-layer encoder of ``model_type`` (``"roberta"``, ``"distilbert"``, ``"mpnet"``...) with the tiny
    WordPiece tokenizer as a plain transformers checkpoint; its ``pad_token_id`` is the tokenizer's (1 for MPNet,
    whose embeddings fix it, else 0). With ``num_labels``, the architecture's sequence classifier instead."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

    pad_id = 1 if model_type == "mpnet" else 0
    build_tokenizer_files(folder, pad_id)
    vocab_size = len((folder / "vocab.txt").read_text(encoding="utf-8").split())
    # RoBERTa's family counts positions from pad_token_id + 1: room for 64 tokens after the padding index
    sizes = {**tiny_encoder_sizes(model_type), "pad_token_id": pad_id}
    if num_labels is not None:
        sizes["num_labels"] = num_labels
    config = AutoConfig.for_model(model_type, vocab_size=vocab_size, max_position_embeddings=66, **sizes)
    torch.manual_seed(seed)
    model_class = AutoModel if num_labels is None else AutoModelForSequenceClassification
    model_class.from_config(config).eval().save_pretrained(str(folder))
    return folder


def build_word_embedding_model(texts: Sequence[str], dim: int) -> Any:
    """A small trainable bi-encoder, the same in every process: word embeddings over the words of ``texts``, mean
    pooling and a ``dim``-to-``dim`` Dense layer, all seeded (no dropout)."""
    import torch

    from embedforge import SentenceTransformer
    from embedforge.models.dense import Dense
    from embedforge.models.pooling import Pooling
    from embedforge.models.tokenizer.whitespace import WhitespaceTokenizer
    from embedforge.models.word_embeddings import WordEmbeddings

    vocab = ["[PAD]", *sorted({word for text in texts for word in text.split()})]
    generator = torch.Generator().manual_seed(0)
    embeddings = WordEmbeddings(
        WhitespaceTokenizer(vocab, stop_words=()), torch.randn(len(vocab), dim, generator=generator), True
    )
    dense = Dense(dim, dim, init_weight=torch.randn(dim, dim, generator=generator), init_bias=torch.zeros(dim))
    return SentenceTransformer(modules=[embeddings, Pooling(dim, "mean"), dense], device="cpu")
