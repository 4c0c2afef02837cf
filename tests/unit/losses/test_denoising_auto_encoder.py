"""DenoisingAutoEncoderLoss (TSDAE): same value and gradients as sentence-transformers 6.2; tying; training."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from teacher_loss_helpers import read_rows, train_two_steps, weights

from embedforge import SentenceTransformer, SentenceTransformerTrainer
from embedforge.data.validation import DatasetValidationError
from embedforge.datasets import DenoisingAutoEncoderDataset
from embedforge.losses import InputSpec, LabelKind, Loss
from embedforge.losses.denoising_auto_encoder import DenoisingAutoEncoderLoss
from embedforge.losses.functional.denoising import reconstruction_loss, teacher_forcing_inputs
from embedforge.models import StaticEmbedding

st = pytest.importorskip("sentence_transformers")
st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")

DAMAGED = ["man playing guitar", "woman eating outside", "quick fox the dog", "children playing park"]
ORIGINAL = [
    "a man is playing a guitar",
    "a woman is eating food outside",
    "the quick brown fox jumps over the lazy dog",
    "two children are playing in the park",
]


def _loss_and_decoder_grads(loss: torch.nn.Module, features: list[dict]) -> tuple[float, dict[str, torch.Tensor]]:
    loss.zero_grad(set_to_none=True)
    value = loss(features, None)
    value.backward()
    return value.item(), {name: p.grad.clone() for name, p in loss.decoder.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("tie", [True, False])
def test_matches_sentence_transformers(tiny_bert_path: Path, tie: bool) -> None:
    ours = SentenceTransformer(str(tiny_bert_path), device="cpu")
    theirs = st.SentenceTransformer(str(tiny_bert_path), device="cpu")
    decoder_path = None if tie else str(tiny_bert_path)
    loss = DenoisingAutoEncoderLoss(ours, decoder_name_or_path=decoder_path, tie_encoder_decoder=tie)
    their_loss = st_losses.DenoisingAutoEncoderLoss(theirs, decoder_name_or_path=decoder_path, tie_encoder_decoder=tie)
    loss.decoder.load_state_dict(their_loss.decoder.state_dict())  # the fresh cross-attention and LM head weights
    loss.eval()
    their_loss.eval()
    value, grads = _loss_and_decoder_grads(loss, [ours.tokenize(DAMAGED), ours.tokenize(ORIGINAL)])
    their_value, their_grads = _loss_and_decoder_grads(
        their_loss, [theirs.preprocess(DAMAGED), theirs.preprocess(ORIGINAL)]
    )
    assert value == pytest.approx(their_value, abs=1e-5)
    assert grads.keys() == their_grads.keys()
    assert any("crossattention" in name for name in grads)
    for name, grad in grads.items():
        torch.testing.assert_close(grad, their_grads[name], atol=1e-5, rtol=0)
    assert loss.get_config_dict() == their_loss.get_config_dict()
    encoder_grads = {name: p.grad for name, p in ours[0].auto_model.named_parameters() if p.grad is not None}
    their_encoder_grads = {name: p.grad for name, p in theirs[0].model.named_parameters() if p.grad is not None}
    assert encoder_grads.keys() == their_encoder_grads.keys()
    for name, grad in encoder_grads.items():
        torch.testing.assert_close(grad, their_encoder_grads[name], atol=1e-5, rtol=0)


def test_tied_weights_are_shared_and_start_from_the_encoder(tiny_bert_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    encoder = model[0].auto_model
    with torch.no_grad():
        encoder.encoder.layer[0].attention.self.query.weight.add_(1.0)  # trained in memory, unlike the checkpoint
    expected = weights(encoder)
    loss = DenoisingAutoEncoderLoss(model)
    decoder_base = loss.decoder.base_model
    assert encoder.embeddings.word_embeddings.weight is decoder_base.embeddings.word_embeddings.weight
    assert loss.decoder.get_output_embeddings().weight is encoder.embeddings.word_embeddings.weight
    assert encoder.encoder.layer[1].output.dense.weight is decoder_base.encoder.layer[1].output.dense.weight
    for name, value in weights(encoder).items():
        torch.testing.assert_close(value, expected[name], atol=0, rtol=0)
    assert not loss.need_retokenization
    assert loss.decoder.config.is_decoder and loss.decoder.config.add_cross_attention
    assert not encoder.config.is_decoder


def test_decoder_with_another_vocabulary_gets_retokenized_targets(tiny_bert_path: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer, BertConfig, BertLMHeadModel, BertTokenizerFast

    words = (tiny_bert_path / "vocab.txt").read_text(encoding="utf-8").split()
    specials, rest = words[:5], words[5:]
    vocab = {token: index for index, token in enumerate(specials + rest[::-1])}  # same tokens, other ids
    decoder_path = tmp_path / "decoder"
    BertTokenizerFast(vocab=vocab, do_lower_case=True).save_pretrained(str(decoder_path))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertLMHeadModel(config).save_pretrained(str(decoder_path))
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    loss = DenoisingAutoEncoderLoss(model, decoder_name_or_path=str(decoder_path), tie_encoder_decoder=False)
    assert loss.need_retokenization
    retokenized = loss.retokenize(model.tokenize(ORIGINAL))
    expected = AutoTokenizer.from_pretrained(str(decoder_path))(ORIGINAL, padding=True, return_tensors="pt")
    assert torch.equal(retokenized["input_ids"], expected["input_ids"])
    value = loss([model.tokenize(DAMAGED), model.tokenize(ORIGINAL)])
    assert torch.isfinite(value)


def test_reference_cross_entropy() -> None:
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(2, 3, 5)).astype(np.float32)
    targets = np.array([[1, 4, 0], [3, 0, 0]])  # 0 is padding
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = [log_probs[b, t, targets[b, t]] for b in range(2) for t in range(3) if targets[b, t] != 0]
    value = reconstruction_loss(torch.from_numpy(logits), torch.from_numpy(targets), pad_token_id=0)
    assert value.item() == pytest.approx(-float(np.mean(picked)), rel=1e-6)
    inputs, labels = teacher_forcing_inputs(torch.tensor([[2, 7, 8, 3]]))
    assert inputs.tolist() == [[2, 7, 8]] and labels.tolist() == [[7, 8, 3]]


def test_trains_on_damaged_stsb_sentences(tiny_bert_path: Path, shared_data: Path, tmp_path: Path) -> None:
    rows = read_rows(shared_data / "stsb" / "train.csv", 200)
    plain = [s.rstrip(".") for s in (r["sentence1"] for r in rows) if re.fullmatch(r"[\w\s]+\.?", s)][:16]
    assert len(plain) == 16
    np.random.seed(0)
    dataset = DenoisingAutoEncoderDataset(plain)
    examples = [dataset[i].texts for i in range(len(dataset))]
    assert any(damaged != original for damaged, original in examples)
    train = Dataset.from_dict({"damaged": [e[0] for e in examples], "original": [e[1] for e in examples]})
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    loss = DenoisingAutoEncoderLoss(model)
    cross_attention = loss.decoder.base_model.encoder.layer[0].crossattention.self.query.weight
    before = cross_attention.detach().clone()
    train_two_steps(model, train, loss, tmp_path)
    assert not torch.equal(before, cross_attention.detach())


def test_trainer_rejects_wrong_data_up_front(tiny_bert_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    loss = DenoisingAutoEncoderLoss(model)
    single = Dataset.from_dict({"text": ["a man plays"]})
    with pytest.raises(DatasetValidationError, match=r"1 input column\(s\)"):
        SentenceTransformerTrainer(model=model, train_dataset=single, loss=loss)
    labelled = Dataset.from_dict({"damaged": ["man plays"], "original": ["a man plays"], "label": [1.0]})
    with pytest.raises(DatasetValidationError, match="takes no labels"):
        SentenceTransformerTrainer(model=model, train_dataset=labelled, loss=loss)


def test_declarations_and_errors(tiny_bert_path: Path) -> None:
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    with pytest.raises(ValueError, match="Pass decoder_name_or_path"):
        DenoisingAutoEncoderLoss(model, tie_encoder_decoder=False)
    loss = DenoisingAutoEncoderLoss(model)
    assert isinstance(loss, Loss)
    assert loss.input_spec == InputSpec(2, 2, LabelKind.NONE, loss.input_spec.description)
    assert set(loss.config_keys) == set(loss.get_config_dict())
    assert loss.citation == st_losses.DenoisingAutoEncoderLoss.citation.fget(None)
    with pytest.raises(ValueError, match="got 3 text columns"):
        loss([model.tokenize(["a"])] * 3)
    from transformers import AutoTokenizer

    static = StaticEmbedding(AutoTokenizer.from_pretrained(str(tiny_bert_path)), embedding_dim=4)
    with pytest.raises(ValueError, match="first module is a Transformer"):
        DenoisingAutoEncoderLoss(SentenceTransformer(modules=[static], device="cpu"))
