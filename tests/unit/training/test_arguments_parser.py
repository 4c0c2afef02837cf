"""The training arguments parse from a command line with transformers' HfArgumentParser, as ST's do."""

from __future__ import annotations

from typing import Any

import pytest
from transformers import HfArgumentParser

from embedforge.cross_encoder import CrossEncoderTrainingArguments
from embedforge.training.arguments import (
    BatchSamplers,
    MultiDatasetBatchSamplers,
    SentenceTransformerTrainingArguments,
)

ARGVS = [
    [
        "--batch_sampler",
        "no_duplicates",
        "--prompts",
        '{"anchor": "query: ", "positive": "doc: "}',
        "--router_mapping",
        '{"anchor": "query", "positive": "document"}',
        "--learning_rate_mapping",
        '{"StaticEmbedding\\\\.*": 0.001}',
        "--multi_dataset_batch_sampler",
        "round_robin",
    ],
    ["--prompts", "query: "],
    ["--prompts", '{"nli": {"premise": "p: "}}', "--batch_sampler", "group_by_label"],
    [],
]
FIELDS = ("batch_sampler", "multi_dataset_batch_sampler", "prompts", "router_mapping", "learning_rate_mapping")


def _parse(cls: type, argv: list[str]) -> dict[str, Any]:
    (args,) = HfArgumentParser(cls).parse_args_into_dataclasses(["--output_dir", "unused", *argv])
    values = {name: getattr(args, name) for name in FIELDS}
    values["batch_sampler"] = values["batch_sampler"].value
    values["multi_dataset_batch_sampler"] = values["multi_dataset_batch_sampler"].value
    return values


@pytest.mark.parametrize("argv", ARGVS)
def test_sentence_transformer_arguments_parse_like_st(argv: list[str]) -> None:
    from sentence_transformers import SentenceTransformerTrainingArguments as STArguments

    assert _parse(SentenceTransformerTrainingArguments, argv) == _parse(STArguments, argv)


@pytest.mark.parametrize("argv", ARGVS)
def test_cross_encoder_arguments_parse_like_st(argv: list[str]) -> None:
    from sentence_transformers.cross_encoder import CrossEncoderTrainingArguments as STArguments

    assert _parse(CrossEncoderTrainingArguments, argv) == _parse(STArguments, argv)


def test_parsed_values_are_our_enums_and_dicts() -> None:
    (args,) = HfArgumentParser(SentenceTransformerTrainingArguments).parse_args_into_dataclasses(
        ["--output_dir", "unused", *ARGVS[0]]
    )
    assert args.batch_sampler is BatchSamplers.NO_DUPLICATES
    assert args.multi_dataset_batch_sampler is MultiDatasetBatchSamplers.ROUND_ROBIN
    assert args.prompts == {"anchor": "query: ", "positive": "doc: "}
    assert args.router_mapping == {"anchor": "query", "positive": "document"}
    assert args.learning_rate_mapping == {"StaticEmbedding\\.*": 0.001}


def test_unknown_batch_sampler_is_refused_by_the_parser() -> None:
    parser = HfArgumentParser(SentenceTransformerTrainingArguments)
    with pytest.raises(SystemExit):
        parser.parse_args_into_dataclasses(["--output_dir", "unused", "--batch_sampler", "shuffled"])


@pytest.mark.parametrize("name", ["router_mapping", "learning_rate_mapping"])
def test_mapping_that_is_not_json_names_the_field(name: str) -> None:
    with pytest.raises(ValueError, match=rf"{name} expects .* not valid JSON"):
        SentenceTransformerTrainingArguments(output_dir="unused", **{name: "query"})


def test_mapping_none_becomes_empty_dict() -> None:
    args = SentenceTransformerTrainingArguments(output_dir="unused", router_mapping=None, learning_rate_mapping=None)
    assert args.router_mapping == {}
    assert args.learning_rate_mapping == {}
