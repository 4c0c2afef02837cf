"""CLIPModel: the input module of dual-encoder image–text models (CLIP, SigLIP…), embedding texts and images.

sentence-transformers 6.2 runs such models in its ``Transformer`` module with a ``modality_config`` that names, per
modality, the transformers method that embeds it (``get_text_features`` / ``get_image_features``), and saves them
as a ``Transformer`` (``sentence_bert_config.json`` holding that config); its older ``CLIPModel`` module name still
loads. This module reads and writes that format; the model's methods return the projected features, which are the
sentence embeddings (no pooling module follows).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from embedforge.models.base import Features, InputModule, LoadContext, read_json
from embedforge.models.modality import DUAL_ENCODER_MODALITY_CONFIGS, batch_modality, load_image

if TYPE_CHECKING:
    from transformers import PreTrainedModel, ProcessorMixin

__all__ = ["CLIPModel", "is_multimodal_config"]

_PIXELS = "pixel_values"


def is_multimodal_config(modality_config: dict[str, Any] | None) -> bool:
    """Whether a saved ``modality_config`` needs this module: a modality besides text, or a text method not forward."""
    if not modality_config:
        return False
    text = modality_config.get("text", {})
    return set(modality_config) != {"text"} or text.get("method", "forward") != "forward"


class CLIPModel(InputModule):
    """A transformers dual-encoder model and its processor, embedding texts and images into one space.

    ``encode`` takes texts (``str``) or images (``PIL.Image.Image``, an image file path or URL), one modality per
    batch; the output ``sentence_embedding`` has shape ``(batch, projection_dim)``.

    Args:
        model_name_or_path: A transformers checkpoint of a dual encoder (e.g. ``openai/clip-vit-base-patch32``).
        processor_name: Where to load the processor from; default: ``model_name_or_path``.
        modality_config: Modality → ``{"method": ..., "method_output_name": ...}``; default: the model type's entry
            in :data:`~embedforge.models.modality.DUAL_ENCODER_MODALITY_CONFIGS`.
        max_seq_length: Longest text in tokens; default: the text encoder's position limit.
        model_kwargs: Extra ``from_pretrained`` arguments for the model.
        processor_kwargs: Extra ``from_pretrained`` arguments for the processor.

    Example:
        >>> model = SentenceTransformer(modules=[CLIPModel("path/to/clip")])  # doctest: +SKIP
        >>> images = model.encode([Image.open("cat.jpg")])  # doctest: +SKIP
        >>> texts = model.encode(["a photo of a cat", "a photo of a dog"])  # doctest: +SKIP
        >>> model.similarity(images, texts)  # doctest: +SKIP
    """

    config_file_name: ClassVar[str] = "sentence_bert_config.json"
    module_output_name: ClassVar[str] = "sentence_embedding"

    def __init__(
        self,
        model_name_or_path: str = "openai/clip-vit-base-patch32",
        processor_name: str | None = None,
        modality_config: dict[str, dict[str, str]] | None = None,
        max_seq_length: int | None = None,
        model_kwargs: dict[str, Any] | None = None,
        processor_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        import transformers

        self.model: PreTrainedModel = transformers.AutoModel.from_pretrained(
            str(model_name_or_path), **(model_kwargs or {})
        )
        self.processor: ProcessorMixin = transformers.AutoProcessor.from_pretrained(
            str(processor_name or model_name_or_path), **(processor_kwargs or {})
        )
        self.tokenizer = self.processor.tokenizer
        model_type = self.model.config.model_type
        if modality_config is None:
            if model_type not in DUAL_ENCODER_MODALITY_CONFIGS:
                raise ValueError(
                    f"CLIPModel needs a modality_config for model type {model_type!r}; known dual-encoder types: "
                    f"{sorted(DUAL_ENCODER_MODALITY_CONFIGS)}. Pass modality_config={{'text': {{'method': "
                    "'get_text_features', 'method_output_name': 'pooler_output'}, 'image': {...}}."
                )
            modality_config = DUAL_ENCODER_MODALITY_CONFIGS[model_type]
        self.modality_config = {name: dict(entry) for name, entry in modality_config.items()}
        text_config = getattr(self.model.config, "text_config", self.model.config)
        self._position_limit = int(getattr(text_config, "max_position_embeddings", 0) or 0) or None
        self.max_seq_length = max_seq_length

    @property
    def modalities(self) -> list[str]:
        """The modalities of ``modality_config`` (e.g. ``["text", "image"]``)."""
        return list(self.modality_config)

    @property
    def max_seq_length(self) -> int | None:
        """Longest text in tokens (the text encoder's position limit unless set lower)."""
        return self._max_seq_length or self._position_limit

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        self._max_seq_length = value

    def tokenize(self, texts: Sequence[str], **kwargs: Any) -> Features:
        """Tokenize texts: ``input_ids`` and ``attention_mask`` of shape ``(batch, seq_len)``."""
        del kwargs
        encoded = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_seq_length, return_tensors="pt"
        )
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}

    def preprocess(self, texts: Sequence[Any], prompt: str | None = None, **kwargs: Any) -> Features:
        """Texts are tokenized (with ``prompt`` prepended); images become ``pixel_values`` ``(batch, 3, H, W)``."""
        if batch_modality(texts, self.modalities) == "text":
            return super().preprocess(texts, prompt=prompt, **kwargs)
        images = [load_image(item) for item in texts]
        return {_PIXELS: self.processor.image_processor(images=images, return_tensors="pt")[_PIXELS]}

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Embed the batch with its modality's method; writes ``sentence_embedding`` ``(batch, projection_dim)``."""
        del kwargs
        if _PIXELS in features:
            entry = self.modality_config["image"]
            output = getattr(self.model, entry["method"])(pixel_values=features[_PIXELS])
        else:
            entry = self.modality_config["text"]
            inputs = {key: features[key] for key in ("input_ids", "attention_mask") if key in features}
            output = getattr(self.model, entry["method"])(**inputs)
        name = entry.get("method_output_name")
        features[self.module_output_name] = output if isinstance(output, torch.Tensor) else output[name]
        return features

    def get_sentence_embedding_dimension(self) -> int | None:
        """The projection size shared by both encoders."""
        dimension = getattr(self.model.config, "projection_dim", None)
        return int(dimension) if dimension else None

    def get_config_dict(self) -> dict[str, Any]:
        """``sentence_bert_config.json`` as sentence-transformers 6.2 writes it for such a model."""
        config: dict[str, Any] = {
            "transformer_task": "feature-extraction",
            "modality_config": self.modality_config,
            "module_output_name": self.module_output_name,
        }
        if self._max_seq_length is not None:
            config["max_seq_length"] = self._max_seq_length
        return config

    def save(self, output_path: str | Path, *, safe_serialization: bool = True) -> None:
        """Write the transformers model, the processor and ``sentence_bert_config.json`` into ``output_path``."""
        path = Path(output_path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(str(path), safe_serialization=safe_serialization)
        self.processor.save_pretrained(str(path))
        with open(path / self.config_file_name, "w", encoding="utf-8") as handle:
            json.dump(self.get_config_dict(), handle, indent=2)

    @classmethod
    def load_folder(cls, path: Path, context: LoadContext) -> CLIPModel:
        """Load an ST 6.2 multimodal Transformer folder, an older ST CLIPModel folder, or a plain checkpoint."""
        config_file = path / cls.config_file_name
        config = read_json(config_file) if config_file.is_file() else {}
        shared = {"trust_remote_code": context.trust_remote_code, "revision": context.revision}
        shared = {key: value for key, value in shared.items() if value}
        return cls(
            str(path),
            modality_config=config.get("modality_config"),
            max_seq_length=config.get("max_seq_length"),
            model_kwargs={**shared, **context.model_kwargs},
            processor_kwargs={**shared, **context.tokenizer_kwargs},
        )
