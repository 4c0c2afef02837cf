"""Class-level API of SentenceTransformer and CrossEncoder that sentence-transformers 6.2 also defines."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from embedforge import CrossEncoder, SentenceTransformer
from embedforge.io.hub import ModelNotFoundError
from embedforge.models import BoW, Normalize, Pooling, Router, Transformer
from embedforge.models.base import Module

st = pytest.importorskip("sentence_transformers")


class _Recorder(Module):
    """Records which models announced themselves through ``on_model_ready``."""

    def __init__(self) -> None:
        super().__init__()
        self.ready_calls: list[str] = []

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return features

    def on_model_ready(self, model: torch.nn.Module) -> None:
        self.ready_calls.append(type(model).__name__)


@pytest.fixture
def models(tiny_bert_path: Path) -> tuple[SentenceTransformer, Any]:
    return SentenceTransformer(str(tiny_bert_path), device="cpu"), st.SentenceTransformer(
        str(tiny_bert_path), device="cpu"
    )


def test_class_attributes_match_st() -> None:
    for ours, theirs in ((SentenceTransformer, st.SentenceTransformer), (CrossEncoder, st.CrossEncoder)):
        assert ours.default_huggingface_organization == theirs.default_huggingface_organization
        assert ours.model_card_data_class.__name__ == theirs.model_card_data_class.__name__
    assert SentenceTransformer.SUPPORTED_SIMILARITY_FN_NAMES == st.SentenceTransformer.SUPPORTED_SIMILARITY_FN_NAMES
    assert isinstance(
        SentenceTransformer(modules=[Normalize()]).model_card_data, SentenceTransformer.model_card_data_class
    )


def test_backend_modalities_and_supports_match_st(models: tuple[SentenceTransformer, Any]) -> None:
    ours, theirs = models
    assert ours.get_backend() == theirs.get_backend() == "torch"
    assert ours.modalities == theirs.modalities == ["text"]
    for modality in ("text", "image", "audio", ("image", "text"), ("text",)):
        assert ours.supports(modality) == theirs.supports(modality), modality


SINGULAR_CASES = [
    "one text",
    ["a", "b"],
    ("a", "b"),
    [],
    np.array(["a", "b"]),
    np.array("a"),
    np.array([1.0, 2.0]),
    [{"role": "user", "content": "hi"}],
    [[{"role": "user", "content": "hi"}]],
    {"text": "a"},
]


@pytest.mark.parametrize("inputs", SINGULAR_CASES, ids=range(len(SINGULAR_CASES)))
def test_is_singular_input_matches_st(models: tuple[SentenceTransformer, Any], inputs: Any) -> None:
    ours, theirs = models
    assert ours.is_singular_input(inputs) == theirs.is_singular_input(inputs)


def test_is_singular_input_counts_a_datasets_column_as_a_batch(models: tuple[SentenceTransformer, Any]) -> None:
    datasets = pytest.importorskip("datasets")
    ours, theirs = models
    column = datasets.Dataset.from_dict({"text": ["a", "b"]})["text"]
    assert ours.is_singular_input(column) is theirs.is_singular_input(column) is False


def test_encode_multi_process_warns_and_encodes_with_the_pool(models: tuple[SentenceTransformer, Any]) -> None:
    model, _ = models
    texts = ["first text", "second text", "a third one"]
    pool = model.start_multi_process_pool(["cpu"])
    try:
        with pytest.warns(DeprecationWarning, match="encode_multi_process is deprecated"):
            embeddings = model.encode_multi_process(texts, pool, normalize_embeddings=True, chunk_size=2)
    finally:
        model.stop_multi_process_pool(pool)
    np.testing.assert_allclose(embeddings, model.encode(texts, normalize_embeddings=True), atol=1e-6)


def test_get_sentence_features_uses_the_first_module_as_st() -> None:
    vocab = ["cat", "dog", "fish"]
    ours = SentenceTransformer(modules=[BoW(vocab, {"cat": 2.0, "dog": 1.0})], device="cpu")
    from sentence_transformers.sentence_transformer.modules import BoW as StBoW

    theirs = st.SentenceTransformer(modules=[StBoW(vocab, {"cat": 2.0, "dog": 1.0})], device="cpu")
    tokens = [[0, 0, 1], [2]]
    torch.testing.assert_close(
        ours.get_sentence_features(tokens)["sentence_embedding"],
        theirs.get_sentence_features(tokens)["sentence_embedding"],
    )


def test_get_sentence_features_without_support_says_so(models: tuple[SentenceTransformer, Any]) -> None:
    with pytest.raises(TypeError, match="Transformer has none"):
        models[0].get_sentence_features([[1, 2]])


def test_on_model_ready_reaches_every_module_and_routes(tiny_bert_path: Path) -> None:
    top, query_side, shared = _Recorder(), _Recorder(), _Recorder()
    transformer = Transformer(str(tiny_bert_path))
    pooling = Pooling(transformer.get_word_embedding_dimension())
    router = Router({"query": [query_side, shared], "document": [shared]})
    SentenceTransformer(modules=[transformer, pooling, router, top], device="cpu")
    assert top.ready_calls == query_side.ready_calls == shared.ready_calls == ["SentenceTransformer"]


def test_cross_encoder_calls_on_model_ready(tiny_bert_path: Path) -> None:
    recorder = _Recorder()
    model = CrossEncoder(str(tiny_bert_path), device="cpu")
    CrossEncoder(modules=[model[0], recorder], device="cpu")
    assert recorder.ready_calls == ["CrossEncoder"]
    assert model.get_backend() == "torch" and model.supports("text")


def _cache_repo(cache: Path, repo_id: str, model_folder: Path) -> None:
    """Lay ``model_folder`` out as the cached snapshot of ``repo_id`` in a Hugging Face cache folder."""
    commit = "0" * 40
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(model_folder, repo / "snapshots" / commit)


def test_bare_name_resolves_under_the_family_organization(tiny_bert_path: Path, tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    CrossEncoder(str(tiny_bert_path), device="cpu").save(str(saved))
    cache = tmp_path / "cache"
    _cache_repo(cache, "cross-encoder/tiny-reranker", saved)
    model = CrossEncoder("tiny-reranker", device="cpu", cache_folder=str(cache), local_files_only=True)
    scores = model.predict([("a query", "a document")])
    assert scores.shape == (1,)
    # a SentenceTransformer looks under sentence-transformers/, where no such repository is cached
    with pytest.raises(ModelNotFoundError, match="sentence-transformers/tiny-reranker"):
        SentenceTransformer("tiny-reranker", device="cpu", cache_folder=str(cache), local_files_only=True)


def _assert_same_features(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Same tensors; ST 6.2 also records ``modality`` metadata, which embedforge (text only) leaves out."""
    expected = {name: value for name, value in theirs.items() if isinstance(value, torch.Tensor)}
    assert set(ours) == set(expected)
    for name, tensor in expected.items():
        torch.testing.assert_close(ours[name], tensor)


