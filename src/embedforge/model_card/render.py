"""render_model_card: the ``README.md`` of a saved model, from its card data.

The card follows sentence-transformers' layout (YAML front matter for the Hub, model description,
architecture, usage, evaluation, training details, framework versions, citations) so that models trained
with embedforge read like any other Sentence Transformers model on the Hub.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from embedforge.model_card._markdown import code_block, format_number, join_words, markdown_table
from embedforge.model_card._sections import (
    citations_section,
    framework_versions_section,
    has_training_details,
    training_details_section,
)

if TYPE_CHECKING:
    from embedforge.model_card.data import SentenceTransformerModelCardData


def render_model_card(model: Any, card_data: SentenceTransformerModelCardData) -> str:
    """The model card (``README.md`` text) of ``model``.

    Nothing is computed with the model: the usage snippet is text only.

    Args:
        model: The model the card describes.
        card_data: What is known about the model and its training.

    Returns:
        Markdown with YAML front matter, ending with a newline.
    """
    name = model_name(model, card_data)
    family = card_data.family_card
    sections = [
        front_matter(name, card_data, model),
        f"# {name}",
        family.introduction(model, card_data, _origin(card_data)),
        model_details(model, card_data),
        "### Full Model Architecture\n\n" + code_block(repr(model)),
        usage_section(model, card_data),
        evaluation_section(card_data),
        training_details_section(card_data) if has_training_details(card_data) else "",
        framework_versions_section(),
        citations_section(card_data.citations),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def model_name(model: Any, card_data: SentenceTransformerModelCardData) -> str:
    """The user's model name, else ``"<ModelClass> based on <base model>"``, else the class name."""
    if card_data.model_name:
        return card_data.model_name
    class_name = type(model).__name__
    return f"{class_name} based on {card_data.base_model}" if card_data.base_model else class_name


def card_tags(card_data: SentenceTransformerModelCardData) -> list[str]:
    """Hub tags: the family's, the user's, ``generated_from_trainer``, ``dataset_size:N``, ``loss:Name``."""
    tags = [*card_data.family_card.standard_tags, *(card_data.tags or [])]
    if card_data.trained:
        tags.append("generated_from_trainer")
    sizes = [summary.size for summary in card_data.train_dataset_summaries if summary.size]
    if sizes:
        tags.append(f"dataset_size:{sum(sizes)}")
    tags.extend(f"loss:{loss.name}" for loss in card_data.losses)
    return list(dict.fromkeys(tags))


def front_matter(name: str, card_data: SentenceTransformerModelCardData, model: Any) -> str:
    """The YAML metadata block the Hub reads, between ``---`` lines."""
    meta: dict[str, Any] = {}
    if card_data.language:
        meta["language"] = [card_data.language] if isinstance(card_data.language, str) else card_data.language
    if card_data.license:
        meta["license"] = card_data.license
    meta["tags"] = card_tags(card_data)
    if card_data.base_model:
        meta["base_model"] = card_data.base_model
    widget = card_data.family_card.widget(example_texts(card_data))
    if widget:
        meta["widget"] = widget
    dataset_ids = [entry["id"] for entry in card_data.train_datasets + card_data.eval_datasets if entry.get("id")]
    if dataset_ids:
        meta["datasets"] = list(dict.fromkeys(dataset_ids))
    meta["pipeline_tag"] = card_data.family_card.pipeline_tag(model)
    meta["library_name"] = "sentence-transformers"
    meta.update(card_data.family_card.extra_metadata(model))
    if card_data.eval_metrics:
        meta["metrics"] = list(card_data.eval_metrics)
        meta["model-index"] = model_index(name, card_data, meta["pipeline_tag"])
    if card_data.co2_eq_emissions:
        meta["co2_eq_emissions"] = card_data.co2_eq_emissions
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---"


def model_index(name: str, card_data: SentenceTransformerModelCardData, task: str) -> list[dict[str, Any]]:
    """The ``model-index`` metadata holding the evaluation results."""
    names = [summary.name for summary in card_data.eval_dataset_summaries if summary.name]
    names = names or [entry["name"] for entry in card_data.eval_datasets if entry.get("name")]
    dataset = names[0] if len(names) == 1 else "unknown"
    metrics = [
        {"type": key, "value": value, "name": key.replace("_", " ").replace("-", " ").title()}
        for key, value in card_data.eval_metrics.items()
    ]
    result = {
        "task": {"type": task, "name": task.replace("-", " ").title()},
        "dataset": {"name": dataset, "type": dataset},
        "metrics": metrics,
    }
    return [{"name": name, "results": [result]}]


