"""Image search and zero-shot image classification with a CLIP model, as in the documentation's image search page.

Encodes a folder of images and some text queries into one space, prints the best images for each query (text → image
search) and classifies every image by the label text it is most similar to (zero-shot classification).

With ``--model`` pointing at a CLIP checkpoint (e.g. a local copy of ``sentence-transformers/clip-ViT-B-32`` or
``openai/clip-vit-base-patch32``) and ``--images`` at a folder of .jpg/.png files, this is the real flow. Without
them (this workplace has no Hub access and no image data) it runs the same code on a small random CLIP built in code
and on generated images of solid colours: the pipeline runs end to end, but a random model's results are chance.

Usage::

    python examples/image_search.py                                  # random CLIP, generated images
    python examples/image_search.py --model ./clip-ViT-B-32 --images ./photos --queries "a dog" "a beach"
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

SPECIAL_IDS = {"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}
COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220), "yellow": (230, 220, 40)}


def generated_images(folder: Path, per_colour: int = 4) -> dict[str, str]:
    """Write noisy solid-colour PNGs; returns file path → colour name."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    truth = {}
    for name, rgb in COLOURS.items():
        for index in range(per_colour):
            pixels = np.clip(np.array(rgb) + rng.normal(0, 20, size=(64, 64, 3)), 0, 255).astype(np.uint8)
            path = folder / f"{name}_{index}.png"
            Image.fromarray(pixels).save(path)
            truth[str(path)] = name
    return truth


def word_tokenizer(words: list[str]) -> Any:
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


def random_clip(folder: Path) -> Path:
    """A random CLIP (2 layers, 64 hidden) with a tokenizer over this example's words."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    words = ["a", "photo", "of", "red", "green", "blue", "yellow", "image", "colour", "dog", "beach"]
    tokenizer = word_tokenizer(words)
    layers = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = CLIPConfig(
        text_config={**layers, "vocab_size": len(tokenizer), "max_position_embeddings": 32, **SPECIAL_IDS},
        vision_config={**layers, "image_size": 32, "patch_size": 8},
        projection_dim=32,
    )
    torch.manual_seed(0)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    target = folder / "random-clip"
    CLIPModel(config).save_pretrained(str(target))
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(str(target))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a CLIP model folder (ST or transformers format); default: a random CLIP")
    parser.add_argument("--images", type=Path, help="a folder of images; default: generated colour images")
    parser.add_argument("--queries", nargs="+", default=["a photo of red", "a photo of blue"])
    parser.add_argument("--top-k", type=int, default=3)
    args = parser.parse_args()

    from embedforge import SentenceTransformer, util

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        model_path = args.model or str(random_clip(folder))
        if args.images:
            paths = sorted(str(p) for p in args.images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            truth: dict[str, str] = {}
        else:
            truth = generated_images(folder)
            paths = list(truth)
        model = SentenceTransformer(model_path, device="cpu")
        image_embeddings = model.encode(paths, batch_size=32, convert_to_tensor=True)  # file paths are images
        print(f"model: {model_path if args.model else 'random CLIP (results are chance)'}; {len(paths)} images")

        query_embeddings = model.encode(args.queries, convert_to_tensor=True)
        for query, hits in zip(
            args.queries, util.semantic_search(query_embeddings, image_embeddings, top_k=args.top_k), strict=True
        ):
            found = ", ".join(f"{Path(paths[hit['corpus_id']]).name} ({hit['score']:.3f})" for hit in hits)
            print(f"query {query!r}: {found}")

        if truth:  # zero-shot classification against the known colours
            labels = list(COLOURS)
            label_embeddings = model.encode([f"a photo of {label}" for label in labels], convert_to_tensor=True)
            predicted = model.similarity(image_embeddings, label_embeddings).argmax(dim=1).tolist()
            correct = sum(labels[p] == truth[path] for p, path in zip(predicted, paths, strict=True))
            print(f"zero-shot accuracy over {len(labels)} colour labels: {correct / len(paths):.3f}")


if __name__ == "__main__":
    main()