def test_smart_batching_collate_matches_st(models: tuple[SentenceTransformer, Any]) -> None:
    from sentence_transformers import InputExample as StInputExample

    from embedforge import InputExample

    ours, theirs = models
    rows = [(["a cat sits", "on a mat"], 0.5), (["the dog", "runs far away quickly"], 1.0)]
    our_features, our_labels = ours.smart_batching_collate([InputExample(texts=t, label=y) for t, y in rows])
    st_features, st_labels = theirs.smart_batching_collate([StInputExample(texts=t, label=y) for t, y in rows])
    assert len(our_features) == len(st_features) == 2
    for mine, reference in zip(our_features, st_features, strict=True):
        _assert_same_features(mine, reference)
    torch.testing.assert_close(our_labels, st_labels)


def test_cross_encoder_collates_match_st(tiny_bert_path: Path) -> None:
    from sentence_transformers import InputExample as StInputExample

    from embedforge import InputExample

    ours = CrossEncoder(str(tiny_bert_path), device="cpu")
    theirs = st.CrossEncoder(str(tiny_bert_path), device="cpu")
    pairs = [(" a query ", "a long relevant document"), ("short", "another document text")]
    our_features, our_labels = ours.smart_batching_collate([InputExample(texts=p, label=1) for p in pairs])
    st_features, st_labels = theirs.smart_batching_collate([StInputExample(texts=p, label=1) for p in pairs])
    _assert_same_features(our_features, dict(st_features))
    assert our_labels.dtype == st_labels.dtype == torch.float
    torch.testing.assert_close(our_labels, st_labels)
    _assert_same_features(
        ours.smart_batching_collate_text_only(pairs), dict(theirs.smart_batching_collate_text_only(pairs))
    )
