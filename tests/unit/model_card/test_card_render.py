"""render_model_card on a real embedforge SentenceTransformer: front matter, sections, tables, untrained cards."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from textwrap import dedent

import pytest
import yaml
from transformers import TrainerControl, TrainerState, TrainingArguments

from embedforge import SentenceTransformer
from embedforge.model_card import ModelCardCallback, SentenceTransformerModelCardData, render_model_card
from embedforge.model_card.statistics import SBERT_CITATION


@pytest.fixture
def model(tiny_bert_path):
    return SentenceTransformer(str(tiny_bert_path), device="cpu")


@pytest.fixture
def trained_card(tmp_path, pair_dataset, wrapped_loss):
    """Card data after a simulated run: data, losses, hyperparameters, logs, metrics, time."""
    card = SentenceTransformerModelCardData(
        language="en",
        license="apache-2.0",
        model_id="org/tiny-model",
        train_datasets=[{"name": "Pairs", "id": "org/pairs", "revision": "abcdef0123456789"}],
        tags=["custom-tag"],
    )
    card.set_training_data({"pairs": pair_dataset}, {"dev": pair_dataset}, {"pairs": wrapped_loss})
    card.set_base_model("google-bert/bert-base-uncased")
    args = TrainingArguments(output_dir=str(tmp_path / "out"), learning_rate=2e-5, num_train_epochs=1)
    state, control, callback = TrainerState(), TrainerControl(), ModelCardCallback(card)
    callback.on_train_begin(args, state, control)
    state.global_step, state.epoch = 4, 1.0
    callback.on_log(args, state, control, logs={"loss": 0.123456, "epoch": 1.0})
    metrics = {"eval_loss": 0.5, "eval_dev_spearman_cosine": 0.8123456, "eval_runtime": 0.1}
    callback.on_log(args, state, control, logs=metrics)
    callback.on_evaluate(args, state, control, metrics=metrics)
    callback.on_train_end(args, state, control)
    return card


def split_card(text):
    """(front matter as a dict, body) of a rendered card."""
    match = re.match(r"---\n(.*?\n)---\n\n(.*)", text, re.DOTALL)
    assert match, text[:200]
    return yaml.safe_load(match[1]), match[2]


def headings(body):
    """Markdown headings outside code blocks."""
    found, in_code = [], False
    for line in body.splitlines():
        in_code ^= line.lstrip().startswith("```")
        if line.startswith("#") and not in_code:
            found.append(line)
    return found


def tables(body):
    """Each Markdown table as a list of lines (indentation removed)."""
    found, current = [], []
    for line in [*body.splitlines(), ""]:
        if line.strip().startswith("|"):
            current.append(line.strip())
        elif current:
            found.append(current)
            current = []
    return found


def cell_count(line):
    return len(re.split(r"(?<!\\)\|", line)) - 2


def test_front_matter_of_a_trained_model(model, trained_card):
    meta, _ = split_card(render_model_card(model, trained_card))
    assert meta["tags"] == [
        "sentence-transformers",
        "sentence-similarity",
        "feature-extraction",
        "dense",
        "custom-tag",
        "generated_from_trainer",
        "dataset_size:5",
        "loss:WrappingLoss",
        "loss:ScoredPairLoss",
    ]
    assert meta["pipeline_tag"] == "sentence-similarity"
    assert meta["library_name"] == "sentence-transformers"
    assert meta["base_model"] == "google-bert/bert-base-uncased"
    assert (meta["language"], meta["license"], meta["datasets"]) == (["en"], "apache-2.0", ["org/pairs"])
    assert meta["widget"][0]["source_sentence"] == "Two dogs."
    assert len(meta["widget"][0]["sentences"]) == 3
    assert meta["metrics"] == ["dev_spearman_cosine"]
    (entry,) = meta["model-index"]
    assert entry["name"] == "SentenceTransformer based on google-bert/bert-base-uncased"
    (result,) = entry["results"]
    assert result["dataset"] == {"name": "dev", "type": "dev"}
    assert result["metrics"] == [
        {"type": "dev_spearman_cosine", "value": pytest.approx(0.8123456), "name": "Dev Spearman Cosine"}
    ]


def test_sections_of_a_trained_model(model, trained_card):
    _, body = split_card(render_model_card(model, trained_card))
    assert headings(body) == [
        "# SentenceTransformer based on google-bert/bert-base-uncased",
        "## Model Details",
        "### Model Description",
        "### Model Sources",
        "### Full Model Architecture",
        "## Usage",
        "### Direct Usage (Sentence Transformers)",
        "## Evaluation",
        "### Metrics",
        "## Training Details",
        "### Training Dataset",
        "#### Pairs",
        "### Evaluation Dataset",
        "#### dev",
        "### Training Hyperparameters",
        "#### Non-Default Hyperparameters",
        "#### All Hyperparameters",
        "### Training Logs",
        "### Training Time",
        "## Framework Versions",
        "## Citation",
        "### BibTeX",
        "#### Sentence Transformers",
        "#### WrappingLoss",
        "#### ScoredPairLoss",
    ]
    assert f"- **Maximum Sequence Length:** {model.max_seq_length} tokens" in body
    assert f"- **Output Dimensionality:** {model.get_sentence_embedding_dimension()} dimensions" in body
    assert "- **Similarity Function:** Cosine Similarity" in body
    base = "google-bert/bert-base-uncased"
    assert f"- **Base model:** [{base}](https://huggingface.co/{base})" in body
    assert "    - [Pairs](https://huggingface.co/datasets/org/pairs)" in body
    assert "- **Language:** en" in body and "- **License:** apache-2.0" in body
    assert f"```\n{model!r}\n```" in body
    assert "* Dataset: [Pairs](https://huggingface.co/datasets/org/pairs) at [abcdef0]" in body
    assert "* Size: 5 training samples" in body and "* Size: 5 evaluation samples" in body
    assert "* Approximate statistics based on the first 5 samples:" in body


def test_usage_snippet_is_valid_python(model, trained_card):
    _, body = split_card(render_model_card(model, trained_card))
    snippet = re.search(r"```python\n(.*?)\n```", body, re.DOTALL)[1]
    compile(snippet, "<snippet>", "exec")
    assert snippet.startswith("from sentence_transformers import SentenceTransformer")
    assert 'model = SentenceTransformer("org/tiny-model")' in snippet
    assert "    'Two dogs.'," in snippet
    assert f"# [3, {model.get_sentence_embedding_dimension()}]" in snippet
    assert "similarities = model.similarity(embeddings, embeddings)" in snippet


def test_loss_config_hyperparameters_logs_and_versions(model, trained_card, wrapped_loss):
    _, body = split_card(render_model_card(model, trained_card))
    configs = re.findall(r"\* Loss: (.*?) with these parameters:\n(  ```json\n.*?\n  ```)", body, re.DOTALL)
    assert len(configs) == 2  # training and evaluation dataset
    name, block = configs[0]
    assert name == "<code>conftest.WrappingLoss</code>"
    assert json.loads(dedent(block).strip("`\njson")) == wrapped_loss.get_config_dict()
    assert "#### Non-Default Hyperparameters\n\n- `num_train_epochs`: 1\n- `learning_rate`: 2e-05\n\n" in body
    assert "<details><summary>Click to expand</summary>\n\n- `per_device_train_batch_size`: 8" in body
    logs = next(table for table in tables(body) if table[0].startswith("| Epoch"))
    assert logs == [
        "| Epoch | Step | Training Loss | Validation Loss | dev_spearman_cosine |",
        "|:--|:--|:--|:--|:--|",
        "| 1.0 | 4 | 0.1235 | 0.5 | 0.8123 |",
    ]
    assert "| dev_spearman_cosine | 0.8123 |" in body
    assert "- **Training**: " in body and "- **Evaluation**: 0.1 seconds" in body
    for label, package in [("Transformers", "transformers"), ("PyTorch", "torch"), ("Tokenizers", "tokenizers")]:
        assert f"- {label}: {version(package)}" in body
    assert f"- embedforge: {version('embedforge')}" in body
    assert SBERT_CITATION in body
    assert "@misc{scored-pair-2024," in body


def test_every_table_is_rectangular(model, trained_card):
    _, body = split_card(render_model_card(model, trained_card))
    found = tables(body)
    assert len(found) == 6  # metrics; statistics and samples of both datasets; logs
    for table in found:
        assert {cell_count(line) for line in table} == {cell_count(table[0])}, table
    samples = next(table for table in found if table[0] == "| sentence_A | sentence_B | score | label | vector |")
    assert samples[3].startswith("| <code>A woman is eating food<br>outside \\| near the house.</code> |")


def test_card_of_an_untrained_model(model):
    text = render_model_card(model, SentenceTransformerModelCardData())
    meta, body = split_card(text)
    assert meta == {
        "tags": ["sentence-transformers", "sentence-similarity", "feature-extraction", "dense"],
        "pipeline_tag": "sentence-similarity",
        "library_name": "sentence-transformers",
    }
    assert headings(body)[0] == "# SentenceTransformer"
    for absent in ("## Training Details", "## Evaluation", "### Training Logs", "Hyperparameters", "generated_from"):
        assert absent not in body
    assert "## Framework Versions" in body and "## Citation" in body
    assert "    'The weather is lovely today.'," in body
    assert 'model = SentenceTransformer("sentence_transformers_model_id")' in body
    assert body.startswith("# SentenceTransformer\n\nThis is a [sentence-transformers](https://www.SBERT.net) model. ")
    assert text.endswith("```\n")


def test_name_similarity_and_languages(model):
    model.similarity_fn_name = "dot"
    card = SentenceTransformerModelCardData(model_name="My Model", language=["en", "de"])
    meta, body = split_card(render_model_card(model, card))
    assert headings(body)[0] == "# My Model"
    assert "- **Similarity Function:** Dot Product" in body
    assert "- **Languages:** en, de" in body
    assert meta["language"] == ["en", "de"]


def test_widget_examples_can_be_turned_off(model, pair_dataset, pair_loss):
    card = SentenceTransformerModelCardData(generate_widget_examples=False)
    card.set_training_data({"": pair_dataset}, None, {"": pair_loss})
    meta, body = split_card(render_model_card(model, card))
    assert "widget" not in meta
    assert "    'The weather is lovely today.'," in body
    assert "#### Unnamed Dataset" in body
    assert "generated_from_trainer" not in meta["tags"]  # data set, training not finished
    assert "dataset_size:5" in meta["tags"]


def test_many_datasets_and_long_logs_are_folded(model, pair_dataset, pair_loss):
    card = SentenceTransformerModelCardData()
    names = ["a", "b", "c", "d"]
    card.set_training_data(dict.fromkeys(names, pair_dataset), None, {"": pair_loss})
    for step in range(1, 102):
        card.add_log({"Epoch": step / 101, "Step": step, "Training Loss": 1.0 / step})
    _, body = split_card(render_model_card(model, card))
    assert "on the 4 datasets" not in body
    assert "on the [a" not in body
    assert "model trained on the a, b, c, and d datasets." in body
    for name in names:
        assert f"<details><summary>{name}</summary>\n\n#### {name}" in body
    assert "### Training Logs\n\n<details><summary>Click to expand</summary>\n\n| Epoch |" in body
