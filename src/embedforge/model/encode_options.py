"""EncodeOptions: everything one ``SentenceTransformer.encode`` call asks for, resolved once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch

if TYPE_CHECKING:
    from embedforge.model.base import BaseModel
    from embedforge.model.sentence_transformer import SentenceTransformer

logger = logging.getLogger("embedforge.model.sentence_transformer")

OutputValue = Literal["sentence_embedding", "token_embeddings"] | None
Precision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
OutputType = Literal["numpy", "tensor", "list"]
PRECISIONS: tuple[str, ...] = ("float32", "int8", "uint8", "binary", "ubinary")


@dataclass(frozen=True)
class EncodeOptions:
    """The resolved options of one ``encode`` call; also what a pool worker receives with each chunk.

    Attributes:
        batch_size: Texts per forward pass.
        prompt: Text prepended to every input, or None (already resolved from ``prompt``/``prompt_name``).
        output_value: ``"sentence_embedding"``, ``"token_embeddings"`` or None (every output).
        precision: ``"float32"`` or a quantized precision.
        output_type: ``"numpy"`` (an array), ``"tensor"`` (one tensor) or ``"list"`` (a list of tensors / dicts).
        device: Device to run on in this process; None: wherever the model is.
        normalize: L2-normalize sentence embeddings (after truncation).
        truncate_dim: Keep the first ``truncate_dim`` dimensions, or None.
        show_progress_bar: Show a tqdm bar over batches.
        task: Routing task (``encode_query``/``encode_document``) for models with a Router, or None.
        module_kwargs: The other extra keyword arguments of the call, for the modules that declare them in
            ``forward_kwargs`` (see ``SentenceTransformer.get_model_kwargs``).
    """

    batch_size: int = 32
    prompt: str | None = None
    output_value: OutputValue = "sentence_embedding"
    precision: Precision = "float32"
    output_type: OutputType = "numpy"
    device: torch.device | None = None
    normalize: bool = False
    truncate_dim: int | None = None
    show_progress_bar: bool = False
    task: str | None = None
    module_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def forward_kwargs(self) -> dict[str, Any]:
        """The keyword arguments for the model's forward: ``task`` (when set) and ``module_kwargs``."""
        return {**({"task": self.task} if self.task is not None else {}), **self.module_kwargs}

    @classmethod
    def from_call(cls, model: SentenceTransformer, call: dict[str, Any]) -> EncodeOptions:
        """Resolve the arguments of an ``encode`` call (its documented names) against the model's defaults.

        Args:
            model: The encoding model (prompts, truncation, device).
            call: ``prompt_name``, ``prompt``, ``batch_size``, ``show_progress_bar``, ``output_value``,
                ``precision``, ``convert_to_numpy``, ``convert_to_tensor``, ``device``, ``normalize_embeddings``,
                ``truncate_dim``, ``task`` and ``module_kwargs`` (the other extra keyword arguments).

        Raises:
            ValueError: For an unknown ``precision`` or a ``batch_size`` below 1.
            UnusedEncodeArgumentError: For an extra keyword argument that no module declares.
        """
        check_module_kwargs(model, call["module_kwargs"])
        precision = call["precision"]
        if precision not in PRECISIONS:
            raise ValueError(
                f"encode expects precision in {PRECISIONS}, got {precision!r}. Use 'float32' for plain embeddings "
                "or one of the quantized precisions."
            )
        if call["batch_size"] < 1:
            raise ValueError(f"encode expects batch_size >= 1, got {call['batch_size']}.")
        show = call["show_progress_bar"]
        device = call["device"]
        truncate_dim = call["truncate_dim"]
        return cls(
            batch_size=call["batch_size"],
            prompt=model.resolve_prompt(call["prompt_name"], call["prompt"]),
            output_value=call["output_value"],
            precision=precision,
            output_type=_output_type(call["output_value"], call["convert_to_numpy"], call["convert_to_tensor"]),
            device=torch.device(device) if isinstance(device, (str, torch.device)) else model.device,
            normalize=call["normalize_embeddings"],
            truncate_dim=truncate_dim if truncate_dim is not None else model.truncate_dim,
            show_progress_bar=show if show is not None else logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG),
            task=call["task"],
            module_kwargs=dict(call["module_kwargs"]),
        )


class UnusedEncodeArgumentError(TypeError, ValueError):
    """``encode`` got a keyword argument that no module of the model takes.

    A TypeError (an unexpected keyword argument) and a ValueError (what sentence-transformers raises).
    """


def check_module_kwargs(model: BaseModel, module_kwargs: dict[str, Any], method: str = "encode") -> None:
    """Refuse extra keyword arguments of ``method`` (``encode``, ``predict``) that no module declares.

    Raises:
        UnusedEncodeArgumentError: Naming the unused arguments and which modules take which.
    """
    if not module_kwargs:  # the usual call: nothing to check (spares a walk over the modules per call)
        return
    by_module = model.forward_kwargs_by_module()
    accepted = {name for names in by_module.values() for name in names}
    if unused := sorted(set(module_kwargs) - accepted):
        declared = "; ".join(f"{module} takes {names}" for module, names in by_module.items())
        raise UnusedEncodeArgumentError(
            f"{method} got unexpected keyword arguments {unused}: no module of this model declares them in its "
            f"forward_kwargs. "
            + (f"Modules that take extra arguments: {declared}." if declared else "No module takes extra arguments.")
            + " Remove them, or add the name to forward_kwargs of the module that should receive it."
        )


def _output_type(output_value: OutputValue, convert_to_numpy: bool, convert_to_tensor: bool) -> OutputType:
    """Sentence embeddings follow ``convert_to_tensor`` (it wins) and ``convert_to_numpy``; other outputs are lists."""
    if output_value != "sentence_embedding":
        return "list"
    if convert_to_tensor:
        return "tensor"
    return "numpy" if convert_to_numpy else "list"
