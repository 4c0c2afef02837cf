"""Router against sentence-transformers 6.2: routing by task, default route, errors, save layout, loading both ways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.normalizers import Lowercase
from tokenizers.pre_tokenizers import Whitespace
from torch import nn

from embedforge.io import register_module
from embedforge.io.layout import ModuleEntry
from embedforge.io.load import load_entries
from embedforge.io.registry import type_name_of
from embedforge.models.base import Features, LoadContext, Module
from embedforge.models.dense import Dense
from embedforge.models.normalize import Normalize
from embedforge.models.router import Asym, Router
from embedforge.models.static_embedding import StaticEmbedding

pytestmark = pytest.mark.interop

WORDS = [
    "the",
    "a",
    "man",
    "dog",
    "plays",
    "guitar",
    "runs",
    "on",
    "beach",
    "what",
    "is",
    "capital",
    "?",
    ".",
    "query",
    "document",
]
TEXTS = ["A man plays a guitar.", "What is the capital?", "", "dog runs on the beach"]
DIM = 6


def make_tokenizer() -> Tokenizer:
    vocab = {token: index for index, token in enumerate(["[PAD]", "[UNK]", *WORDS])}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = Lowercase()
    tokenizer.pre_tokenizer = Whitespace()
    return tokenizer


def random_weights(seed: int, dim: int = DIM) -> torch.Tensor:
    return torch.randn(make_tokenizer().get_vocab_size(), dim, generator=torch.Generator().manual_seed(seed))


class Scale(Module):
    """Test-only module: multiplies the sentence embedding by ``factor`` (a config value, no weights)."""

    config_keys: ClassVar[tuple[str, ...]] = ("factor",)

    def __init__(self, factor: float = 2.0) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, features: Features, **kwargs: Any) -> Features:
        features["sentence_embedding"] = features["sentence_embedding"] * self.factor
        return features


class RecordTask(Module):
    """Test-only module that accepts ``task`` in forward and records it."""

    forward_kwargs: ClassVar[frozenset[str]] = frozenset({"task"})

    def forward(self, features: Features, task: str | None = None, **kwargs: Any) -> Features:
        features["seen_task"] = task
        return features


register_module("embedforge_tests.Scale", Scale)
register_module("embedforge_tests.RecordTask", RecordTask)


def st_scale_class() -> type:
    from sentence_transformers.base.modules import Module as STModule

    class STScale(STModule):
        config_keys: ClassVar[list[str]] = ["factor"]

        def __init__(self, factor: float = 2.0) -> None:
            super().__init__()
            self.factor = factor

        def forward(self, features: dict, **kwargs: Any) -> dict:
            features["sentence_embedding"] = features["sentence_embedding"] * self.factor
            return features

        def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
            self.save_config(output_path)

    return STScale


def ours_and_st_statics(seed: int) -> tuple[StaticEmbedding, Any]:
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding as STStaticEmbedding

    weights = random_weights(seed)
    return (
        StaticEmbedding(make_tokenizer(), embedding_weights=weights.clone()),
        STStaticEmbedding(make_tokenizer(), embedding_weights=weights.clone()),
    )


@pytest.fixture
def pair() -> tuple[Router, Any]:
    """The same query/document Router in embedforge and in sentence-transformers (query route scaled by 3)."""
    from sentence_transformers.base.modules import Router as STRouter

    query, st_query = ours_and_st_statics(1)
    document, st_document = ours_and_st_statics(2)
    ours = Router.for_query_document([query, Scale(3.0)], [document])
    st = STRouter.for_query_document([st_query, st_scale_class()(3.0)], [st_document])
    return ours, st


def run(module: Any, task: str | None, texts: list[str] = TEXTS) -> torch.Tensor:
    with torch.no_grad():
        return module(module.preprocess(texts, task=task))["sentence_embedding"]


def expected_static(module: StaticEmbedding, factor: float = 1.0) -> torch.Tensor:
    with torch.no_grad():
        return module(module.tokenize(TEXTS))["sentence_embedding"] * factor


# ------------------------------------------------------------------- routing
def test_routes_by_task_and_records_it(pair: tuple[Router, Any]) -> None:
    ours, _ = pair
    query, document = ours.sub_modules["query"][0], ours.sub_modules["document"][0]
    features = ours.preprocess(TEXTS, task="query")
    assert features["task"] == "query" and features["modality"] == "text"
    torch.testing.assert_close(ours(features)["sentence_embedding"], expected_static(query, 3.0))
    torch.testing.assert_close(run(ours, "document"), expected_static(document))
    torch.testing.assert_close(
        ours(ours.tokenize(TEXTS, task="query"))["sentence_embedding"], expected_static(query, 3.0)
    )
    # an explicit task in forward wins over the recorded one (same tokenizer on both routes here)
    torch.testing.assert_close(
        ours(ours.preprocess(TEXTS, task="query"), task="document")["sentence_embedding"], expected_static(document)
    )


def test_matches_sentence_transformers(pair: tuple[Router, Any]) -> None:
    ours, st = pair
    for task in ("query", "document", None):
        ours_features, st_features = ours.preprocess(TEXTS, task=task), st.preprocess(TEXTS, task=task)
        assert ours_features.keys() == st_features.keys()
        assert ours_features["task"] == st_features["task"]
        assert torch.equal(ours_features["input_ids"], st_features["input_ids"])
        torch.testing.assert_close(run(ours, task), run(st, task))
    assert sorted(ours.state_dict()) == sorted(st.state_dict())
    assert ours.default_route == st.default_route == "document"


def test_default_route(pair: tuple[Router, Any]) -> None:
    ours, _ = pair
    torch.testing.assert_close(run(ours, None), run(ours, "document"))
    first = Router(
        {
            "query": [StaticEmbedding(make_tokenizer(), embedding_dim=3)],
            "document": [StaticEmbedding(make_tokenizer(), embedding_dim=3)],
        }
    )
    assert first.default_route == "query"
    assert (
        Router.for_query_document(
            first.sub_modules["query"], first.sub_modules["document"], default_route=None
        ).default_route
        == "query"
    )


def test_missing_route_errors_are_clear() -> None:
    statics = {name: [StaticEmbedding(make_tokenizer(), embedding_dim=3)] for name in ("query", "document")}
    router = Router(statics)
    with pytest.raises(ValueError, match=r"no route for task='passage'.*task='query', task='document'"):
        router.preprocess(TEXTS, task="passage")
    strict = Router(statics, allow_empty_key=False).eval()  # modules start in training mode, as in torch
    assert strict.default_route is None
    with pytest.raises(ValueError, match=r"task=None.*default_route.*Pass task="):
        strict.preprocess(TEXTS)
    with pytest.raises(ValueError, match="default_route"):
        strict({"input_ids": torch.tensor([1]), "offsets": torch.tensor([0])})
    strict.train()
    with pytest.raises(ValueError, match="router_mapping"):
        strict.preprocess(TEXTS)


def test_constructor_errors_are_clear() -> None:
    static = StaticEmbedding(make_tokenizer(), embedding_dim=3)
    with pytest.raises(ValueError, match="at least one route"):
        Router({})
    with pytest.raises(ValueError, match=r"\['empty'\] have no modules"):
        Router({"a": [static], "empty": []})
    with pytest.raises(ValueError, match="default_route 'b' is not a route"):
        Router({"a": [static]}, default_route="b")
    with pytest.raises(ValueError, match=r"route_mappings sends .* 'b'"):
        Router({"a": [static]}, route_mappings={("query", None): "b"})
    with pytest.raises(TypeError, match="starts with Scale"):
        Router({"a": [Scale()]}).preprocess(TEXTS)


def test_route_mappings_follow_sentence_transformers_priority() -> None:
    from sentence_transformers.base.modules import Router as STRouter

    (a, st_a), (b, st_b) = ours_and_st_statics(3), ours_and_st_statics(4)
    mappings = {("query", None): "b", (None, "text"): "a"}
    ours = Router({"a": [a], "b": [b]}, route_mappings=mappings, allow_empty_key=False)
    st = STRouter({"a": [st_a], "b": [st_b]}, route_mappings=mappings, allow_empty_key=False)
    for task in ("query", "document", "anything", None):
        torch.testing.assert_close(run(ours, task), run(st, task))
    torch.testing.assert_close(run(ours, "query"), expected_static(b))
    torch.testing.assert_close(run(ours, "anything"), expected_static(a))


def test_task_reaches_sub_modules_that_accept_it() -> None:
    router = Router({"query": [StaticEmbedding(make_tokenizer(), embedding_dim=3), RecordTask()]})
    assert Router.forward_kwargs == frozenset({"task"})
    assert router(router.preprocess(TEXTS, task="query"))["seen_task"] == "query"
    assert router(router.preprocess(TEXTS))["seen_task"] is None


def test_legacy_task_dict_inputs(pair: tuple[Router, Any]) -> None:
    ours, _ = pair
    features = ours.preprocess([{"query": text} for text in TEXTS])
    assert features["task"] == "query"
    torch.testing.assert_close(ours(features)["sentence_embedding"], run(ours, "query"))
    with pytest.raises(ValueError, match="different tasks"):
        ours.preprocess([{"query": "a"}, {"document": "b"}])
    assert Asym is Router


def test_dimension_and_max_seq_length() -> None:
    static = StaticEmbedding(make_tokenizer(), embedding_dim=DIM)
    router = Router({"a": [static, Dense(DIM, 4)], "b": [static, Dense(DIM, 4), Normalize()]})
    assert router.get_sentence_embedding_dimension() == router.get_embedding_dimension() == 4
    assert Router({"a": [static], "b": [RecordTask()]}).get_sentence_embedding_dimension() == DIM
    assert router.max_seq_length is None
    router.max_seq_length = 8  # nothing to set: StaticEmbedding has no limit
    assert static.max_seq_length is None
    assert router.prompt_length("what is ", task="a") is None


def test_with_transformer_and_pooling(tiny_bert_path: Path) -> None:
    from embedforge.models.pooling import Pooling
    from embedforge.models.transformer import Transformer

    transformer = Transformer(tiny_bert_path)
    router = Router.for_query_document(
        [StaticEmbedding(make_tokenizer(), embedding_dim=32)], [transformer, Pooling(32)]
    )
    assert router.max_seq_length == transformer.max_seq_length == 64
    router.max_seq_length = 16
    assert transformer.max_seq_length == 16
    assert router.prompt_length("query: ", task="document") == transformer.prompt_length("query: ")
    features = router.preprocess(TEXTS, prompt="query: ", task="document")
    assert features["prompt_length"] == transformer.prompt_length("query: ")
    assert run(router, "document").shape == run(router, "query").shape == (len(TEXTS), 32)


# --------------------------------------------------------------- save / load
def test_save_layout_is_sentence_transformers(pair: tuple[Router, Any], tmp_path: Path) -> None:
    from sentence_transformers.base.modules import Router as STRouter

    ours, _ = pair
    ours.save(tmp_path / "ours")
    _, st_query = ours_and_st_statics(1)
    _, st_document = ours_and_st_statics(2)
    STRouter.for_query_document([st_query], [st_document]).save(str(tmp_path / "st"))
    names = sorted(p.name for p in (tmp_path / "ours").iterdir())
    assert names == ["document_0_StaticEmbedding", "query_0_StaticEmbedding", "query_1_Scale", "router_config.json"]
    config = json.loads((tmp_path / "ours" / "router_config.json").read_text(encoding="utf-8"))
    st_config = json.loads((tmp_path / "st" / "router_config.json").read_text(encoding="utf-8"))
    assert config["parameters"] == st_config["parameters"]
    assert config["types"]["query_1_Scale"] == "embedforge_tests.Scale"
    for folder, type_name in st_config["types"].items():
        assert config["types"][folder] == type_name
    assert config["structure"] == {
        "query": ["query_0_StaticEmbedding", "query_1_Scale"],
        "document": ["document_0_StaticEmbedding"],
    }
    assert json.loads((tmp_path / "ours" / "query_1_Scale" / "config.json").read_text()) == {"factor": 3.0}


def test_ours_saved_loads_in_sentence_transformers(pair: tuple[Router, Any], tmp_path: Path) -> None:
    from sentence_transformers.base.modules import Router as STRouter

    ours, _ = pair
    ours.save(tmp_path)
    loaded = STRouter.load(str(tmp_path), module_classes={"embedforge_tests.Scale": st_scale_class()})
    for task in ("query", "document", None):
        torch.testing.assert_close(run(loaded, task), run(ours, task))


def test_sentence_transformers_saved_loads_in_ours(pair: tuple[Router, Any], tmp_path: Path) -> None:
    _, st = pair
    st_scale = st.sub_modules["query"][1]
    register_module(f"{type(st_scale).__module__}.{type(st_scale).__name__}", type("ScaleFromST", (Scale,), {}))
    st.save(str(tmp_path))
    loaded = Router.load(tmp_path, LoadContext())
    for task in ("query", "document", None):
        torch.testing.assert_close(run(loaded, task), run(st, task))


def test_round_trips_with_dense_normalize_and_mappings(tmp_path: Path) -> None:
    from sentence_transformers.base.modules import Dense as STDense
    from sentence_transformers.base.modules import Normalize as STNormalize
    from sentence_transformers.base.modules import Router as STRouter

    (a, st_a), (b, st_b) = ours_and_st_statics(5), ours_and_st_statics(6)
    st_dense = STDense(DIM, 3)
    dense = Dense(
        DIM, 3, init_weight=st_dense.linear.weight.detach().clone(), init_bias=st_dense.linear.bias.detach().clone()
    )
    mappings = {("query", None): "q", (None, ("text", "image")): "d"}
    ours = Router({"q": [a, dense], "d": [b, dense, Normalize()]}, default_route="d", route_mappings=mappings)
    st = STRouter(
        {"q": [st_a, st_dense], "d": [st_b, st_dense, STNormalize()]}, default_route="d", route_mappings=mappings
    )
    ours.save(tmp_path / "ours")
    st.save(str(tmp_path / "st"))
    assert json.loads((tmp_path / "ours" / "router_config.json").read_text()) == json.loads(
        (tmp_path / "st" / "router_config.json").read_text()
    )
    assert not (tmp_path / "ours" / "d_1_Dense").exists()  # the shared Dense is saved once, as q_1_Dense
    st_loaded = STRouter.load(str(tmp_path / "ours"))
    ours_loaded = Router.load(tmp_path / "st", LoadContext())
    assert ours_loaded.sub_modules["q"][1] is ours_loaded.sub_modules["d"][1]
    assert ours_loaded.route_mappings == {("query", None): "q", (None, ("image", "text")): "d"}
    for task in ("query", None):
        expected = run(st, task)
        torch.testing.assert_close(run(ours, task), expected)
        torch.testing.assert_close(run(st_loaded, task), expected)
        torch.testing.assert_close(run(ours_loaded, task), expected)


def test_whole_model_folders_round_trip_with_sentence_transformers(pair: tuple[Router, Any], tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Router as STRouter

    (a, st_a), (b, st_b) = ours_and_st_statics(7), ours_and_st_statics(8)
    st_model = SentenceTransformer(modules=[STRouter.for_query_document([st_a], [st_b])], device="cpu")
    st_model.save(str(tmp_path / "st"), create_model_card=False)
    [(entry, loaded)] = load_entries(tmp_path / "st", LoadContext())
    assert isinstance(loaded, Router) and entry.path == ""
    for task in ("query", "document"):
        torch.testing.assert_close(run(loaded, task), st_model.encode(TEXTS, task=task, convert_to_tensor=True))

    ours = Router.for_query_document([a], [b])
    ours.save(tmp_path / "ours")
    entry = ModuleEntry(idx=0, name="0", path="", type=type_name_of(ours))
    (tmp_path / "ours" / "modules.json").write_text(json.dumps([entry.to_json()]), encoding="utf-8")
    reloaded = SentenceTransformer(str(tmp_path / "ours"), device="cpu")
    torch.testing.assert_close(reloaded.encode_query(TEXTS, convert_to_tensor=True), run(ours, "query"))
    torch.testing.assert_close(reloaded.encode_document(TEXTS, convert_to_tensor=True), run(ours, "document"))


def test_legacy_asym_folder_loads(tmp_path: Path) -> None:
    """Asym (ST < 5) wrote config.json, module ids from id(), old type paths and only allow_empty_key."""
    from sentence_transformers.base.modules import Router as STRouter

    static = StaticEmbedding(make_tokenizer(), embedding_weights=random_weights(9))
    dense = Dense(DIM, 2, activation_function=nn.Identity())
    static.save(tmp_path / "1401_StaticEmbedding")
    dense.save(tmp_path / "1402_Dense")
    config = {
        "types": {
            "1401_StaticEmbedding": "sentence_transformers.models.StaticEmbedding",
            "1402_Dense": "sentence_transformers.models.Dense",
        },
        "structure": {"query": ["1401_StaticEmbedding", "1402_Dense"], "doc": ["1401_StaticEmbedding"]},
        "parameters": {"allow_empty_key": True},
    }
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    loaded = Router.load(tmp_path, LoadContext())
    assert loaded.default_route == "query" and loaded.sub_modules["query"][0] is loaded.sub_modules["doc"][0]
    reference = STRouter.load(str(tmp_path))
    for task in ("query", "doc", None):
        torch.testing.assert_close(run(loaded, task), run(reference, task))
    features = loaded.preprocess([{"doc": text} for text in TEXTS])
    torch.testing.assert_close(loaded(features)["sentence_embedding"], expected_static(static))


def test_load_rejects_bad_configs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"router_config\.json"):
        Router.load(tmp_path, LoadContext())
    bad = {"types": {"../outside": "sentence_transformers.models.Dense"}, "structure": {"a": ["../outside"]}}
    (tmp_path / "router_config.json").write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ValueError, match="relative path"):
        Router.load(tmp_path, LoadContext())
    (tmp_path / "router_config.json").write_text(json.dumps({"types": {}}), encoding="utf-8")
    with pytest.raises(ValueError, match="lacks \\['structure'\\]"):
        Router.load(tmp_path, LoadContext())


def test_tokenizer_and_modalities_match_sentence_transformers(pair: tuple[Router, Any]) -> None:
    ours, st = pair
    assert ours.tokenizer is ours.sub_modules["query"][0].tokenizer
    assert ours.tokenizer.get_vocab() == st.tokenizer.get_vocab()
    assert ours.modalities == st.modalities == ["text"]
    assert Router({"a": [RecordTask()]}).tokenizer is None
