"""The tasks a :class:`~embedforge.models.transformer.Transformer` module can run, written down as data.

sentence-transformers 6.2 records the task of a saved Transformer in ``sentence_bert_config.json``
(``transformer_task``, ``modality_config``, ``module_output_name``). Each task names the transformers auto class
that loads the checkpoint, the field of the model output it reads, and the features key it writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TransformerTask:
    """One task of the Transformer module.

    Attributes:
        name: The ``transformer_task`` value in ``sentence_bert_config.json``.
        auto_class: The transformers auto class that loads the checkpoint for this task.
        method_output_name: The field of the transformers model output that is read.
        module_output_name: The features key the module writes (``token_embeddings`` or ``scores``).
        used_by: The model family that builds this task by default.
        unpad_in_eval: Whether eval-mode forwards also run on the real tokens only (where the module's ``unpad``
            allows): cross-encoder scoring, whose pairs vary in length within a batch even when sorted.
    """

    name: str
    auto_class: str
    method_output_name: str
    module_output_name: str
    used_by: str
    unpad_in_eval: bool = False

    def saved_config(self) -> dict[str, Any]:
        """The task's keys of ``sentence_bert_config.json``, as sentence-transformers 6.2 writes them."""
        return {
            "transformer_task": self.name,
            "modality_config": {"text": {"method": "forward", "method_output_name": self.method_output_name}},
            "module_output_name": self.module_output_name,
        }


TRANSFORMER_TASKS: dict[str, TransformerTask] = {
    task.name: task
    for task in (
        TransformerTask(
            "feature-extraction", "AutoModel", "last_hidden_state", "token_embeddings", "SentenceTransformer"
        ),
        TransformerTask(
            "sequence-classification",
            "AutoModelForSequenceClassification",
            "logits",
            "scores",
            "CrossEncoder",
            unpad_in_eval=True,
        ),
    )
}
"""The tasks embedforge implements. sentence-transformers 6.2 also knows ``text-generation`` (causal-LM
rerankers), ``fill-mask`` (sparse encoders), ``retrieval`` (multi-vector) and ``any-to-any``; loading such a folder
fails with an error that names the task."""


def transformer_task(name: str) -> TransformerTask:
    """The task called ``name``.

    Raises:
        ValueError: For a task embedforge does not implement, naming the ones it does.
    """
    task = TRANSFORMER_TASKS.get(name)
    if task is None:
        raise ValueError(
            f"Transformer expects transformer_task in {sorted(TRANSFORMER_TASKS)}, got {name!r}. Models for other "
            "tasks (causal-LM rerankers, sparse or multi-vector encoders) are not implemented in embedforge."
        )
    return task
