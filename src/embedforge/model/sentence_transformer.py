"""SentenceTransformer: a pipeline of modules that maps texts to fixed-size embeddings."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from torch import Tensor, nn

from embedforge.model import legacy_collate
from embedforge.model.base import BaseModel
from embedforge.model.encode_options import OutputValue, Precision
from embedforge.model.loading import SIMILARITY_FN_NAMES, check_similarity_fn_name, require_checkpoint
from embedforge.model_card.data import SentenceTransformerModelCardData
from embedforge.models.base import Features, LoadContext, Module

if TYPE_CHECKING:
    from embedforge.model.multi_process import MultiProcessPool

logger = logging.getLogger(__name__)


class SentenceTransformer(BaseModel):
    """Maps sentences to embeddings with a pipeline of modules (e.g. Transformer → Pooling → Normalize).

    Args:
        model_name_or_path: A sentence-transformers folder (``modules.json``), a plain transformers checkpoint
            (loaded as Transformer + mean Pooling), or a Hugging Face Hub id (downloaded when online).
        modules: Build the model from these modules instead of loading one.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``…; default: the best available.
        prompts: Named prompts, e.g. ``{"query": "query: "}``; merged over the saved ones.
        default_prompt_name: Prompt applied by ``encode`` when none is given.
        similarity_fn_name: ``"cosine"``, ``"dot"``, ``"euclidean"`` or ``"manhattan"``.
        cache_folder: Hugging Face cache folder.
        trust_remote_code: Allow code shipped with the model to run.
        revision: Hub revision.
        local_files_only: Never reach the network.
        token: Hub token.
        use_auth_token: Deprecated name of ``token``.
        truncate_dim: Keep only the first dimensions of every embedding (Matryoshka models).
        model_kwargs: Keyword arguments for ``AutoModel.from_pretrained`` (e.g. ``torch_dtype``); with an
            ONNX/OpenVINO backend also ``file_name``, ``subfolder``, ``export``, ``provider``, ``ov_config``.
        tokenizer_kwargs: Keyword arguments for ``AutoTokenizer.from_pretrained``.
        config_kwargs: Keyword arguments for ``AutoConfig.from_pretrained``.
        model_card_data: Model card metadata, kept for the card written at save time.
        backend: ``"torch"`` (default), ``"onnx"`` or ``"openvino"`` (inference only; see :mod:`embedforge.backend`).
        processor_kwargs: sentence-transformers 6 name of ``tokenizer_kwargs``.

    Example:
        >>> model = SentenceTransformer("path/to/all-MiniLM-L6-v2")  # doctest: +SKIP
        >>> embeddings = model.encode(["A man plays guitar.", "Someone plays music."])  # doctest: +SKIP
        >>> model.similarity(embeddings, embeddings).shape  # doctest: +SKIP
        torch.Size([2, 2])
    """

    model_type: ClassVar[str] = "SentenceTransformer"
    model_card_data_class: ClassVar[type] = SentenceTransformerModelCardData
    default_huggingface_organization: ClassVar[str | None] = "sentence-transformers"
    SUPPORTED_SIMILARITY_FN_NAMES: ClassVar[tuple[str, ...]] = SIMILARITY_FN_NAMES

    def __init__(
        self,
        model_name_or_path: str | Path | None = None,
        modules: Iterable[nn.Module] | None = None,
        device: str | None = None,
        *,
        prompts: dict[str, str] | None = None,
        default_prompt_name: str | None = None,
        similarity_fn_name: str | None = None,
        cache_folder: str | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
        local_files_only: bool = False,
        token: bool | str | None = None,
        use_auth_token: bool | str | None = None,
        truncate_dim: int | None = None,
        model_kwargs: dict[str, Any] | None = None,
        tokenizer_kwargs: dict[str, Any] | None = None,
        config_kwargs: dict[str, Any] | None = None,
        model_card_data: SentenceTransformerModelCardData | None = None,
        backend: str = "torch",
        processor_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self._similarity_fn_name: str | None = similarity_fn_name
        self.truncate_dim = truncate_dim
        super().__init__(
            model_name_or_path,
            modules,
            device,
            prompts=prompts,
            default_prompt_name=default_prompt_name,
            context=LoadContext(
                trust_remote_code=trust_remote_code,
                model_kwargs=dict(model_kwargs or {}),
                tokenizer_kwargs={**(tokenizer_kwargs or {}), **(processor_kwargs or {})},
                config_kwargs=dict(config_kwargs or {}),
                backend=backend,
                cache_folder=cache_folder,
                revision=revision,
                token=token if token is not None else use_auth_token,
                local_files_only=local_files_only,
            ),
            model_card_data=model_card_data or self.model_card_data_class(),
        )

    # ------------------------------------------------------------ family hooks
    @classmethod
    def default_modules(cls, folder: Path, context: LoadContext) -> list[Module]:
        """Transformer + mean Pooling on a plain transformers checkpoint (or another family's folder).

        A dual-encoder image–text checkpoint (CLIP, SigLIP…) becomes one :class:`CLIPModel` (its methods return the
        embeddings; no pooling).
        """
        from embedforge.models.base import read_json
        from embedforge.models.clip_model import CLIPModel
        from embedforge.models.modality import DUAL_ENCODER_MODALITY_CONFIGS
        from embedforge.models.pooling import Pooling
        from embedforge.models.transformer import Transformer

        require_checkpoint(folder)
        config_file = folder / "config.json"
        model_type = read_json(config_file).get("model_type") if config_file.is_file() else None
        if model_type in DUAL_ENCODER_MODALITY_CONFIGS:
            return [CLIPModel.load_folder(folder, context)]
        logger.warning("No sentence-transformers model found in %s; creating one with mean pooling.", folder)
        transformer = Transformer.from_checkpoint(folder, context, "feature-extraction")
        return [transformer, Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")]

    def family_settings(self) -> dict[str, Any]:
        """``similarity_fn_name``."""
        return {"similarity_fn_name": self.similarity_fn_name}

    def apply_settings(self, settings: dict[str, Any]) -> None:
        """Take the saved ``similarity_fn_name`` unless one was passed to the constructor."""
        self.similarity_fn_name = self._similarity_fn_name or settings.get("similarity_fn_name")

    def run_chunk(self, inputs: list[Any], options: Any) -> Any:
        """Embed a chunk of texts in this process (what a pool worker does)."""
        from embedforge.model.encoding import embed_texts

        return embed_texts(self, inputs, options)

    # -------------------------------------------------------------- properties
    @property
    def similarity_fn_name(self) -> str:
        """Name of the similarity used by :meth:`similarity` (``"cosine"`` unless set)."""
        if self._similarity_fn_name is None:
            self._similarity_fn_name = "cosine"
        return self._similarity_fn_name

    @similarity_fn_name.setter
    def similarity_fn_name(self, value: str | Enum | None) -> None:
        self._similarity_fn_name = check_similarity_fn_name(value)

    def get_sentence_embedding_dimension(self) -> int | None:
        """Size of the embeddings ``encode`` returns (after ``truncate_dim``), or None if unknown."""
        for module in reversed(self):
            dimension = module.get_sentence_embedding_dimension() if isinstance(module, Module) else None
            if dimension is not None:
                return min(dimension, self.truncate_dim) if self.truncate_dim else dimension
        return None

    get_embedding_dimension = get_sentence_embedding_dimension

    def encode(
        self,
        sentences: str | Sequence[str] | None = None,
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        output_value: OutputValue = "sentence_embedding",
        precision: Precision = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: str | list[str] | None = None,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        pool: MultiProcessPool | None = None,
        chunk_size: int | None = None,
        **kwargs: Any,
    ) -> np.ndarray | Tensor | list[Any]:
        """Embed sentences.

        Args:
            sentences: One text or a list of texts (``inputs=`` is accepted as the ST 6 name).
            prompt_name: Key of ``self.prompts`` to prepend.
            prompt: Prompt text to prepend (wins over ``prompt_name``).
            batch_size: Texts per forward pass.
            show_progress_bar: Show a progress bar; default when logging is at INFO or DEBUG.
            output_value: ``"sentence_embedding"``, ``"token_embeddings"`` or None for all outputs.
            precision: ``"float32"``, ``"int8"``, ``"uint8"``, ``"binary"`` or ``"ubinary"``.
            convert_to_numpy: Return a numpy array ``(n, dim)``.
            convert_to_tensor: Return one tensor ``(n, dim)`` (wins over ``convert_to_numpy``).
            device: Device to run on; a list of devices encodes with a temporary multi-process pool.
            normalize_embeddings: L2-normalize (after truncation).
            truncate_dim: Keep the first dimensions; default ``self.truncate_dim``.
            pool: A pool from :meth:`start_multi_process_pool` to encode with.
            chunk_size: Texts per task sent to the pool.
            **kwargs: ``inputs`` (the ST 6 name of ``sentences``), ``task`` (for routing modules), and any keyword
                argument that a module declares in its ``forward_kwargs`` (see :meth:`get_model_kwargs`): it is
                passed to that module's forward (and, for the first module, to its tokenization).

        Returns:
            ``(n, dim)`` embeddings (a single text gives ``(dim,)``), or lists for other ``output_value``.
        """
        from embedforge.model.encode_options import EncodeOptions
        from embedforge.model.encoding import encode

        if sentences is None:
            sentences = kwargs.pop("inputs", None)
        task = kwargs.pop("task", None)
        call = {
            "prompt_name": prompt_name,
            "prompt": prompt,
            "batch_size": batch_size,
            "show_progress_bar": show_progress_bar,
            "output_value": output_value,
            "precision": precision,
            "convert_to_numpy": convert_to_numpy,
            "convert_to_tensor": convert_to_tensor,
            "device": device,
            "normalize_embeddings": normalize_embeddings,
            "truncate_dim": truncate_dim,
            "task": task,
            "module_kwargs": kwargs,
        }
        options = EncodeOptions.from_call(self, call)
        devices = device if isinstance(device, list) else None
        return encode(self, sentences, options, pool=pool, devices=devices, chunk_size=chunk_size)

    def encode_multi_process(
        self,
        sentences: list[str],
        pool: MultiProcessPool,
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        chunk_size: int | None = None,
        show_progress_bar: bool | None = None,
        precision: Precision = "float32",
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
    ) -> np.ndarray:
        """Deprecated: call :meth:`encode` with ``pool=`` instead; this warns and does exactly that.

        Returns:
            ``(n, dim)`` sentence embeddings as a numpy array.
        """
        warnings.warn(
            "SentenceTransformer.encode_multi_process is deprecated; call encode(sentences, pool=pool, ...) with "
            "the same arguments instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.encode(
            sentences,
            prompt_name=prompt_name,
            prompt=prompt,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            precision=precision,
            normalize_embeddings=normalize_embeddings,
            truncate_dim=truncate_dim,
            pool=pool,
            chunk_size=chunk_size,
        )

    smart_batching_collate = legacy_collate.sentence_batch
    """Legacy ``fit`` collate function: ``(features per text column, labels)`` for a batch of InputExamples."""

    def get_sentence_features(self, *features: Any) -> Features:
        """Legacy helper: the first module's ``get_sentence_features`` (e.g. :class:`~embedforge.models.BoW`'s).

        Raises:
            TypeError: If the first module has no ``get_sentence_features``.
        """
        method = getattr(self[0], "get_sentence_features", None)
        if method is None:
            raise TypeError(
                f"get_sentence_features calls the first module's method of that name, but "
                f"{type(self[0]).__name__} has none (only legacy modules such as BoW do). Use model.tokenize and "
                "model.forward instead."
            )
        return method(*features)

    def encode_query(
        self, sentences: str | Sequence[str] | None = None, **kwargs: Any
    ) -> np.ndarray | Tensor | list[Any]:
        """Encode search queries: the ``"query"`` prompt if the model has one, and ``task="query"``."""
        return self._encode_role("query", sentences, kwargs)

    def encode_document(
        self, sentences: str | Sequence[str] | None = None, **kwargs: Any
    ) -> np.ndarray | Tensor | list[Any]:
        """Encode documents: the ``"document"`` (else ``"passage"``/``"corpus"``) prompt if any, and ``task``."""
        return self._encode_role("document", sentences, kwargs)

    def _encode_role(self, task: str, sentences: Any, kwargs: dict[str, Any]) -> np.ndarray | Tensor | list[Any]:
        return self.encode(sentences, **self.role_encode_kwargs(task, kwargs))

    def role_encode_kwargs(self, task: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The ``encode`` options that ``encode_query`` (``task="query"``) or ``encode_document`` pass on.

        Without an explicit ``prompt``/``prompt_name``, the role's prompt is added if the model has one
        (``"query"``; ``"document"``, else ``"passage"``, else ``"corpus"``), and ``task`` defaults to the role.

        Args:
            task: ``"query"`` or ``"document"``.
            kwargs: The caller's options (not modified).

        Returns:
            A new dict of ``encode`` keyword arguments.
        """
        kwargs = dict(kwargs)
        names = (task,) if task == "query" else ("document", "passage", "corpus")
        if kwargs.get("prompt_name") is None and kwargs.get("prompt") is None:
            prompt_name = next((name for name in names if name in self.prompts), None)
            if prompt_name is not None:
                kwargs["prompt_name"] = prompt_name
        kwargs.setdefault("task", task)
        return kwargs

    # ------------------------------------------------------------- similarity
    def similarity(self, embeddings1: Tensor | np.ndarray, embeddings2: Tensor | np.ndarray) -> Tensor:
        """All-pairs similarity ``(n1, n2)`` with ``similarity_fn_name``."""
        from embedforge.similarity_functions import SimilarityFunction

        return SimilarityFunction.to_similarity_fn(self.similarity_fn_name)(embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1: Tensor | np.ndarray, embeddings2: Tensor | np.ndarray) -> Tensor:
        """Row-wise similarity ``(n,)`` of two equally long embedding matrices."""
        from embedforge.similarity_functions import SimilarityFunction

        return SimilarityFunction.to_similarity_pairwise_fn(self.similarity_fn_name)(embeddings1, embeddings2)

    @contextmanager
    def truncate_sentence_embeddings(self, truncate_dim: int | None) -> Iterator[None]:
        """Within the ``with`` block, embeddings are truncated to ``truncate_dim``."""
        original, self.truncate_dim = self.truncate_dim, truncate_dim
        try:
            yield
        finally:
            self.truncate_dim = original

    truncate_embeddings = truncate_sentence_embeddings

    def set_pooling_include_prompt(self, include_prompt: bool) -> None:
        """Set ``include_prompt`` on the first Pooling module."""
        from embedforge.models.pooling import Pooling

        for module in self:
            if isinstance(module, Pooling):
                module.include_prompt = include_prompt
                return

    def fit(self, train_objectives: Sequence[tuple[Any, nn.Module]], *args: Any, **kwargs: Any) -> None:
        """The pre-v3 training API; runs :class:`~embedforge.SentenceTransformerTrainer` underneath.

        See :func:`embedforge.training.fit.fit` for the arguments (``evaluator``, ``epochs``, ``warmup_steps``…).
        """
        from embedforge.training.fit import fit

        fit(self, train_objectives, *args, **kwargs)


__all__ = ["SentenceTransformer"]
