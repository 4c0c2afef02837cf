"""Building from a recipe: losses and evaluators by name, their data, training arguments."""

from __future__ import annotations

import pytest

from embedforge.config import DatasetSpec, EvaluatorSpec, LossSpec, build_evaluators
from embedforge.config.build import (
    UnknownNameError,
    build_loss,
    build_losses,
    build_model,
    build_training_args,
    evaluator_class,
    loss_class,
)
from embedforge.config.recipe import parse_recipe
from unit.config.recipe_helpers import sts_rows, tiny_recipe, triplet_rows, write_beir, write_csv


@pytest.fixture
def tiny_model(tiny_bert_path):
    from embedforge.config import ModelSpec

    return build_model(ModelSpec(path=str(tiny_bert_path), max_seq_length=24))


def test_unknown_names_suggest_close_matches():
    with pytest.raises(UnknownNameError, match="did you mean CoSENTLoss"):
        loss_class("CoSentLoss")
    with pytest.raises(UnknownNameError, match="did you mean TripletEvaluator"):
        evaluator_class("TripletEvaluater")


def test_evaluators_are_found_in_their_own_module():
    assert evaluator_class("InformationRetrievalEvaluator").__name__ == "InformationRetrievalEvaluator"
    assert evaluator_class("EmbeddingSimilarityEvaluator").__name__ == "EmbeddingSimilarityEvaluator"


def test_build_model_applies_overrides(tiny_model):
    assert tiny_model.max_seq_length == 24


def test_modifier_wraps_inner_loss_and_softmax_gets_the_dimension(tiny_model):
    from embedforge.losses import CoSENTLoss, MatryoshkaLoss, SoftmaxLoss, TripletDistanceMetric, TripletLoss

    loss = build_loss(
        LossSpec(
            name="MatryoshkaLoss",
            args={"matryoshka_dims": [32, 16]},
            loss=LossSpec(name="CoSENTLoss", args={"scale": 10.0}),
        ),
        tiny_model,
    )
    assert isinstance(loss, MatryoshkaLoss) and isinstance(loss.loss, CoSENTLoss) and loss.loss.scale == 10.0
    softmax = build_loss(LossSpec(name="SoftmaxLoss", args={"num_labels": 3}), tiny_model)
    assert isinstance(softmax, SoftmaxLoss) and softmax.classifier.in_features == 3 * 32
    triplet = build_loss(
        LossSpec(name="TripletLoss", args={"distance_metric": "TripletDistanceMetric.COSINE"}), tiny_model
    )
    assert isinstance(triplet, TripletLoss) and triplet.distance_metric is TripletDistanceMetric.COSINE


def test_equal_loss_specs_share_one_loss(tmp_path, tiny_bert_path, tiny_model):
    data = tiny_recipe(tmp_path, tiny_bert_path)
    data["train_datasets"]["other"] = {**data["train_datasets"]["sts"]}
    mnrl = {"name": "MultipleNegativesRankingLoss"}
    data["train_datasets"]["pairs"] = {**data["train_datasets"]["sts"], "loss": mnrl}
    recipe, problems = parse_recipe(data)
    assert not problems
    losses = build_losses(recipe, tiny_model, ["sts", "other", "pairs"])
    assert losses["sts"] is losses["other"]
    assert type(losses["pairs"]).__name__ == "MultipleNegativesRankingLoss"


def test_build_evaluators_from_csv_and_beir(tmp_path):
    sts = write_csv(tmp_path / "sts.csv", sts_rows(6))
    triplets = write_csv(tmp_path / "triplets.csv", triplet_rows(5))
    renamed = write_csv(
        tmp_path / "renamed.csv", [{"q": r["sentence1"], "d": r["sentence2"], "y": 1} for r in sts_rows(4)]
    )
    specs = [
        EvaluatorSpec(
            name="EmbeddingSimilarityEvaluator",
            data=DatasetSpec(path=str(sts)),
            args={"name": "sts"},
            when=["before", "after"],
        ),
        EvaluatorSpec(name="TripletEvaluator", data=DatasetSpec(path=str(triplets), limit=3), when=["during"]),
        EvaluatorSpec(
            name="BinaryClassificationEvaluator",
            data=DatasetSpec(path=str(renamed)),
            inputs={"sentences1": "q", "sentences2": "d", "labels": "y"},
        ),
        EvaluatorSpec(
            name="InformationRetrievalEvaluator", beir=str(write_beir(tmp_path / "beir")), args={"name": "ir"}
        ),
    ]
    evaluators = build_evaluators(specs)
    assert [type(e).__name__ for e in evaluators] == [spec.name for spec in specs]
    assert evaluators[0].sentences1[0] == sts_rows(6)[0]["sentence1"]
    assert len(evaluators[1].anchors) == 3
    assert evaluators[3].queries_ids == ["q2", "q3"]
    assert [type(e).__name__ for e in build_evaluators(specs, when="during")] == [
        "TripletEvaluator",
        "BinaryClassificationEvaluator",
        "InformationRetrievalEvaluator",
    ]


def test_evaluator_inputs_must_exist(tmp_path):
    sts = write_csv(tmp_path / "sts.csv", sts_rows(4))
    with pytest.raises(ValueError, match=r"input column\(s\) \['anchor'"):
        build_evaluators([EvaluatorSpec(name="TripletEvaluator", data=DatasetSpec(path=str(sts)))])


def test_training_args_unknown_fields_and_prompts(tmp_path, tiny_bert_path):
    data = tiny_recipe(tmp_path, tiny_bert_path)
    data["training"]["learning_rat"] = 1.0
    recipe, _ = parse_recipe(data)
    with pytest.raises(ValueError, match="did you mean learning_rate"):
        build_training_args(recipe, tmp_path / "out")
    del recipe.training["learning_rat"]
    recipe.train_datasets["sts"].prompts = "query: "
    args = build_training_args(recipe, tmp_path / "out")
    assert args.prompts == {"sts": "query: "}
    assert args.max_steps == 3 and args.output_dir == str(tmp_path / "out")
    assert not (tmp_path / "out").exists()
