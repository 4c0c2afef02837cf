"""Cut a transformer down to its first layers, e.g. after training it with ``AdaptiveLayerLoss``.

A model trained with :class:`~embedforge.losses.AdaptiveLayerLoss` gives usable embeddings from its earlier layers
too; dropping the later ones makes encoding faster at a small cost in quality. sentence-transformers documents
this as editing the layer list by hand (``model[0].auto_model.encoder.layer = ...[:k]``), which depends on the
architecture and leaves the config saying the old depth. :func:`truncate_layers` does it in one call for the
encoder families of transformers: where each keeps its layers is the table :data:`LAYER_STACKS`, keyed by the
config's ``model_type``. The config is updated too, so ``model.save()`` and loading the folder again give the
truncated model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from torch import nn

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel

    from embedforge.models.transformer import Transformer

__all__ = ["LAYER_STACKS", "LayerStack", "truncate_layers"]

ModelT = TypeVar("ModelT", bound=nn.Module)


@dataclass(frozen=True)
class LayerStack:
    """Where a model family keeps its list of transformer layers.

    Attributes:
        path: Attribute names leading from the transformers base model (``PreTrainedModel.base_model``: the bare
            encoder, also inside a ``...ForSequenceClassification``) to its ``nn.ModuleList`` of layers, e.g.
            ``("encoder", "layer")`` for BERT.
        per_layer_config: Config fields holding one entry per layer (``layer_types``), cut to the same length.
    """

    path: tuple[str, ...]
    per_layer_config: tuple[str, ...] = ()

    @property
    def dotted(self) -> str:
        """The path as written in Python, e.g. ``"encoder.layer"``."""
        return ".".join(self.path)


_ENCODER_LAYER = LayerStack(("encoder", "layer"))
_LAYERS = LayerStack(("layers",))
_TYPED_LAYERS = LayerStack(("layers",), per_layer_config=("layer_types",))
_T5_BLOCKS = LayerStack(("encoder", "block"))

LAYER_STACKS: dict[str, LayerStack] = {
    **dict.fromkeys(
        (
            "bert",
            "roberta",
            "xlm-roberta",
            "xlm-roberta-xl",
            "camembert",
            "electra",
            "mpnet",
            "deberta",
            "deberta-v2",
            "ernie",
            "data2vec-text",
            "roberta-prelayernorm",
            "xmod",
            "megatron-bert",
            "rembert",
            "esm",
            "convbert",
            "big_bird",
            "longformer",
            "layoutlm",
            "ibert",
            "splinter",
            "nystromformer",
            "mobilebert",
        ),
        _ENCODER_LAYER,
    ),
    "distilbert": LayerStack(("transformer", "layer")),
    **dict.fromkeys(("t5", "mt5", "umt5"), _T5_BLOCKS),
    **dict.fromkeys(("nomic_bert", "gte", "eurobert", "llama", "mistral", "gemma", "phi3"), _LAYERS),
    **dict.fromkeys(("modernbert", "modernbert-decoder", "qwen2", "qwen3", "gemma2", "gemma3_text"), _TYPED_LAYERS),
}
"""``model_type`` → where its layers are. Add an entry for another architecture, e.g.
``LAYER_STACKS["my_type"] = LayerStack(("encoder", "layers"))``."""


def truncate_layers(model: ModelT, num_layers: int) -> ModelT:
    """Keep only the first ``num_layers`` transformer layers of a model, in place.

    The model then computes, from the same inputs, what the untruncated model computes up to layer
    ``num_layers`` (its hidden state number ``num_layers`` with ``output_hidden_states``, the embedding layer's
    output being number 0), and everything after the transformer (pooling, dense…) reads that instead of the
    final layer. The config's layer count (``num_hidden_layers``, whatever the family calls it) is updated, so
    saving and reloading keeps the truncation. Meant for models trained with ``AdaptiveLayerLoss``; others lose
    much more quality when cut.

    Args:
        model: A ``SentenceTransformer`` or ``CrossEncoder`` whose first module is a ``Transformer``, or a
            ``Transformer`` module.
        num_layers: Layers to keep, from 1 to the current number of layers (keeping all changes nothing).

    Returns:
        The same ``model`` object, truncated.

    Raises:
        TypeError: For a model that is neither a Transformer nor starts with one, or a non-integer ``num_layers``.
        ValueError: For ``num_layers`` outside 1..layers, or an architecture missing from ``LAYER_STACKS``.

    Example:
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.models import truncate_layers
        >>> model = SentenceTransformer("path/to/adaptive-layer-model")  # doctest: +SKIP
        >>> truncate_layers(model, 3)  # doctest: +SKIP
        >>> model.save("path/to/3-layer-model")  # doctest: +SKIP
    """
    if isinstance(num_layers, bool) or not isinstance(num_layers, int):
        raise TypeError(f"truncate_layers: num_layers must be an int, got {type(num_layers).__name__}.")
    base = _transformer_of(model).auto_model.base_model
    stack = _layer_stack(base.config)
    layers = _layer_list(base, stack)
    if not 1 <= num_layers <= len(layers):
        raise ValueError(
            f"truncate_layers: num_layers must be between 1 and the model's {len(layers)} layers, got {num_layers}."
        )
    if num_layers == len(layers):
        return model
    _set_layer_list(base, stack, nn.ModuleList(list(layers)[:num_layers]))
    _cut_config(base.config, stack, num_layers)
    return model


def _transformer_of(model: nn.Module) -> Transformer:
    """The Transformer module itself, or the first module of a pipeline when it is one."""
    from embedforge.models.transformer import Transformer

    if isinstance(model, Transformer):
        return model
    first = model[0] if isinstance(model, nn.Sequential) and len(model) else None
    if isinstance(first, Transformer):
        return first
    found = type(model).__name__ if first is None else f"{type(model).__name__} starting with {type(first).__name__}"
    raise TypeError(
        "truncate_layers needs a Transformer module or a model whose first module is a Transformer "
        f"(SentenceTransformer, CrossEncoder), found {found}. Models without transformer layers (StaticEmbedding…) "
        "cannot be truncated."
    )


def _layer_stack(config: PretrainedConfig) -> LayerStack:
    stack = LAYER_STACKS.get(config.model_type)
    if stack is None:
        raise ValueError(
            f"truncate_layers does not know where model_type {config.model_type!r} keeps its layers; known types: "
            f"{', '.join(sorted(LAYER_STACKS))}. Register it first, e.g. "
            f'embedforge.models.layer_truncation.LAYER_STACKS["{config.model_type}"] = LayerStack(("encoder", '
            '"layer")) with the attribute path to its nn.ModuleList of layers.'
        )
    return stack


def _layer_list(base: PreTrainedModel, stack: LayerStack) -> nn.ModuleList:
    """Follow ``stack.path`` from the base model; the end must be an ``nn.ModuleList``."""
    owner: object = base
    for name in stack.path:
        owner = getattr(owner, name, None)
    if not isinstance(owner, nn.ModuleList):
        raise ValueError(
            f"truncate_layers: expected an nn.ModuleList of layers at {type(base).__name__}.{stack.dotted} "
            f"(LAYER_STACKS[{base.config.model_type!r}]), found {type(owner).__name__}. Fix the LAYER_STACKS entry "
            "for this architecture."
        )
    return owner


def _set_layer_list(base: PreTrainedModel, stack: LayerStack, layers: nn.ModuleList) -> None:
    owner: nn.Module = base
    for name in stack.path[:-1]:
        owner = getattr(owner, name)
    setattr(owner, stack.path[-1], layers)


def _cut_config(config: PretrainedConfig, stack: LayerStack, num_layers: int) -> None:
    """Set the layer count (``num_hidden_layers`` maps to the family's own name) and cut per-layer lists."""
    for field in stack.per_layer_config:
        values = getattr(config, field, None)
        if values is not None:
            setattr(config, field, list(values)[:num_layers])
    config.num_hidden_layers = num_layers
