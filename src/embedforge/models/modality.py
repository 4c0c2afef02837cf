"""Input modalities of multimodal models: what counts as an image, how a batch's modality is found, image loading.

sentence-transformers 6.2 takes a text as a ``str`` and an image as a ``PIL.Image.Image``, a local image file path or
an image URL (by extension), and refuses a batch that mixes modalities. The tables of which transformers method
embeds which modality (per model type) are data here, in sentence-transformers' ``modality_config`` format.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

__all__ = [
    "DUAL_ENCODER_MODALITY_CONFIGS",
    "IMAGE_EXTENSIONS",
    "batch_modality",
    "infer_modality",
    "is_image_path_or_url",
    "load_image",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tiff", ".webp")
"""File name endings that make a string an image input (as sentence-transformers 6.2 decides)."""

_FEATURES = "pooler_output"

DUAL_ENCODER_MODALITY_CONFIGS: dict[str, dict[str, dict[str, str]]] = {
    model_type: {
        "text": {"method": "get_text_features", "method_output_name": _FEATURES},
        "image": {"method": "get_image_features", "method_output_name": _FEATURES},
    }
    for model_type in ("clip", "siglip", "siglip2", "chinese_clip", "altclip", "metaclip_2")
}
"""transformers model type → ``modality_config`` of dual-encoder image–text models: each modality has its own
method that returns projected features (``pooler_output`` of the method's output), the sentence embedding."""


def is_image_path_or_url(text: str) -> bool:
    """Whether a string names an image: an http(s) URL or an existing file with an image extension."""
    if text.startswith(("http://", "https://")) and " " not in text:
        try:
            path = urlparse(text).path.lower()
        except ValueError:
            return False
        return path.endswith(IMAGE_EXTENSIONS)
    return text.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(text)


def infer_modality(item: Any) -> str:
    """``"image"`` for a PIL image or an image path/URL, ``"text"`` for other strings and text pairs.

    Raises:
        TypeError: For anything else, naming the accepted types.
    """
    if _is_pil_image(item):
        return "image"
    if isinstance(item, str):
        return "image" if is_image_path_or_url(item) else "text"
    if isinstance(item, Sequence) and all(isinstance(part, str) for part in item):
        return "text"
    raise TypeError(
        f"Expected a text (str), an image (PIL.Image.Image, an image file path or URL) or a text pair, got "
        f"{type(item).__name__}."
    )


def batch_modality(items: Sequence[Any], supported: Sequence[str]) -> str:
    """The one modality of a batch.

    Raises:
        ValueError: The batch mixes modalities, or its modality is not among ``supported``.
    """
    found = sorted({infer_modality(item) for item in items}) or ["text"]
    if len(found) > 1:
        raise ValueError(
            f"This batch mixes the modalities {found}; a model encodes one modality per batch. Encode the texts and "
            "the images in separate calls."
        )
    if found[0] not in supported:
        raise ValueError(f"This model encodes {list(supported)}, got {found[0]} inputs.")
    return found[0]


def load_image(item: Any) -> Any:
    """A PIL image in RGB from a PIL image, a file path or an http(s) URL.

    Raises:
        ValueError: The URL cannot be fetched (naming it and the reason).
    """
    from PIL import Image

    if _is_pil_image(item):
        return item.convert("RGB") if item.mode != "RGB" else item
    if item.startswith(("http://", "https://")):
        from urllib.error import URLError
        from urllib.request import urlopen

        try:
            with urlopen(item, timeout=30) as response:
                data = response.read()
        except URLError as error:
            raise ValueError(f"Could not download the image {item!r}: {error.reason}.") from error
        return Image.open(io.BytesIO(data)).convert("RGB")
    with Image.open(item) as image:
        return image.convert("RGB")


def _is_pil_image(item: Any) -> bool:
    try:
        from PIL.Image import Image
    except ImportError:  # Pillow not installed: nothing can be a PIL image
        return False
    return isinstance(item, Image)
