"""CLIPModel: texts and images into one space, equal to sentence-transformers 6.2, and its folder format both ways."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from embedforge import SentenceTransformer
from embedforge.models import CLIPModel
from embedforge.models.modality import batch_modality, infer_modality, is_image_path_or_url

Image = pytest.importorskip("PIL.Image")

TEXTS = ["a photo of a cat", "a red car on the mat", "the dog runs"]
_SPECIAL_IDS = {"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}


def _word_tokenizer(words: list[str]) -> Any:
    """A CLIP tokenizer (BPE, ``</w>`` word ends) trained on ``words``, with start/end tokens around every text."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import CLIPTokenizerFast

    specials = ["<|startoftext|>", "<|endoftext|>", "<unk>"]
    backend = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(special_tokens=specials, end_of_word_suffix="</w>", show_progress=False)
    backend.train_from_iterator([" ".join(words)] * 3, trainer)
    backend.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>", special_tokens=[("<|startoftext|>", 0), ("<|endoftext|>", 1)]
    )
    return CLIPTokenizerFast(
        tokenizer_object=backend,
        bos_token=specials[0],
        eos_token=specials[1],
        pad_token=specials[1],
        unk_token=specials[2],
    )


def _tiny_clip(folder: Path) -> Path:
    """A random CLIP (2 layers, 32 hidden, 16-d projection) with a word-level CLIP tokenizer and a 32-px processor."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPProcessor
    from transformers import CLIPModel as HFCLIPModel

    tokenizer = _word_tokenizer("a photo of cat dog red blue car the on mat sits runs".split())
    layers = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = CLIPConfig(
        text_config={**layers, "vocab_size": len(tokenizer), "max_position_embeddings": 77, **_SPECIAL_IDS},
        vision_config={**layers, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    torch.manual_seed(0)
    model = HFCLIPModel(config)
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        tokenizer=tokenizer,
    )
    target = folder / "clip"
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target))
    processor.save_pretrained(str(target))
    return target


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="module")
def images() -> list:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, size=(40 + 7 * i, 50, 3), dtype=np.uint8)) for i in range(3)]


def test_plain_checkpoint_encodes_texts_and_images_like_st(clip_path: Path, images: list) -> None:
    st = pytest.importorskip("sentence_transformers")
    ours = SentenceTransformer(str(clip_path), device="cpu")
    assert [type(module) for module in ours] == [CLIPModel]
    reference = st.SentenceTransformer(str(clip_path), device="cpu")
    np.testing.assert_allclose(ours.encode(images), reference.encode(images), atol=1e-5)
    np.testing.assert_allclose(ours.encode(TEXTS), reference.encode(TEXTS), atol=1e-5)
    assert ours.encode(images).shape == (3, 16) and ours.get_sentence_embedding_dimension() == 16
    texts = ours.encode(TEXTS)
    assert np.abs(texts[0] - texts[1]).max() > 1e-3  # different texts, different embeddings
    scores = ours.similarity(ours.encode(images), ours.encode(TEXTS))
    assert scores.shape == (3, 3)


def test_saved_folder_is_st_format_both_ways(clip_path: Path, images: list, tmp_path: Path) -> None:
    st = pytest.importorskip("sentence_transformers")
    ours = SentenceTransformer(str(clip_path), device="cpu")
    ours.save(str(tmp_path / "ours"))
    modules = json.loads((tmp_path / "ours" / "modules.json").read_text())
    assert modules == [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"}
    ]
    config = json.loads((tmp_path / "ours" / "sentence_bert_config.json").read_text())
    assert config["modality_config"]["image"] == {"method": "get_image_features", "method_output_name": "pooler_output"}
    in_st = st.SentenceTransformer(str(tmp_path / "ours"), device="cpu")
    np.testing.assert_allclose(in_st.encode(images), ours.encode(images), atol=1e-5)
    st.SentenceTransformer(str(clip_path), device="cpu").save(str(tmp_path / "theirs"))
    from_st = SentenceTransformer(str(tmp_path / "theirs"), device="cpu")
    assert isinstance(from_st[0], CLIPModel)
    np.testing.assert_allclose(from_st.encode(TEXTS), ours.encode(TEXTS), atol=1e-6)


def test_legacy_clipmodel_type_name_loads(clip_path: Path, tmp_path: Path) -> None:
    legacy = tmp_path / "legacy"
    shutil.copytree(clip_path, legacy)
    entry = {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.CLIPModel"}
    (legacy / "modules.json").write_text(json.dumps([entry]))
    model = SentenceTransformer(str(legacy), device="cpu")
    assert isinstance(model[0], CLIPModel)
    expected = SentenceTransformer(str(clip_path), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(model.encode(TEXTS), expected, atol=1e-6)


def test_image_files_and_modality_rules(clip_path: Path, images: list, tmp_path: Path) -> None:
    model = SentenceTransformer(str(clip_path), device="cpu")
    paths = []
    for index, image in enumerate(images):
        path = tmp_path / f"image_{index}.png"
        image.save(path)
        paths.append(str(path))
    np.testing.assert_allclose(model.encode(paths), model.encode(images), atol=1e-6)
    assert infer_modality(paths[0]) == "image" and infer_modality("photo.png") == "text"  # no such file: text
    assert is_image_path_or_url("https://example.org/cat.JPG") and not is_image_path_or_url("https://x.org/a b.jpg")
    with pytest.raises(ValueError, match="mixes the modalities"):
        model.encode([images[0], "a photo of a cat"])
    with pytest.raises(ValueError, match="encodes \\['text'\\], got image"):
        batch_modality(images, ["text"])
    with pytest.raises(TypeError, match="Expected a text"):
        infer_modality(3)


def test_single_image_and_prompt_only_on_text(clip_path: Path, images: list) -> None:
    model = SentenceTransformer(str(clip_path), device="cpu", prompts={"query": "a photo of "})
    one = model.encode(images[0])
    assert one.shape == (16,)
    np.testing.assert_allclose(one, model.encode([images[0]])[0], atol=1e-6)
    np.testing.assert_allclose(model.encode(["cat"], prompt_name="query"), model.encode(["a photo of cat"]), atol=1e-6)
