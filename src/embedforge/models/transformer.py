"""Transformer: a Hugging Face ``AutoModel`` and its tokenizer as the input module of a pipeline."""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from embedforge.backend.backend_model import BackendModel
from embedforge.backend.load import load_transformer_backend
from embedforge.engine.varlen import VARLEN_KEY
from embedforge.models import adapter_io
from embedforge.models.base import Features, InputModule, LoadContext, prepend_prompt, read_json
from embedforge.models.packed_heads import packed_sequence_logits
from embedforge.models.packing import can_pack, packed_token_embeddings, packs_in_encode
from embedforge.models.transformer_tasks import transformer_task as transformer_task_of

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

    from embedforge.models.pretokenized import PreTokenized

CONFIG_FILE_NAMES: tuple[str, ...] = (
    "sentence_bert_config.json",
    "sentence_roberta_config.json",
    "sentence_distilbert_config.json",
    "sentence_camembert_config.json",
    "sentence_albert_config.json",
    "sentence_xlm-roberta_config.json",
    "sentence_xlnet_config.json",
)
_ENCODER_ONLY_CLASSES = {"t5": "T5EncoderModel", "mt5": "MT5EncoderModel", "umt5": "UMT5EncoderModel"}
BACKENDS = ("torch", "onnx", "openvino")
"""The inference backends: torch (trainable) and two exported runtimes (inference only; see embedforge.backend)."""
_MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "inputs_embeds")


