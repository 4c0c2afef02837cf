"""CrossEncoder: loading (every format), saving (ST 6.2's format), predict and rank, against sentence-transformers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ce_helpers import PAIRS, both_cross_encoders

from embedforge.cross_encoder import CrossEncoder


def test_predict_equals_sentence_transformers(tiny_ce_path: Path) -> None:
    ours, theirs = both_cross_encoders(tiny_ce_path)
    np.testing.assert_allclose(ours.predict(PAIRS), theirs.predict(PAIRS), atol=1e-6)
    np.testing.assert_allclose(
        ours.predict(PAIRS, activation_fn=torch.nn.Identity()),
        theirs.predict(PAIRS, activation_fn=torch.nn.Identity()),
        atol=1e-6,
    )
    assert ours.predict(PAIRS[0]).shape == ()
    assert ours.num_labels == 1
    assert isinstance(ours.activation_fn, torch.nn.Sigmoid)


def test_three_labels_predict_and_softmax(tiny_ce3_path: Path) -> None:
    ours, theirs = both_cross_encoders(tiny_ce3_path)
    assert ours.num_labels == 3 and isinstance(ours.activation_fn, torch.nn.Identity)
    np.testing.assert_allclose(ours.predict(PAIRS), theirs.predict(PAIRS), atol=1e-6)
    probabilities = ours.predict(PAIRS, apply_softmax=True)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="num_labels=1"):
        ours.rank("q", ["a", "b"])


def test_output_types(tiny_ce_path: Path) -> None:
    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    assert isinstance(model.predict(PAIRS, convert_to_tensor=True), torch.Tensor)
    as_list = model.predict(PAIRS, convert_to_numpy=False)
    assert isinstance(as_list, list) and len(as_list) == len(PAIRS)
    assert model.predict([]).shape == (0,)
    np.testing.assert_allclose(model.predict(np.array(PAIRS)), model.predict(PAIRS), atol=1e-7)


def test_rank_equals_sentence_transformers(tiny_ce_path: Path) -> None:
    ours, theirs = both_cross_encoders(tiny_ce_path)
    documents = [document for _, document in PAIRS]
    mine = ours.rank("a man plays guitar", documents, return_documents=True, top_k=3)
    reference = theirs.rank("a man plays guitar", documents, return_documents=True, top_k=3)
    assert [item["corpus_id"] for item in mine] == [item["corpus_id"] for item in reference]
    assert [item["text"] for item in mine] == [item["text"] for item in reference]
    np.testing.assert_allclose([item["score"] for item in mine], [item["score"] for item in reference], atol=1e-6)


def test_prompt_goes_before_the_query_only(tiny_ce_path: Path) -> None:
    ours, theirs = both_cross_encoders(tiny_ce_path, prompts={"q": "query: "})
    np.testing.assert_allclose(ours.predict(PAIRS, prompt_name="q"), theirs.predict(PAIRS, prompt_name="q"), atol=1e-6)
    features = ours.preprocess([PAIRS[0]], prompt="query: ")
    tokens = ours.tokenizer.convert_ids_to_tokens(features["input_ids"][0])
    assert tokens[:2] == ["[CLS]", "query"]
    assert tokens.count("query") == 1 and tokens.count("[SEP]") == 2


def test_save_is_st_format_and_both_libraries_load_it(tiny_ce_path: Path, tmp_path: Path) -> None:
    from sentence_transformers import CrossEncoder as STCrossEncoder

    model = CrossEncoder(str(tiny_ce_path), device="cpu", activation_fn=torch.nn.Identity(), max_length=48)
    model.save(tmp_path / "ours")
    modules = json.loads((tmp_path / "ours" / "modules.json").read_text())
    transformer = "sentence_transformers.base.modules.transformer.Transformer"
    assert modules == [{"idx": 0, "name": "0", "path": "", "type": transformer}]
    config = json.loads((tmp_path / "ours" / "config_sentence_transformers.json").read_text())
    assert config["model_type"] == "CrossEncoder"
    assert config["activation_fn"] == "torch.nn.modules.linear.Identity"
    assert "similarity_fn_name" not in config
    module_config = json.loads((tmp_path / "ours" / "sentence_bert_config.json").read_text())
    assert module_config["transformer_task"] == "sequence-classification"
    assert module_config["module_output_name"] == "scores"
    theirs = STCrossEncoder(str(tmp_path / "ours"), device="cpu")
    reloaded = CrossEncoder(str(tmp_path / "ours"), device="cpu")
    assert isinstance(theirs.activation_fn, torch.nn.Identity) and isinstance(reloaded.activation_fn, torch.nn.Identity)
    assert reloaded.max_seq_length == 48 == theirs.max_seq_length
    np.testing.assert_allclose(reloaded.predict(PAIRS), theirs.predict(PAIRS), atol=1e-6)
    np.testing.assert_allclose(reloaded.predict(PAIRS), model.predict(PAIRS), atol=1e-6)


def test_loads_a_folder_saved_by_sentence_transformers(tiny_ce_path: Path, tmp_path: Path) -> None:
    from sentence_transformers import CrossEncoder as STCrossEncoder

    theirs = STCrossEncoder(str(tiny_ce_path), device="cpu", activation_fn=torch.nn.Tanh(), prompts={"q": "q: "})
    theirs.save(str(tmp_path / "st"))
    ours = CrossEncoder(str(tmp_path / "st"), device="cpu")
    assert isinstance(ours.activation_fn, torch.nn.Tanh)
    assert ours.prompts == {"q": "q: "}
    np.testing.assert_allclose(ours.predict(PAIRS), theirs.predict(PAIRS), atol=1e-6)


@pytest.mark.parametrize("legacy_key", ["sentence_transformers", "sbert_ce_default_activation_function"])
def test_older_formats_restore_their_activation(tiny_ce_path: Path, legacy_key: str) -> None:
    config_file = tiny_ce_path / "config.json"
    config = json.loads(config_file.read_text())
    path = "torch.nn.modules.linear.Identity"
    config[legacy_key] = {"activation_fn": path, "version": "4.0.1"} if legacy_key == "sentence_transformers" else path
    config_file.write_text(json.dumps(config))
    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    assert isinstance(model.activation_fn, torch.nn.Identity)


def test_unknown_saved_activation_falls_back_to_the_default(
    tiny_ce_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    model.save(tmp_path / "m")
    config_file = tmp_path / "m" / "config_sentence_transformers.json"
    config = json.loads(config_file.read_text())
    config["activation_fn"] = "os.system"
    config_file.write_text(json.dumps(config))
    reloaded = CrossEncoder(str(tmp_path / "m"), device="cpu")
    assert isinstance(reloaded.activation_fn, torch.nn.Sigmoid)
    assert "never imports" in caplog.text


def test_bi_encoder_backbone_gets_a_fresh_head(tiny_bert_path: Path) -> None:
    from sentence_transformers import CrossEncoder as STCrossEncoder

    torch.manual_seed(3)
    ours = CrossEncoder(str(tiny_bert_path), device="cpu")
    torch.manual_seed(3)
    theirs = STCrossEncoder(str(tiny_bert_path), device="cpu")
    assert ours.num_labels == 1
    np.testing.assert_allclose(ours.predict(PAIRS), theirs.predict(PAIRS), atol=1e-6)


def test_sentence_transformer_folder_converts(
    tiny_bert_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from embedforge import SentenceTransformer

    SentenceTransformer(str(tiny_bert_path), device="cpu", prompts={"query": "query: "}).save(tmp_path / "bi")
    model = CrossEncoder(str(tmp_path / "bi"), device="cpu", num_labels=2)
    assert "Converting SentenceTransformer model" in caplog.text
    assert model.num_labels == 2 and model.prompts == {}
    back = SentenceTransformer(str(tmp_path / "bi"), device="cpu")
    assert back.get_sentence_embedding_dimension() == 32


def test_legacy_constructor_forms(tiny_ce_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = CrossEncoder(str(tiny_ce_path), 1, 40, torch.nn.Identity(), "cpu")
    assert model.max_seq_length == 40 and isinstance(model.activation_fn, torch.nn.Identity)
    model = CrossEncoder(
        model_name=str(tiny_ce_path),
        tokenizer_args={"model_max_length": 30},
        device="cpu",
        default_activation_function=torch.nn.Tanh(),
        classifier_dropout=0.3,
    )
    assert model.max_seq_length == 30 and isinstance(model.activation_fn, torch.nn.Tanh)
    assert model.config.classifier_dropout == 0.3
    assert "deprecated" in caplog.text or "renamed" in caplog.text


def test_legacy_predict_keywords(tiny_ce_path: Path) -> None:
    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    np.testing.assert_allclose(
        model.predict(sentences=PAIRS, num_workers=2, activation_fct=torch.nn.Identity()),
        model.predict(PAIRS, activation_fn=torch.nn.Identity()),
        atol=1e-7,
    )
    assert len(model.rank("q", ["a", "b"], apply_softmax=True, convert_to_numpy=True)) == 2


def test_bad_pairs_give_a_clear_error(tiny_ce_path: Path) -> None:
    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    with pytest.raises(ValueError, match="pairs"):
        model.predict([("only one",), ("a", "b")])


def test_keep_in_fp32_modules_round_trips(tiny_ce_path: Path, tmp_path: Path) -> None:
    from embedforge.cross_encoder.fp32_linear import Float32Linear

    model = CrossEncoder(str(tiny_ce_path), device="cpu", keep_in_fp32_modules=["0.auto_model.classifier"])
    assert isinstance(model.model.classifier, Float32Linear)
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config_sentence_transformers.json").read_text())
    assert config["keep_in_fp32_modules"] == ["0.auto_model.classifier"]
    reloaded = CrossEncoder(str(tmp_path / "m"), device="cpu")
    assert isinstance(reloaded.model.classifier, Float32Linear)
    cleared = CrossEncoder(str(tmp_path / "m"), device="cpu", keep_in_fp32_modules=[])
    assert type(cleared.model.classifier) is torch.nn.Linear
    with pytest.raises(ValueError, match="nn.Linear"):
        model.set_keep_in_fp32_modules(["0.auto_model.bert.embeddings"])


def test_multi_process_predict_matches(tiny_ce_path: Path) -> None:
    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    expected = model.predict(PAIRS)
    pool = model.start_multi_process_pool(["cpu", "cpu"])
    try:
        np.testing.assert_allclose(model.predict(PAIRS, pool=pool, chunk_size=2), expected, atol=1e-6)
    finally:
        model.stop_multi_process_pool(pool)


def test_token_budget_batches_give_the_same_scores(tiny_ce_path: Path) -> None:
    from embedforge.cross_encoder.predict import PredictOptions, score_pairs

    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    pairs = [(query * (1 + index % 4), document) for index, (query, document) in enumerate(PAIRS * 6)]
    fixed = score_pairs(model, pairs, PredictOptions(batch_size=2, token_budget=False))
    budget = score_pairs(model, pairs, PredictOptions(batch_size=2, token_budget=True))
    torch.testing.assert_close(budget, fixed, atol=1e-6, rtol=0)


def test_predict_runs_unpadded_and_matches_padded(tiny_ce_path: Path) -> None:
    model = CrossEncoder(str(tiny_ce_path), device="cpu").eval()
    pairs = [(query * (1 + index % 3), document) for index, (query, document) in enumerate(PAIRS * 3)]
    features = model.preprocess(pairs[:4])
    assert model[0].runs_unpadded(features)
    unpadded = model.predict(pairs, activation_fn=torch.nn.Identity())
    model[0].unpad_in_eval = False
    padded = model.predict(pairs, activation_fn=torch.nn.Identity())
    np.testing.assert_allclose(unpadded, padded, atol=1e-6)
