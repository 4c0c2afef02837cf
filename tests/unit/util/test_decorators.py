"""embedforge.util.decorators: the same argument mapping as sentence-transformers 6.2's decorators."""

from __future__ import annotations

from typing import Any

import pytest

from embedforge.util import decorators


@pytest.fixture(scope="module")
def st_decorators():
    return pytest.importorskip("sentence_transformers.util.decorators")


def _echo(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


def _both(module_a: Any, module_b: Any, name: str, *decorator_args: Any, **decorator_kwargs: Any) -> list[Any]:
    wrapped = []
    for module in (module_a, module_b):
        decorator = getattr(module, name)
        wrapped.append(decorator(*decorator_args, **decorator_kwargs)(_echo) if decorator_kwargs else decorator(_echo))
    return wrapped


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sentence_embedding_dimension": 8},
        {"sentence_embedding_dimension": 8, "embedding_dimension": 4},
        {"other": 1},
    ],
)
def test_deprecated_kwargs_matches_st(st_decorators, kwargs: dict[str, Any]):
    ours, theirs = _both(
        decorators, st_decorators, "deprecated_kwargs", sentence_embedding_dimension="embedding_dimension"
    )
    assert ours(1, **kwargs) == theirs(1, **kwargs)
    assert "sentence_embedding_dimension" not in ours(**kwargs)[1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model_args": {"a": 1}, "tokenizer_args": {"b": 2}, "config_args": {"c": 3}},
        {"model_args": {"a": 1}, "model_kwargs": {"keep": True}},
        {"cache_dir": "/cache", "model_kwargs": {"cache_dir": "/mine"}},
        {"cache_dir": None},
    ],
)
def test_transformer_kwargs_decorator_matches_st(st_decorators, kwargs: dict[str, Any]):
    ours, theirs = _both(decorators, st_decorators, "transformer_kwargs_decorator")
    assert ours("name", **kwargs) == theirs("name", **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("self", "model"), {"model_name": "m", "tokenizer_args": {"x": 1}, "cache_dir": "/c"}),
        (("self", "model", 3, 128), {}),
        (("self", "model", 3), {"num_labels": 5}),
        (("self",), {"model_name_or_path": "m", "classifier_dropout": 0.1}),
        (("self",), {"classifier_dropout": 0.2, "config_kwargs": {"a": 1}}),
        (("self",), {"default_activation_function": "sigmoid"}),
    ],
)
def test_cross_encoder_init_args_decorator_matches_st(st_decorators, args: tuple, kwargs: dict[str, Any]):
    ours, theirs = _both(decorators, st_decorators, "cross_encoder_init_args_decorator")
    assert ours(*args, **{**kwargs}) == theirs(*args, **{**kwargs})


def test_cross_encoder_predict_rank_args_decorator_matches_st(st_decorators):
    def predict(self: Any, inputs: Any, activation_fn: Any = None, convert_to_numpy: bool = True) -> dict:
        return {"inputs": inputs, "activation_fn": activation_fn, "convert_to_numpy": convert_to_numpy}

    def rank(self: Any, query: str, documents: list, **kwargs: Any) -> dict:
        return {"query": query, "documents": documents, **kwargs}

    for module in (decorators, st_decorators):
        wrapped_predict = module.cross_encoder_predict_rank_args_decorator(predict)
        assert wrapped_predict(None, sentences=["a"], activation_fct="f", num_workers=2, convert_to_numpy=False) == {
            "inputs": ["a"],
            "activation_fn": "f",
            "convert_to_numpy": False,
        }
        wrapped_rank = module.cross_encoder_predict_rank_args_decorator(rank)
        assert wrapped_rank(None, "q", ["d"], apply_softmax=True, convert_to_tensor=True, top_k=1) == {
            "query": "q",
            "documents": ["d"],
            "top_k": 1,
        }
        assert wrapped_rank.__name__ == "rank"


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("self", "repo"), {}),
        (("self", "repo", "org", True), {}),
        (("self",), {"repo_name": "old"}),
        (("self",), {"repo_name": "old", "repo_id": "new"}),
    ],
)
def test_save_to_hub_args_decorator_matches_st(st_decorators, args: tuple, kwargs: dict[str, Any]):
    ours, theirs = _both(decorators, st_decorators, "save_to_hub_args_decorator")
    assert ours(*args, **dict(kwargs)) == theirs(*args, **dict(kwargs))
    if len(args) >= 3:
        assert ours(*args)[0][3] is None  # self, repo_id, organization, token