def example_texts(card_data: SentenceTransformerModelCardData) -> list[str]:
    """Texts from the evaluation (else training) data for the snippet and widget, if enabled and available."""
    if not card_data.generate_widget_examples:
        return []
    for summary in [*card_data.eval_dataset_summaries, *card_data.train_dataset_summaries]:
        if len(summary.example_texts) >= 3:
            return summary.example_texts
    return []


def _dataset_link(entry_name: str | None, entry_id: str | None) -> str:
    """A dataset's name, linked to its Hub page when its id is known."""
    if entry_id:
        return f"[{entry_name or entry_id}](https://huggingface.co/datasets/{entry_id})"
    return entry_name or ""


def _training_dataset_links(card_data: SentenceTransformerModelCardData) -> list[str]:
    """Linked names of the named training datasets."""
    entries = [(summary.name, summary.id) for summary in card_data.train_dataset_summaries]
    entries = entries or [(entry.get("name"), entry.get("id")) for entry in card_data.train_datasets]
    return [_dataset_link(name, dataset_id) for name, dataset_id in entries if name]


def _origin(card_data: SentenceTransformerModelCardData) -> str:
    """Where the model comes from, for the opening paragraph: base model and training datasets (or "")."""
    origin = ""
    if card_data.base_model:
        origin = f" finetuned from [{card_data.base_model}](https://huggingface.co/{card_data.base_model})"
    links = _training_dataset_links(card_data)
    if len(links) > 5:
        origin = f"{origin or ' trained'} on {len(links)} datasets"
    elif links:
        origin = f"{origin or ' trained'} on the {join_words(links)} dataset{'s' if len(links) > 1 else ''}"
    return origin


def model_details(model: Any, card_data: SentenceTransformerModelCardData) -> str:
    """The ``Model Details`` section: type, base model, the family's lines, datasets, language, license, sources."""
    base = "<!-- - **Base model:** [Unknown](https://huggingface.co/unknown) -->"
    if card_data.base_model:
        base = f"- **Base model:** [{card_data.base_model}](https://huggingface.co/{card_data.base_model})"
        if card_data.base_model_revision:
            base += f" <!-- at revision {card_data.base_model_revision} -->"
    family = card_data.family_card
    lines = [
        "## Model Details",
        "",
        "### Model Description",
        f"- **Model Type:** {family.model_type_name}",
        base,
        *family.description_lines(model),
        *_dataset_lines(_training_dataset_links(card_data)),
        *_language_lines(card_data.language),
        f"- **License:** {card_data.license}" if card_data.license else "<!-- - **License:** Unknown -->",
        "",
        "### Model Sources",
        "",
        "- **Documentation:** [Sentence Transformers Documentation](https://sbert.net)",
        "- **Repository:** [Sentence Transformers on GitHub](https://github.com/huggingface/sentence-transformers)",
        "- **Hugging Face:** [Sentence Transformers on Hugging Face]"
        "(https://huggingface.co/models?library=sentence-transformers)",
    ]
    return "\n".join(lines)


def _dataset_lines(links: list[str]) -> list[str]:
    """The ``Training Dataset(s)`` lines of the model description."""
    if not links:
        return ["<!-- - **Training Dataset:** Unknown -->"]
    return [f"- **Training Dataset{'s' if len(links) > 1 else ''}:**", *(f"    - {link}" for link in links)]


def _language_lines(language: str | list[str] | None) -> list[str]:
    """The ``Language(s)`` line of the model description."""
    if not language:
        return ["<!-- - **Language:** Unknown -->"]
    languages = [language] if isinstance(language, str) else language
    return [f"- **Language{'s' if len(languages) > 1 else ''}:** {', '.join(languages)}"]


def usage_section(model: Any, card_data: SentenceTransformerModelCardData) -> str:
    """How to install and run the model: the family's Python snippet."""
    snippet = card_data.family_card.usage_snippet(model, card_data)
    class_name = type(model).__name__
    return "\n".join(
        [
            "## Usage",
            "",
            "### Direct Usage (Sentence Transformers)",
            "",
            "Install the Sentence Transformers library:",
            "",
            code_block("pip install -U sentence-transformers", "bash"),
            f"Then load the model and run inference (`from embedforge import {class_name}` works the same):",
            code_block("\n".join(snippet), "python"),
        ]
    )


def evaluation_section(card_data: SentenceTransformerModelCardData) -> str:
    """The ``Evaluation`` section with the latest evaluation results; empty without results."""
    if not card_data.eval_metrics:
        return ""
    rows = [{"Metric": key, "Value": format_number(value)} for key, value in card_data.eval_metrics.items()]
    return "## Evaluation\n\n### Metrics\n\n" + markdown_table(rows)
