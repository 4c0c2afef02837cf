"""Embedding quantization to float32, int8, uint8, binary and ubinary, as sentence-transformers computes it.

Scalar (``int8``/``uint8``) quantization maps each dimension's ``[min, max]`` range onto 256 equal buckets; the
ranges come from ``ranges``, else from ``calibration_embeddings``, else from the embeddings themselves. Binary
quantization keeps one bit per dimension (``value > 0``), packed eight to a byte; ``binary`` stores each byte minus
128 as ``int8``, ``ubinary`` stores it as ``uint8``.

``semantic_search_faiss`` and ``semantic_search_usearch`` (sentence-transformers keeps them in this module) are
defined in :mod:`embedforge.quantization` and resolved from here on first access, the same objects.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal, get_args, overload

import numpy as np
from torch import Tensor

from embedforge.util.tensors import _tensor_to_numpy

if TYPE_CHECKING:
    from embedforge.quantization import semantic_search_faiss, semantic_search_usearch

__all__ = ["Precision", "quantize_embeddings", "semantic_search_faiss", "semantic_search_usearch"]

# Defined in embedforge.quantization, which imports this module: resolved lazily to avoid the import cycle.
_LAZY_SEARCH_FUNCTIONS = ("semantic_search_faiss", "semantic_search_usearch")

logger = logging.getLogger(__name__)

Precision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
"""The precisions :func:`quantize_embeddings` converts to."""

_PRECISIONS: tuple[str, ...] = get_args(Precision)
_SCALAR_PRECISIONS = ("int8", "uint8")
_BINARY_PRECISIONS = ("binary", "ubinary")
_MIN_CALIBRATION_SIZE = 100


def _get_quantization_ranges(
    embeddings: np.ndarray, precision: str, calibration_embeddings: np.ndarray | None
) -> np.ndarray:
    """Per-dimension ``[min, max]`` ranges, from ``calibration_embeddings`` if given, else from ``embeddings``.

    Args:
        embeddings: Float embeddings of shape ``(n, dim)``.
        precision: The target precision, used in messages only.
        calibration_embeddings: Optional float embeddings of shape ``(n_calibration, dim)``.

    Returns:
        Array of shape ``(2, dim)``: row 0 holds the minima, row 1 the maxima.

    Raises:
        ValueError: If the ranges would come from a single embedding.
    """
    if calibration_embeddings is None:
        if embeddings.ndim == 1 or embeddings.shape[0] == 1:
            raise ValueError(
                f"quantize_embeddings: cannot compute {precision} quantization ranges from a single embedding "
                f"(got shape {embeddings.shape}); they need a minimum and maximum per dimension over many "
                "embeddings. Pass `ranges` or `calibration_embeddings` computed from a representative set."
            )
        if embeddings.shape[0] < _MIN_CALIBRATION_SIZE:
            logger.warning(
                "Computing %s quantization buckets based on %d embeddings. %s quantization is more stable with "
                "`ranges` calculated from more embeddings or a `calibration_embeddings` that can be used to "
                "calculate the buckets.",
                precision,
                len(embeddings),
                precision,
            )
        calibration_embeddings = embeddings
    return np.vstack((np.min(calibration_embeddings, axis=0), np.max(calibration_embeddings, axis=0)))


def _dequantize_embeddings(embeddings: np.ndarray, precision: str, ranges: np.ndarray) -> np.ndarray:
    """Map scalar-quantized values back to the float coordinates of their bucket's lower edge.

    Args:
        embeddings: ``int8``/``uint8`` values (any integer dtype) of shape ``(..., dim)``.
        precision: ``"int8"`` or ``"uint8"``, the precision the values were quantized to.
        ranges: The ``(2, dim)`` ranges used to quantize them.

    Returns:
        float64 array of shape ``(..., dim)``.
    """
    ranges = ranges.astype(np.float32, copy=False)
    steps = (ranges[1] - ranges[0]) / 255
    steps = np.where(steps == 0, 1, steps)
    values = embeddings.astype(np.float64)  # before undoing the int8 offset, which would overflow int8
    if precision == "int8":
        values += 128
    return values * steps + ranges[0]


def _quantize_scalar(
    embeddings: np.ndarray, precision: str, ranges: np.ndarray | None, calibration_embeddings: np.ndarray | None
) -> np.ndarray:
    """Quantize to 256 buckets per dimension.

    Args:
        embeddings: Float embeddings of shape ``(..., dim)``.
        precision: ``"int8"`` or ``"uint8"``.
        ranges: ``(2, dim)`` minima and maxima, or ``None`` to compute them.
        calibration_embeddings: Embeddings of shape ``(n, dim)`` to compute the ranges from, if ``ranges`` is None.

    Returns:
        ``uint8`` bucket indices in ``[0, 255]``, or for ``int8`` those minus 128; shape ``(..., dim)``.
    """
    if ranges is None:
        ranges = _get_quantization_ranges(embeddings, precision, calibration_embeddings)
    ranges = ranges.astype(np.float32, copy=False)
    starts = ranges[0, :]
    steps = (ranges[1, :] - starts) / 255
    steps = np.where(steps == 0, 1, steps)
    buckets = np.clip(np.floor((embeddings - starts) / steps), 0, 255)
    if precision == "uint8":
        return buckets.astype(np.uint8)
    return (buckets - 128).astype(np.int8)


def _quantize_array(
    embeddings: np.ndarray, precision: str, ranges: np.ndarray | None, calibration_embeddings: np.ndarray | None
) -> np.ndarray:
    """Quantize one float array; see :func:`quantize_embeddings`.

    Args:
        embeddings: Float embeddings of shape ``(dim,)`` or ``(n, dim)``.
        precision: One of the supported precisions.
        ranges: ``(2, dim)`` minima and maxima for scalar precisions, or ``None``.
        calibration_embeddings: Embeddings to compute the ranges from, or ``None``.

    Returns:
        The quantized array; binary precisions pack the last dimension to ``ceil(dim / 8)`` bytes.

    Raises:
        ValueError: If ``embeddings`` are already integers.
    """
    if embeddings.dtype in (np.uint8, np.int8):
        raise ValueError(
            f"quantize_embeddings: embeddings to quantize must be floats, got dtype {embeddings.dtype}; they look "
            "quantized already. Pass the original float embeddings."
        )
    if embeddings.ndim == 2 and embeddings.shape[0] == 0 and precision != "float32":
        width = embeddings.shape[1] if precision in _SCALAR_PRECISIONS else (embeddings.shape[1] + 7) // 8
        return np.zeros((0, width), dtype=np.int8 if precision in ("int8", "binary") else np.uint8)
    if precision == "float32":
        return embeddings.astype(np.float32)
    if precision in _SCALAR_PRECISIONS:
        return _quantize_scalar(embeddings, precision, ranges, calibration_embeddings)
    packed = np.packbits(embeddings > 0, axis=-1)
    if precision == "ubinary":
        return packed
    return (packed.astype(np.int16) - 128).astype(np.int8)


def _quantize_matrices(
    matrices: list[np.ndarray],
    precision: str,
    ranges: np.ndarray | None,
    calibration_embeddings: np.ndarray | None,
) -> list[np.ndarray]:
    """Quantize variable-length multi-vector matrices with buckets shared by all of them.

    Args:
        matrices: Float arrays of shape ``(n_tokens_i, dim)``.
        precision: One of the supported precisions.
        ranges: ``(2, dim)`` minima and maxima for scalar precisions, or ``None`` to compute them once for all.
        calibration_embeddings: Embeddings to compute the ranges from, else all rows of all matrices.

    Returns:
        One quantized array per matrix.
    """
    if precision in _SCALAR_PRECISIONS and ranges is None:
        calibration = np.concatenate(matrices, axis=0) if calibration_embeddings is None else calibration_embeddings
        if len(calibration):
            ranges = _get_quantization_ranges(calibration, precision, calibration_embeddings)
    return [_quantize_array(matrix, precision, ranges, calibration_embeddings) for matrix in matrices]


@overload
def quantize_embeddings(
    embeddings: Tensor | np.ndarray,
    precision: Precision,
    ranges: np.ndarray | None = None,
    calibration_embeddings: np.ndarray | None = None,
) -> np.ndarray: ...


@overload
def quantize_embeddings(
    embeddings: list[Tensor] | list[np.ndarray],
    precision: Precision,
    ranges: np.ndarray | None = None,
    calibration_embeddings: np.ndarray | None = None,
) -> np.ndarray | list[np.ndarray]: ...


def quantize_embeddings(
    embeddings: Tensor | np.ndarray | list[Tensor] | list[np.ndarray],
    precision: Precision,
    ranges: np.ndarray | None = None,
    calibration_embeddings: np.ndarray | None = None,
) -> np.ndarray | list[np.ndarray]:
    """Quantize float embeddings to a lower precision, to shrink them and speed up similarity search.

    - ``"float32"``: cast to float32.
    - ``"uint8"``: per dimension, ``floor((x - min) / ((max - min) / 255))`` clipped to ``[0, 255]``.
    - ``"int8"``: the ``uint8`` value minus 128.
    - ``"ubinary"``: one bit per dimension, ``x > 0``, packed eight to a byte (``uint8``).
    - ``"binary"``: the ``ubinary`` bytes minus 128 (``int8``).

    Args:
        embeddings: Float embeddings of shape ``(n, dim)`` or ``(dim,)``, as an array, a tensor, or a list of
            ``(dim,)`` rows. A list of ``(n_tokens_i, dim)`` matrices (multi-vector embeddings) returns a list,
            quantized with one set of ranges shared by all matrices.
        precision: One of ``"float32"``, ``"int8"``, ``"uint8"``, ``"binary"``, ``"ubinary"``.
        ranges: For ``int8``/``uint8``: array of shape ``(2, dim)`` with each dimension's minimum (row 0) and
            maximum (row 1). Defaults to ranges computed from ``calibration_embeddings``.
        calibration_embeddings: For ``int8``/``uint8`` without ``ranges``: embeddings of shape ``(n_cal, dim)`` to
            compute the ranges from. Defaults to ``embeddings`` themselves, which is not recommended.

    Returns:
        The quantized embeddings: shape ``(n, dim)`` for float32/int8/uint8, ``(n, ceil(dim / 8))`` for the binary
        precisions; a list of such arrays for a list of matrices.

    Raises:
        ValueError: If ``precision`` is unknown, if the embeddings are already int8/uint8, or if int8/uint8
            ranges would have to come from a single embedding.

    Example:
        >>> quantize_embeddings(np.array([[0.5, -1.0, 2.0]]), "ubinary")
        array([[160]], dtype=uint8)
    """
    if precision not in _PRECISIONS:
        raise ValueError(
            f"quantize_embeddings: unknown precision {precision!r}; expected one of {list(_PRECISIONS)}. "
            "Pass one of those, e.g. precision='int8'."
        )
    if isinstance(embeddings, Tensor):
        embeddings = _tensor_to_numpy(embeddings)
    elif isinstance(embeddings, list):
        if not embeddings:
            return []
        arrays = [_tensor_to_numpy(item) if isinstance(item, Tensor) else item for item in embeddings]
        if isinstance(arrays[0], np.ndarray) and arrays[0].ndim == 2:
            return _quantize_matrices(arrays, precision, ranges, calibration_embeddings)
        embeddings = np.array(arrays)
    return _quantize_array(embeddings, precision, ranges, calibration_embeddings)


def __getattr__(name: str) -> Any:
    """Resolve the quantized search functions from :mod:`embedforge.quantization` on first access.

    Raises:
        AttributeError: For any other missing name.
    """
    if name in _LAZY_SEARCH_FUNCTIONS:
        from embedforge import quantization

        return getattr(quantization, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
