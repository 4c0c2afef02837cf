"""Assertions shared by the tests."""

from __future__ import annotations

import torch


def assert_features_close(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor], atol: float = 1e-6) -> None:
    """Same keys, and every tensor equal within ``atol``."""
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        torch.testing.assert_close(ours[key], value, atol=atol, rtol=0)
