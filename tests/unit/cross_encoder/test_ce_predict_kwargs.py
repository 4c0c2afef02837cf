"""``CrossEncoder.predict`` forwards extra keyword arguments to the modules that declare them, as ``encode`` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embedforge import CrossEncoder
from embedforge.model.encode_options import UnusedEncodeArgumentError

PAIRS = [("a man plays a guitar", "someone makes music"), ("the dog runs", "a cat sleeps on the sofa")]


def test_undeclared_keyword_arguments_are_refused(tiny_ce_path: Path) -> None:
    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    with pytest.raises(UnusedEncodeArgumentError, match=r"predict got unexpected keyword arguments \['factor'\]"):
        model.predict(PAIRS, factor=2.0)
    with pytest.raises(TypeError):  # also a TypeError, as Python's own unexpected-keyword error
        model.predict(PAIRS, factor=2.0)


def test_declared_keyword_arguments_reach_the_module(tiny_ce_path: Path) -> None:
    model = CrossEncoder(str(tiny_ce_path), device="cpu")
    expected = model.predict(PAIRS)
    transformer = model[0]
    seen: list[dict[str, Any]] = []
    plain_forward = transformer.forward

    def forward(features: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return plain_forward(features)

    transformer.forward = forward  # the instance's forward, as nn.Module.__call__ reads it
    transformer.forward_kwargs = frozenset({"factor"})
    assert model.get_model_kwargs() == ["factor"]
    scores = model.predict(PAIRS, factor=2.0)
    np.testing.assert_allclose(scores, expected, atol=1e-6)
    assert seen and all(kwargs == {"factor": 2.0} for kwargs in seen)
