"""Dense: a feed-forward layer (linear + activation) on an embedding."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from torch import Tensor, nn

from embedforge.models.base import Features, LoadContext, Module, load_weights_into, read_json


def activation_name(activation: nn.Module) -> str:
    """The dotted name sentence-transformers writes for an activation, e.g. ``torch.nn.modules.activation.Tanh``."""
    cls = type(activation)
    return f"{cls.__module__}.{cls.__qualname__}"


def activation_from_name(name: str) -> nn.Module:
    """Instantiate a ``torch.nn`` activation from its saved dotted name, without importing the name.

    Only parameter-free ``torch.nn`` module classes are accepted (``torch.nn.modules.activation.Tanh``,
    ``torch.nn.Identity``…): the class name is looked up on ``torch.nn``.

    Raises:
        ValueError: If the name does not denote a ``torch.nn`` module class.
    """
    prefix, _, class_name = name.rpartition(".")
    cls = getattr(nn, class_name, None)
    if not prefix.startswith("torch") or not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(
            f"Dense expects activation_function to name a torch.nn module class such as "
            f"'torch.nn.modules.activation.Tanh', found {name!r}. Edit the Dense config.json, or build the "
            "Dense module in code with the activation instance you need."
        )
    return cls()


class Dense(Module):
    """Applies ``activation(x @ W.T + b)`` to ``features[module_input_name]`` of shape ``(batch, in_features)``.

    Args:
        in_features: Input size.
        out_features: Output size.
        bias: Whether the linear layer has a bias.
        activation_function: Module applied after the linear layer; None means identity. Default ``nn.Tanh()``.
        init_weight: Initial weight ``(out_features, in_features)``.
        init_bias: Initial bias ``(out_features,)``.
        module_input_name: Key to read (default ``"sentence_embedding"``).
        module_output_name: Key to write; defaults to ``module_input_name``.
        use_residual: Add the input (projected without bias when sizes differ) to the output.
    """

    config_keys: ClassVar[tuple[str, ...]] = (
        "in_features",
        "out_features",
        "bias",
        "activation_function",
        "module_input_name",
        "module_output_name",
        "use_residual",
    )

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation_function: nn.Module | None = nn.Tanh(),  # noqa: B008 - ST's default, a stateless module
        init_weight: Tensor | None = None,
        init_bias: Tensor | None = None,
        module_input_name: str = "sentence_embedding",
        module_output_name: str | None = None,
        use_residual: bool = False,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.bias = bias
        self.activation_function = nn.Identity() if activation_function is None else activation_function
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.module_input_name = module_input_name
        self.module_output_name = module_output_name or module_input_name
        self.use_residual = use_residual
        if use_residual and in_features != out_features:
            self.residual = nn.Linear(in_features, out_features, bias=False)
        if init_weight is not None:
            self.linear.weight = nn.Parameter(init_weight)
        if init_bias is not None and bias:
            self.linear.bias = nn.Parameter(init_bias)

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Write the projection, shape ``(batch, out_features)``."""
        x = features[self.module_input_name]
        out = self.activation_function(self.linear(x))
        if self.use_residual:
            out = out + (x if self.in_features == self.out_features else self.residual(x))
        features[self.module_output_name] = out
        return features

    def get_sentence_embedding_dimension(self) -> int:
        """The output size."""
        return self.out_features

    get_embedding_dimension = get_sentence_embedding_dimension

    def get_config_dict(self) -> dict[str, Any]:
        """The saved config; ``use_residual`` is omitted at its default, as sentence-transformers does."""
        config = super().get_config_dict()
        config["activation_function"] = activation_name(self.activation_function)
        if not self.use_residual:
            config.pop("use_residual")
        return config

    @classmethod
    def load_folder(cls, path: Path, context: LoadContext) -> Dense:
        """Load config (activation resolved by name on ``torch.nn``) and weights."""
        del context
        config = read_json(path / cls.config_file_name)
        if "activation_function" in config:
            config["activation_function"] = activation_from_name(config["activation_function"])
        module = cls(**{key: value for key, value in config.items() if key in cls.config_keys})
        load_weights_into(module, path)
        return module