class Transformer(InputModule):
    """Tokenizes texts (or text pairs) and runs a transformers model.

    With ``transformer_task="feature-extraction"`` (bi-encoders) it runs an ``AutoModel`` encoder (BERT, RoBERTa,
    MPNet, XLM-R, ModernBERT, DistilBERT, T5 encoder…) and writes ``token_embeddings`` ``(batch, seq_len, dim)``;
    with ``"sequence-classification"`` (cross-encoders) it runs an ``AutoModelForSequenceClassification`` and
    writes its logits as ``scores`` ``(batch, num_labels)``.

    Args:
        model_name_or_path: Local folder or Hugging Face Hub id of a transformers checkpoint.
        max_seq_length: Longest input in tokens; None takes the tokenizer's ``model_max_length`` capped at
            the model's ``max_position_embeddings``.
        model_args: Keyword arguments for ``AutoModel.from_pretrained`` (alias: ``model_kwargs``).
        tokenizer_args: Keyword arguments for ``AutoTokenizer.from_pretrained`` (aliases: ``tokenizer_kwargs``,
            ``processor_kwargs``).
        config_args: Keyword arguments for ``AutoConfig.from_pretrained`` (alias: ``config_kwargs``).
        cache_dir: Hugging Face cache folder.
        do_lower_case: Lowercase inputs (added to the tokenizer's normalizer) even if the tokenizer does not.
        tokenizer_name_or_path: Load the tokenizer from here instead of ``model_name_or_path``.
        backend: ``"torch"`` (default), ``"onnx"`` or ``"openvino"``: the exported runtimes run inference only;
            ``model_kwargs`` then takes sentence-transformers' backend keys (``file_name``, ``export``,
            ``provider``, ``ov_config``…), see :func:`embedforge.backend.load.load_backend_model`.
        model_kwargs: Same as ``model_args``.
        tokenizer_kwargs: Same as ``tokenizer_args``.
        processor_kwargs: Same as ``tokenizer_args`` (the sentence-transformers 6 name).
        config_kwargs: Same as ``config_args``.
        transformer_task: ``"feature-extraction"`` or ``"sequence-classification"`` (see
            :mod:`embedforge.models.transformer_tasks`).

    Attributes:
        unpad: Whether training-mode forwards of BERT-style models (BERT, RoBERTa, XLM-RoBERTa, CamemBERT, ELECTRA,
            DistilBERT, MPNet, ModernBERT) run on the real tokens only (see :mod:`embedforge.models.packing`).
            None (default) does so on CPU, where it saves 30-60 % of a training step, and on GPUs for batches whose
            collator computed their packed layout on the host (:class:`~embedforge.engine.varlen.VarlenLayout`: no
            device sync, variable-length attention); GPU batches without one stay padded (deriving the layout there
            costs a sync, BENCHMARKS.md). True or False forces the choice. Not saved with the model.
        unpad_in_eval: Whether eval-mode forwards (``predict``) run unpadded too, under the same ``unpad`` rule;
            the task's default (True for sequence classification: a cross-encoder's pairs keep some padding even in
            length-sorted batches). Not saved with the model.
    """

    config_file_name: ClassVar[str] = "sentence_bert_config.json"
    config_keys: ClassVar[tuple[str, ...]] = ("max_seq_length", "do_lower_case")

    def __init__(
        self,
        model_name_or_path: str | Path,
        max_seq_length: int | None = None,
        model_args: dict[str, Any] | None = None,
        tokenizer_args: dict[str, Any] | None = None,
        config_args: dict[str, Any] | None = None,
        cache_dir: str | None = None,
        do_lower_case: bool = False,
        tokenizer_name_or_path: str | Path | None = None,
        backend: str = "torch",
        *,
        model_kwargs: dict[str, Any] | None = None,
        tokenizer_kwargs: dict[str, Any] | None = None,
        processor_kwargs: dict[str, Any] | None = None,
        config_kwargs: dict[str, Any] | None = None,
        transformer_task: str = "feature-extraction",
    ) -> None:
        super().__init__()
        self.task = transformer_task_of(transformer_task)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
        hub = {"cache_dir": cache_dir} if cache_dir else {}
        model_kwargs = {**hub, **(model_args or {}), **(model_kwargs or {})}
        tokenizer_kwargs = {**hub, **(tokenizer_args or {}), **(tokenizer_kwargs or {}), **(processor_kwargs or {})}
        config_kwargs = {**hub, **(config_args or {}), **(config_kwargs or {})}
        self.do_lower_case = do_lower_case
        self.backend = backend
        self.unpad: bool | None = None
        self.unpad_in_eval = self.task.unpad_in_eval
        self._prompt_lengths: dict[str, int | None] = {}
        self.auto_model: PreTrainedModel | BackendModel = (
            _load_model(str(model_name_or_path), model_kwargs, config_kwargs, self.task.name)
            if backend == "torch"
            else load_transformer_backend(
                backend, str(model_name_or_path), model_kwargs, config_kwargs, self.task.name, _load_model
            )
        )
        self._model_inputs = _accepted_inputs(self.auto_model)
        if max_seq_length is not None:
            tokenizer_kwargs.setdefault("model_max_length", max_seq_length)
        self.tokenizer: PreTrainedTokenizerBase = _load_tokenizer(
            str(tokenizer_name_or_path or model_name_or_path), tokenizer_kwargs
        )
        if "model_max_length" not in tokenizer_kwargs:
            limit = getattr(self.config, "max_position_embeddings", -1)
            if isinstance(limit, int) and limit > 0:
                self.tokenizer.model_max_length = min(self.tokenizer.model_max_length, limit)
        if do_lower_case:
            _add_lowercase(self.tokenizer)

    # -------------------------------------------------------------- properties
    @property
    def transformer_task(self) -> str:
        """The module's task: ``"feature-extraction"`` or ``"sequence-classification"``."""
        return self.task.name

    @property
    def module_output_name(self) -> str:
        """The features key the module writes: ``token_embeddings`` or ``scores``."""
        return self.task.module_output_name

    @property
    def config(self) -> PretrainedConfig:
        """The transformers config of the wrapped model."""
        return self.auto_model.config

    @property
    def model(self) -> PreTrainedModel:
        """The wrapped transformers model (sentence-transformers 6 name; ``auto_model`` is the classic one)."""
        return self.auto_model

    @property
    def max_seq_length(self) -> int | None:
        """Longest input in tokens (stored as the tokenizer's ``model_max_length``)."""
        return self.tokenizer.model_max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        self.tokenizer.model_max_length = value
        self._prompt_lengths.clear()

    def get_word_embedding_dimension(self) -> int:
        """Hidden size of the token embeddings."""
        return int(self.config.hidden_size)

    get_embedding_dimension = get_word_embedding_dimension

    def __repr__(self) -> str:
        config = {
            "max_seq_length": self.max_seq_length,
            "do_lower_case": self.do_lower_case,
            "architecture": type(self.auto_model).__name__,
        }
        if self.task.name != "feature-extraction":
            config["transformer_task"] = self.task.name
        return f"Transformer({config})"

    # ------------------------------------------------------------ tokenization
    def tokenize(self, texts: Sequence[str] | Sequence[tuple[str, str]], **kwargs: Any) -> Features:
        """Tokenize a batch of texts (or text pairs), padded to the longest and truncated to ``max_seq_length``.

        Args:
            texts: The texts, or ``(text, text)`` pairs.
            **kwargs: ``max_length`` overrides ``max_seq_length`` for this call (as the training collator's
                ``max_length`` does); other options are ignored.

        Returns:
            ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the model uses them), each of shape
            ``(batch, seq_len)``.
        """
        texts = list(texts)
        max_length = kwargs.get("max_length")
        if max_length is None:
            max_length = self.max_seq_length
        if texts and isinstance(texts[0], (tuple, list)):
            first, second = [pair[0] for pair in texts], [pair[1] for pair in texts]
            return dict(self._call_tokenizer(first, second, max_length=max_length))
        return dict(self._call_tokenizer(texts, max_length=max_length))

    def _call_tokenizer(
        self, texts: list[str], pairs: list[str] | None = None, *, max_length: int | None = None
    ) -> Features:
        return self.tokenizer(
            texts, pairs, padding=True, truncation="longest_first", return_tensors="pt", max_length=max_length
        )

    def pretokenize(
        self, texts: Sequence[str] | Sequence[tuple[str, str]], prompt: str | None = None, **kwargs: Any
    ) -> PreTokenized:
        """Tokenize all texts (or pairs) once, unpadded and truncated to ``max_seq_length``; see PreTokenized."""
        from embedforge.models.pretokenized import PreTokenized

        texts = list(texts)
        if prompt:
            texts = prepend_prompt(texts, prompt)
        pairs = None
        if texts and isinstance(texts[0], (tuple, list)):
            texts, pairs = [pair[0] for pair in texts], [pair[1] for pair in texts]
        encoded = self.tokenizer(
            texts, pairs, padding=False, truncation="longest_first", max_length=self.max_seq_length
        )
        columns = {name: encoded[name] for name in self.tokenizer.model_input_names if name in encoded}
        pad_id = self.tokenizer.pad_token_id
        pad_values = {"input_ids": pad_id or 0, "token_type_ids": self.tokenizer.pad_token_type_id}
        extra = {"prompt_length": self.prompt_length(prompt)} if prompt else {}
        varlen = packs_in_encode(self.auto_model, self.unpad)
        left = self.tokenizer.padding_side == "left"
        return PreTokenized(columns, pad_values, left_padding=left, extra=extra, varlen=varlen)

    def prompt_length(self, prompt: str, **kwargs: Any) -> int | None:
        """Tokens the prompt occupies at the start of an input: leading special tokens counted, trailing ones not."""
        if prompt not in self._prompt_lengths:
            input_ids = self._call_tokenizer([prompt], max_length=self.max_seq_length)["input_ids"][0]
            length = int(input_ids.shape[-1])
            if int(input_ids[-1]) in set(self.tokenizer.all_special_ids):
                length -= 1
            self._prompt_lengths[prompt] = length
        return self._prompt_lengths[prompt]

    # ----------------------------------------------------------------- forward
    def runs_unpadded(self, features: Features) -> bool:
        """Whether :meth:`forward` runs ``features`` on their real tokens only (``unpad`` and ``can_pack``)."""
        if self.unpad is False:
            return False
        mask = features.get("attention_mask")
        on_cpu = mask is not None and mask.device.type == "cpu"
        return (self.unpad or on_cpu or VARLEN_KEY in features) and can_pack(
            self.auto_model, features, self.tokenizer.padding_side, in_eval=self.unpad_in_eval
        )

    def forward(self, features: Features, **kwargs: Any) -> Features:
        """Add ``token_embeddings`` ``(batch, seq_len, hidden)``, or ``scores`` ``(batch, num_labels)``.

        Also ``all_layer_embeddings`` (one ``(batch, seq_len, hidden)`` per layer) when the model config has
        ``output_hidden_states=True``. In training mode, padded batches of BERT-style models run unpadded as
        ``self.unpad`` says; their padded token positions are then zeros.
        """
        output_name = self.task.module_output_name
        if self.runs_unpadded(features):
            if output_name == "scores":
                features["scores"] = packed_sequence_logits(self.auto_model, features)
            else:
                features["token_embeddings"] = packed_token_embeddings(self.auto_model, features)
            return features
        inputs = {key: features[key] for key in self._model_inputs if key in features}
        output = self.auto_model(**inputs, return_dict=True)
        features[output_name] = output[self.task.method_output_name]
        hidden_states = getattr(output, "hidden_states", None)
        if hidden_states is not None:
            features["all_layer_embeddings"] = hidden_states
        return features

    # ---------------------------------------------------------- saving/loading
    def get_config_dict(self) -> dict[str, Any]:
        """The ``sentence_bert_config.json`` content: what sentence-transformers 6.2 writes, plus our two keys."""
        return {**self.task.saved_config(), "max_seq_length": self.max_seq_length, "do_lower_case": self.do_lower_case}

    def save(self, output_path: str | Path, *, safe_serialization: bool = True) -> None:
        """Write the transformers checkpoint (only its PEFT adapter, if any), tokenizer and module config."""
        path = Path(output_path)
        adapter_io.save_pretrained(self.auto_model, path, safe_serialization=safe_serialization)  # creates path
        self.tokenizer.save_pretrained(str(path))
        with open(path / self.config_file_name, "w", encoding="utf-8") as handle:
            json.dump(self.get_config_dict(), handle, indent=2)

    @classmethod
    def load_folder(cls, path: Path, context: LoadContext) -> InputModule:
        """Load from an ST folder (any historical config file name) or a plain transformers checkpoint.

        A folder whose ``modality_config`` embeds images (a dual encoder such as CLIP, which sentence-transformers
        6.2 saves as a Transformer) loads as :class:`~embedforge.models.clip_model.CLIPModel`.
        """
        config = next((read_json(path / name) for name in CONFIG_FILE_NAMES if (path / name).is_file()), {})
        from embedforge.models.clip_model import CLIPModel, is_multimodal_config

        if is_multimodal_config(config.get("modality_config")):
            return CLIPModel.load_folder(path, context)
        shared = _shared_kwargs(context)
        return cls(
            path,
            max_seq_length=config.get("max_seq_length"),
            do_lower_case=bool(config.get("do_lower_case", False)),
            model_args={**shared, **config.get("model_args", {}), **config.get("model_kwargs", {})},
            tokenizer_args={**shared, **config.get("tokenizer_args", {}), **config.get("processor_kwargs", {})},
            config_args={**shared, **config.get("config_args", {}), **config.get("config_kwargs", {})},
            backend=context.backend,
            model_kwargs=context.model_kwargs,
            tokenizer_kwargs=context.tokenizer_kwargs,
            config_kwargs=context.config_kwargs,
            transformer_task=config.get("transformer_task", "feature-extraction"),
        )

    @classmethod
    def from_checkpoint(cls, path: Path, context: LoadContext, transformer_task: str) -> Transformer:
        """A new module on the transformers checkpoint in ``path``, ignoring any module config saved there.

        This is how a model family starts from a plain checkpoint, or from the backbone of another family's folder
        (e.g. a cross-encoder from a bi-encoder's BERT): the checkpoint's tokenizer settings apply.
        """
        shared = _shared_kwargs(context)
        return cls(
            path,
            model_args=shared,
            tokenizer_args=shared,
            config_args=shared,
            backend=context.backend,
            model_kwargs=context.model_kwargs,
            tokenizer_kwargs=context.tokenizer_kwargs,
            config_kwargs=context.config_kwargs,
            transformer_task=transformer_task,
        )


