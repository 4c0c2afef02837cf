"""CrossEncoder: reads a text pair jointly and scores it (relevance, similarity or class logits)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from embedforge.cross_encoder import activation as activations
from embedforge.cross_encoder.legacy import PREDICT_DROPPED, RANK_DROPPED, init_arguments, predict_arguments
from embedforge.cross_encoder.model_card import CrossEncoderModelCardData
from embedforge.model import legacy_collate
from embedforge.model.base import BaseModel
from embedforge.model.loading import require_checkpoint
from embedforge.models.base import LoadContext, Module

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel

    from embedforge.model.multi_process import MultiProcessPool

logger = logging.getLogger(__name__)

PairInput = Sequence[str]
"""One (query, document) pair: a 2-list or 2-tuple of texts."""


class CrossEncoder(BaseModel):
    """Scores text pairs with one transformer pass over both texts (a reranker or a pair classifier).

    Unlike a :class:`~embedforge.SentenceTransformer`, it gives no embeddings: both texts of a pair attend to each
    other, which makes it more accurate for reranking and pair scoring, and slower for large collections (use a
    bi-encoder to retrieve, then a cross-encoder to re-rank).

    Args:
        model_name_or_path: A cross-encoder folder (sentence-transformers 6 format, or an older one whose
            ``config.json`` holds the activation), a plain ``*ForSequenceClassification`` checkpoint, a bi-encoder
            folder or any encoder checkpoint (its backbone gets a fresh classification head), or a Hub id.
        modules: Build the model from these modules instead (a ``Transformer`` with
            ``transformer_task="sequence-classification"``).
        device: ``"cpu"``, ``"cuda"``…; default: the best available.
        prompts: Named prompts, prepended to the query (first text) of every pair.
        default_prompt_name: Prompt applied when none is given.
        cache_folder: Hugging Face cache folder.
        trust_remote_code: Allow code shipped with the model to run.
        revision: Hub revision.
        local_files_only: Never reach the network.
        token: Hub token.
        model_kwargs: Keyword arguments for ``from_pretrained`` (e.g. ``torch_dtype``); with an ONNX/OpenVINO
            backend also ``file_name``, ``subfolder``, ``export``, ``provider``, ``ov_config``.
        processor_kwargs: Keyword arguments for ``AutoTokenizer.from_pretrained``.
        config_kwargs: Keyword arguments for ``AutoConfig.from_pretrained`` (e.g. ``classifier_dropout``).
        model_card_data: Model card metadata.
        backend: ``"torch"`` (default), ``"onnx"`` or ``"openvino"`` (inference only; see :mod:`embedforge.backend`).
        num_labels: Outputs of the classification head: 1 for a score (reranking, similarity), more for classes.
        max_length: Longest pair in tokens (both texts); longer pairs are truncated, longest text first.
        activation_fn: Applied to the logits by :meth:`predict`; default: the saved one, else ``Sigmoid`` for one
            label and ``Identity`` otherwise.
        keep_in_fp32_modules: Paths of linear layers that compute in float32 even under autocast (experimental);
            None keeps the saved selection, ``[]`` clears it.

    Older call forms of sentence-transformers (positional ``num_labels, max_length, activation_fn, device``;
    ``model_name``, ``tokenizer_args``, ``automodel_args``, ``default_activation_function``, ``classifier_dropout``…)
    are accepted with a warning.

    Example:
        >>> model = CrossEncoder("path/to/reranker")  # doctest: +SKIP
        >>> model.predict([("How many people live in Berlin?", "Berlin has 3.5 million people.")])  # doctest: +SKIP
        array([0.98], dtype=float32)
        >>> model.rank("How many people live in Berlin?", ["Berlin has 3.5 million people.", "Paris is big."])
        ... # doctest: +SKIP
        [{'corpus_id': 0, 'score': 0.98}, {'corpus_id': 1, 'score': 0.01}]
    """

    model_type: ClassVar[str] = "CrossEncoder"
    model_card_data_class: ClassVar[type] = CrossEncoderModelCardData
    default_huggingface_organization: ClassVar[str | None] = "cross-encoder"

    @init_arguments
    def __init__(
        self,
        model_name_or_path: str | Path | None = None,
        *,
        modules: Iterable[nn.Module] | None = None,
        device: str | None = None,
        prompts: dict[str, str] | None = None,
        default_prompt_name: str | None = None,
        cache_folder: str | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
        local_files_only: bool = False,
        token: bool | str | None = None,
        model_kwargs: dict[str, Any] | None = None,
        processor_kwargs: dict[str, Any] | None = None,
        config_kwargs: dict[str, Any] | None = None,
        model_card_data: CrossEncoderModelCardData | None = None,
        backend: str = "torch",
        num_labels: int | None = None,
        max_length: int | None = None,
        activation_fn: Callable[[Tensor], Tensor] | None = None,
        keep_in_fp32_modules: list[str] | None = None,
    ) -> None:
        self.activation_fn = activation_fn
        self.keep_in_fp32_modules = keep_in_fp32_modules
        config_kwargs = {**(config_kwargs or {}), **({"num_labels": num_labels} if num_labels is not None else {})}
        processor_kwargs = {
            **(processor_kwargs or {}),
            **({"model_max_length": max_length} if max_length is not None else {}),
        }
        super().__init__(
            model_name_or_path,
            modules,
            device,
            prompts=prompts,
            default_prompt_name=default_prompt_name,
            context=LoadContext(
                trust_remote_code=trust_remote_code,
                model_kwargs=dict(model_kwargs or {}),
                tokenizer_kwargs=processor_kwargs,
                config_kwargs=config_kwargs,
                backend=backend,
                cache_folder=cache_folder,
                revision=revision,
                token=token,
                local_files_only=local_files_only,
            ),
            model_card_data=model_card_data or self.model_card_data_class(),
        )

    def __setattr__(self, name: str, value: Any) -> None:
        # The activation is a setting, not a submodule: it must not be saved as a module of the pipeline.
        if name == "activation_fn":
            object.__setattr__(self, name, value)
            return
        super().__setattr__(name, value)

    # ------------------------------------------------------------ family hooks
    @classmethod
    def default_modules(cls, folder: Path, context: LoadContext) -> list[Module]:
        """A ``Transformer`` for sequence classification on the checkpoint (a fresh 1-label head if it has none)."""
        from embedforge.models.transformer import Transformer

        require_checkpoint(folder)
        return [Transformer.from_checkpoint(folder, context, "sequence-classification")]

    def family_settings(self) -> dict[str, Any]:
        """``activation_fn`` (a dotted class name) and ``keep_in_fp32_modules`` when set."""
        return {
            "activation_fn": activations.activation_name(self.activation_fn),
            "keep_in_fp32_modules": list(self.keep_in_fp32_modules or []),
        }

    def apply_settings(self, settings: dict[str, Any]) -> None:
        """Explicit arguments win; then the saved settings; then a v3-v5 ``config.json``; then the defaults."""
        if self.keep_in_fp32_modules is None:
            self.keep_in_fp32_modules = settings.get("keep_in_fp32_modules")
        if self.activation_fn is None:
            saved = settings.get("activation_fn")
            if saved is None and self.transformers_model is not None:
                saved = activations.legacy_activation_name(self.config)
            self.activation_fn = activations.activation_from_name(saved)
        if self.activation_fn is None:
            self.activation_fn = activations.default_activation(self.num_labels)
        self.set_keep_in_fp32_modules(list(self.keep_in_fp32_modules or []))

    def run_chunk(self, inputs: list[Any], options: Any) -> Any:
        """Score a chunk of pairs in this process (what a pool worker does)."""
        from embedforge.cross_encoder.predict import score_pairs

        return score_pairs(self, inputs, options)

    # -------------------------------------------------------------- properties
    @property
    def num_labels(self) -> int:
        """Outputs of the classification head (1 for a score)."""
        model = self.transformers_model
        return int(model.config.num_labels) if model is not None else 1

    @property
    def model(self) -> PreTrainedModel | None:
        """The transformers model (sentence-transformers' name)."""
        return self.transformers_model

    @property
    def config(self) -> PretrainedConfig:
        """The transformers config of the model."""
        model = self.transformers_model
        if model is None:
            raise AttributeError("This CrossEncoder has no Transformer module, hence no transformers config.")
        return model.config

    @property
    def max_length(self) -> int | None:
        """Deprecated name of ``max_seq_length``."""
        return self.max_seq_length

    @max_length.setter
    def max_length(self, value: int | None) -> None:
        self.max_seq_length = value

    @property
    def default_activation_function(self) -> Callable[[Tensor], Tensor] | None:
        """Deprecated name of ``activation_fn``."""
        return self.activation_fn

    def get_default_activation_fn(self) -> nn.Module:
        """The activation used when neither the caller nor the folder names one."""
        return activations.default_activation(self.num_labels)

    def set_keep_in_fp32_modules(self, module_names: list[str]) -> None:
        """Make the linear layers at ``module_names`` compute in float32 under autocast (replaces the selection).

        Args:
            module_names: Paths from ``named_modules()``, e.g. ``"0.auto_model.classifier"``; ``[]`` clears.
        """
        from embedforge.cross_encoder.fp32_linear import select_float32_linears

        if module_names and self.backend != "torch":
            raise ValueError("keep_in_fp32_modules needs backend='torch'.")
        previous = [name for name in (self.__dict__.get("_fp32_selected") or [])]
        self._fp32_selected = select_float32_linears(self, module_names, previous)
        self.keep_in_fp32_modules = list(self._fp32_selected)

    # ----------------------------------------------------------------- scoring
    @staticmethod
    def is_singular_input(inputs: Any) -> bool:
        """True if ``inputs`` is one pair rather than a list of pairs."""
        from embedforge.cross_encoder.inputs import is_single_pair

        return is_single_pair(inputs)

    # legacy fit collate functions: InputExamples → (pair features, labels); unlabeled pairs → pair features
    smart_batching_collate = legacy_collate.pair_batch
    smart_batching_collate_text_only = legacy_collate.pair_batch_text_only

    @torch.inference_mode()
    @predict_arguments(PREDICT_DROPPED)
    def predict(
        self,
        inputs: Sequence[PairInput] | PairInput,
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        activation_fn: Callable[[Tensor], Tensor] | None = None,
        apply_softmax: bool | None = False,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: str | list[str] | None = None,
        pool: MultiProcessPool | None = None,
        chunk_size: int | None = None,
        **kwargs: Any,
    ) -> list[Tensor] | np.ndarray | Tensor:
        """Score pairs (or one pair).

        Pairs are tokenized once, sorted by token count and batched, so batches carry almost no padding; scores
        come back in input order.

        Args:
            inputs: A list of ``(query, document)`` pairs, or one pair.
            prompt_name: Key of ``self.prompts`` prepended to each query.
            prompt: Prompt text prepended to each query (wins over ``prompt_name``).
            batch_size: Pairs per forward pass.
            show_progress_bar: Show a progress bar; default when logging is at INFO or DEBUG.
            activation_fn: Applied to the logits instead of ``self.activation_fn``.
            apply_softmax: Softmax over classes (models with several labels; no effect with one).
            convert_to_numpy: Return a float32 array (else a list of tensors).
            convert_to_tensor: Return one tensor (wins over ``convert_to_numpy``).
            device: Device to run on; a list of devices scores with a temporary multi-process pool.
            pool: A pool from :meth:`start_multi_process_pool` to score with.
            chunk_size: Pairs per task sent to the pool.
            **kwargs: ``task`` (for models with a Router), and keyword arguments that modules declare in their
                ``forward_kwargs`` (passed to them, as ``encode`` does).

        Returns:
            ``(n,)`` scores for one label, else ``(n, num_labels)``; one pair gives a scalar (or ``(num_labels,)``).
        """
        from embedforge.cross_encoder.inputs import as_pair_list
        from embedforge.cross_encoder.predict import PredictOptions
        from embedforge.model.encode_options import check_module_kwargs

        task = kwargs.pop("task", None)
        check_module_kwargs(self, kwargs, "predict")
        if batch_size < 1:
            raise ValueError(f"predict expects batch_size >= 1, got {batch_size}.")
        single, pairs = as_pair_list(inputs)
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG)
        options = PredictOptions(
            batch_size=batch_size,
            prompt=self.resolve_prompt(prompt_name, prompt),
            activation_fn=activation_fn if activation_fn is not None else self.activation_fn,
            apply_softmax=bool(apply_softmax),
            device=torch.device(device) if isinstance(device, (str, torch.device)) else None,
            show_progress_bar=show_progress_bar,
            task=task,
            module_kwargs=kwargs,
        )
        scores = self.run_distributed(pairs, options, pool, device if isinstance(device, list) else None, chunk_size)
        return _convert(scores, convert_to_numpy, convert_to_tensor, single)

    @predict_arguments(PREDICT_DROPPED + RANK_DROPPED)
    def rank(
        self,
        query: str,
        documents: Sequence[str],
        top_k: int | None = None,
        return_documents: bool = False,
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        activation_fn: Callable[[Tensor], Tensor] | None = None,
        device: str | list[str] | None = None,
        pool: MultiProcessPool | None = None,
        chunk_size: int | None = None,
    ) -> list[dict[str, Any]]:
        """Score ``documents`` against ``query`` and return them best first.

        Args:
            query: The query.
            documents: The candidate documents.
            top_k: Return only the best ``top_k``; None returns all.
            return_documents: Add each document's ``text``.
            prompt_name: See :meth:`predict`.
            prompt: See :meth:`predict`.
            batch_size: See :meth:`predict`.
            show_progress_bar: See :meth:`predict`.
            activation_fn: See :meth:`predict`.
            device: See :meth:`predict`.
            pool: See :meth:`predict`.
            chunk_size: See :meth:`predict`.

        Returns:
            ``[{"corpus_id": index in documents, "score": float (, "text": document)}, ...]`` by falling score.

        Raises:
            ValueError: If the model has more than one label (there is no single score to rank by).
        """
        if self.num_labels != 1:
            raise ValueError(
                f"CrossEncoder.rank needs a model with num_labels=1 (one relevance score per pair); this model has "
                f"{self.num_labels} labels. Use predict() on the (query, document) pairs instead."
            )
        scores = self.predict(
            [[query, document] for document in documents],
            prompt_name=prompt_name,
            prompt=prompt,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            activation_fn=activation_fn,
            convert_to_tensor=True,
            device=device,
            pool=pool,
            chunk_size=chunk_size,
        ).tolist()
        results = [{"corpus_id": index, "score": score} for index, score in enumerate(scores)]
        if return_documents:
            for result in results:
                result["text"] = documents[result["corpus_id"]]
        results.sort(key=lambda result: result["score"], reverse=True)
        return results[:top_k]

    # ---------------------------------------------------------------- training
    def fit(self, train_dataloader: Any, *args: Any, **kwargs: Any) -> None:
        """The pre-v4 training API (``InputExample`` data loader); runs :class:`CrossEncoderTrainer` underneath.

        See :func:`embedforge.cross_encoder.fit.fit` for the arguments (``evaluator``, ``epochs``, ``loss_fct``…).
        """
        from embedforge.cross_encoder.fit import fit

        fit(self, train_dataloader, *args, **kwargs)


def _convert(scores: Tensor, convert_to_numpy: bool, convert_to_tensor: bool, single: bool) -> Any:
    if convert_to_tensor:
        result: Any = scores
    elif convert_to_numpy:
        result = scores.float().cpu().numpy() if len(scores) else np.array([])
    else:
        result = list(scores)
    return result[0] if single else result


__all__ = ["CrossEncoder"]
