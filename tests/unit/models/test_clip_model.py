"""CLIPModel: texts and images into one space, equal to sentence-transformers 6.2, and its folder format both ways."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from embedforge import SentenceTransformer
from embedforge.models import CLIPModel
from embedforge.models.modality import batch_modality, infer_modality, is_image_path_or_url

Image = pytest.importorskip("PIL.Image")

TEXTS = ["a photo of a cat", "a red car on the mat", "the dog runs"]


def _tiny_clip(folder: Path) -> Path:
    """A random CLIP (2 layers, 32 hidden, 16-d projection) with a word-level CLIP tokenizer and a 32-px processor."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPProcessor, CLIPTokenizerFast
    from transformers import CLIPModel as HFCLIPModel

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for word in "a photo of cat dog red blue car the on mat sits runs".split():
        vocab[word + "</w>"] = len(vocab)
    for char in "abcdefghijklmnopqrstuvwxyz":
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(char + "</w>", len(vocab))
    source = folder / "tokenizer_source"
    source.mkdir(parents=True)
    (source / "vocab.json").write_text(json.dumps(vocab))
    (source / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizerFast(vocab_file=str(source / "vocab.json"), merges_file=str(source / "merges.txt"))
    layers = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = CLIPConfig(
        text_config={**layers, "vocab_size": len(vocab), "max_position_embeddings": 77, "eos_token_id": 1},
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
