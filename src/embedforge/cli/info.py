"""``embedforge info MODEL``: what a model is made of and how it embeds, without encoding anything.

Reports the modules (type and key configuration), the embedding dimension, the maximum sequence length, the
prompts and default prompt, the similarity function, ``truncate_dim``, the parameter count and the basics of the
model card (its README front matter) when the model has one. In JSON mode the report is one ``model_info`` object.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Any

from embedforge.cli.output import Console, add_output_options

if TYPE_CHECKING:
    from torch import nn

    from embedforge.model.base import BaseModel

__all__ = ["add_parser", "describe", "run"]

CARD_KEYS = ("model_name", "language", "license", "base_model", "library_name", "pipeline_tag", "tags", "datasets")
"""Model card front-matter keys reported."""

MAX_LISTED = 8
"""Longer lists and dicts in a module's configuration are summarized by their length."""

EXAMPLES = """examples:
  embedforge info ./my-model
  embedforge info sentence-transformers/all-MiniLM-L6-v2 --json
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``info``."""
    parser = subparsers.add_parser(
        "info",
        help="describe a model: modules, dimension, prompts, similarity",
        description="Load MODEL (without encoding anything) and describe it: its modules and their key settings, "
        "embedding dimension, max sequence length, prompts, similarity function, truncate_dim, parameter count "
        "and model card basics.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="model folder or Hugging Face Hub id")
    parser.add_argument("--device", default="cpu", help="device to load the model on (default: cpu)")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow code shipped with the model to run")
    add_output_options(parser)


def run(args: argparse.Namespace) -> int:
    """Load the model and print its description (one ``model_info`` event in JSON mode).

    Returns:
        0 on success, 1 when the model cannot be loaded.
    """
    console = Console.from_args(args)
    from embedforge.model.loading import load_model

    try:
        model = load_model(args.model, device=args.device, trust_remote_code=args.trust_remote_code)
    except (OSError, ValueError) as error:
        console.error(str(error))
        return 1
    report = {"model": args.model, **describe(model)}
    console.result(render(report), event="model_info", **report)
    return 0


def describe(model: BaseModel) -> dict[str, Any]:
    """The description of a loaded model (a bi-encoder or a cross-encoder) as a JSON-ready dict."""
    from embedforge.cross_encoder.activation import activation_name
    from embedforge.cross_encoder.model import CrossEncoder

    if isinstance(model, CrossEncoder):
        family = {"num_labels": model.num_labels, "activation_fn": activation_name(model.activation_fn)}
    else:
        family = {
            "embedding_dimension": model.get_sentence_embedding_dimension(),
            "similarity_fn_name": model.similarity_fn_name,
            "truncate_dim": model.truncate_dim,
        }
    return {
        "model_type": model.model_type,
        "modules": [_describe_module(name, module) for name, module in model.named_children()],
        "max_seq_length": model.max_seq_length,
        **family,
        "prompts": dict(model.prompts),
        "default_prompt_name": model.default_prompt_name,
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "model_card": card_basics(model.model_card_text),
    }


def _describe_module(name: str, module: nn.Module) -> dict[str, Any]:
    """Name, type and key configuration of one module (a Transformer adds its architecture and sizes)."""
    from embedforge.models.base import Module
    from embedforge.models.transformer import Transformer

    config: dict[str, Any] = {}
    if isinstance(module, Module):
        config = {key: _summarize(getattr(module, key)) for key in module.config_keys}
    if isinstance(module, Transformer):
        hf_config = module.auto_model.config
        config["architecture"] = type(module.auto_model).__name__
        for key in ("model_type", "hidden_size", "num_hidden_layers", "vocab_size"):
            config[key] = getattr(hf_config, key, None)
    return {"name": name, "type": type(module).__name__, "config": config}


def _summarize(value: Any) -> Any:
    """JSON-ready ``value``; lists and dicts longer than :data:`MAX_LISTED` become ``"<list of N>"``."""
    if isinstance(value, (list, tuple, dict)) and len(value) > MAX_LISTED:
        return f"<{type(value).__name__} of {len(value)}>"
    if isinstance(value, dict):
        return {str(key): _summarize(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_summarize(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def card_basics(card: str | None) -> dict[str, Any]:
    """The :data:`CARD_KEYS` of a model card's YAML front matter (``{}`` without a card or front matter)."""
    if not card:
        return {}
    import yaml

    match = re.match(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", card, flags=re.DOTALL)
    try:
        front = yaml.safe_load(match.group(1)) if match else None
    except yaml.YAMLError:
        return {}
    if not isinstance(front, dict):
        return {}
    index = front.get("model-index")
    if "model_name" not in front and isinstance(index, list) and index and isinstance(index[0], dict):
        front["model_name"] = index[0].get("name")
    return {key: _summarize(front[key]) for key in CARD_KEYS if front.get(key) not in (None, [], "")}


def render(report: dict[str, Any]) -> str:
    """The description as readable lines."""
    lines = [f"Model: {report['model']} ({report['model_type']})", "Modules:"]
    for module in report["modules"]:
        settings = ", ".join(f"{key}={value}" for key, value in module["config"].items())
        lines.append(f"  ({module['name']}) {module['type']}" + (f": {settings}" if settings else ""))
    prompts = ", ".join(f"{name}={text!r}" for name, text in report["prompts"].items()) or "none"
    if "num_labels" in report:
        family = [f"Labels: {report['num_labels']}", f"Activation: {report['activation_fn']}"]
    else:
        family = [
            f"Embedding dimension: {report['embedding_dimension']}",
            f"Similarity function: {report['similarity_fn_name']}",
            f"Truncate dim: {report['truncate_dim']}",
        ]
    lines += [
        f"Max sequence length: {report['max_seq_length']}",
        *family,
        f"Prompts: {prompts}",
        f"Default prompt: {report['default_prompt_name']}",
        f"Parameters: {report['parameters']:,}",
    ]
    card = report["model_card"]
    lines.append("Model card: " + ("; ".join(f"{key}={value}" for key, value in card.items()) if card else "none"))
    return "\n".join(lines)
