"""``encode`` through a compiled model (``model.compile(dynamic=True)``, torch's ``nn.Module.compile``) returns the
eager embeddings, and one dynamic graph serves batches of every length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from embedforge import SentenceTransformer

WORDS = "the man woman dog cat child plays guitar in a park near water eats red food big old house".split()


def test_compiled_encode_matches_eager_with_one_graph(tiny_bert_path: Path) -> None:
    from torch._dynamo.utils import counters

    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 30)))) for _ in range(45)]
    model = SentenceTransformer(str(tiny_bert_path), device="cpu")
    eager = model.encode(texts, batch_size=8)
    assert len({len(model.tokenize([text])["input_ids"][0]) for text in texts}) > 10  # many batch widths
    torch._dynamo.reset()
    counters.clear()
    model.compile(dynamic=True)
    compiled = model.encode(texts, batch_size=8)
    again = model.encode(texts[:7], batch_size=8, normalize_embeddings=True)
    np.testing.assert_allclose(compiled, eager, atol=1e-5)
    np.testing.assert_allclose(again, eager[:7] / np.linalg.norm(eager[:7], axis=1, keepdims=True), atol=1e-5)
    assert counters["stats"]["unique_graphs"] == 1