def _shared_kwargs(context: LoadContext) -> dict[str, Any]:
    """The loading options that every ``from_pretrained`` call of the module takes (only those that are set)."""
    shared = {"trust_remote_code": context.trust_remote_code, "revision": context.revision}
    return {key: value for key, value in shared.items() if value}


def _load_model(name: str, model_kwargs: dict[str, Any], config_kwargs: dict[str, Any], task: str) -> PreTrainedModel:
    """Load the checkpoint with the task's auto class.

    For sequence classification, a checkpoint that is not a classifier (a bare encoder, e.g. a bi-encoder's
    backbone) gets a fresh head with one output unless ``num_labels`` is given, as sentence-transformers does.
    """
    import transformers

    if adapter_io.is_adapter_folder(name):  # its base model loads as above, then the adapter is attached
        return adapter_io.load_adapter_model(name, model_kwargs, config_kwargs, lambda *base: _load_model(*base, task))
    trust_remote_code = config_kwargs.get("trust_remote_code", model_kwargs.get("trust_remote_code", False))
    config_kwargs = {**config_kwargs, "trust_remote_code": trust_remote_code}
    config = transformers.AutoConfig.from_pretrained(name, **config_kwargs)
    if task == "sequence-classification":
        classifier = any(name.endswith("ForSequenceClassification") for name in config.architectures or [])
        if "num_labels" not in config_kwargs and not classifier:
            config.num_labels = 1
        return transformers.AutoModelForSequenceClassification.from_pretrained(name, config=config, **model_kwargs)
    encoder_class = _ENCODER_ONLY_CLASSES.get(config.model_type)
    model_class = getattr(transformers, encoder_class) if encoder_class else transformers.AutoModel
    return model_class.from_pretrained(name, config=config, **model_kwargs)


def _accepted_inputs(model: PreTrainedModel | BackendModel) -> tuple[str, ...]:
    """The tokenizer outputs that ``model.forward`` accepts (MPNet and DistilBERT take no ``token_type_ids``)."""
    if isinstance(model, BackendModel):
        return model.input_names
    parameters = inspect.signature(model.forward).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return _MODEL_INPUTS
    return tuple(name for name in _MODEL_INPUTS if name in parameters)


def _load_tokenizer(name: str, tokenizer_kwargs: dict[str, Any]) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name, **tokenizer_kwargs)


def _add_lowercase(tokenizer: PreTrainedTokenizerBase) -> None:
    """Put a Lowercase step first in a fast tokenizer's normalizer unless it already lowercases."""
    from tokenizers.normalizers import Lowercase, Sequence

    normalizer = tokenizer.backend_tokenizer.normalizer
    if isinstance(normalizer, Lowercase) or (
        isinstance(normalizer, Sequence) and any(isinstance(step, Lowercase) for step in normalizer)
    ):
        return
    steps = [Lowercase()]
    if isinstance(normalizer, Sequence):
        steps += list(normalizer)
    elif normalizer is not None:
        steps.append(normalizer)
    tokenizer.backend_tokenizer.normalizer = Sequence(steps)
