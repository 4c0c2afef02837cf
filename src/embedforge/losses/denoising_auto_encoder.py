"""DenoisingAutoEncoderLoss (TSDAE): rebuild each sentence from the embedding of a damaged copy of it."""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from embedforge.losses.base import InputSpec, LabelKind, Loss
from embedforge.losses.functional.denoising import reconstruction_loss, teacher_forcing_inputs
from embedforge.models.transformer import Transformer

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from embedforge.model.protocols import EmbeddingModel
    from embedforge.models.base import Features

__all__ = ["DenoisingAutoEncoderLoss"]

logger = logging.getLogger(__name__)


class DenoisingAutoEncoderLoss(Loss):
    r"""TSDAE: a decoder must reconstruct the original sentence from the sentence embedding of its damaged copy.

    The encoder (the model being trained) embeds the damaged input into ``e`` ``(batch, dim)``; a transformers
    decoder with cross-attention (a ``...LMHeadModel``) attends to ``e`` as its only memory position and predicts
    the original tokens ``y_1 … y_T`` one by one (teacher forcing)::

        loss = mean over non-padding t of  -log P_decoder(y_t | y_<t, e)

    ==================================================  ======
    Inputs                                              Labels
    ==================================================  ======
    (damaged_input, original_input) pairs               none
    input fed through ``DenoisingAutoEncoderDataset``   none
    ==================================================  ======

    The decoder is built from the encoder's transformers config (``is_decoder=True``, ``add_cross_attention=True``)
    and the encoder's checkpoint, so pretrained language-model head weights are used where the checkpoint has
    them. With ``tie_encoder_decoder=True`` (the default) the decoder starts from the encoder's current weights and
    every encoder parameter is then shared with the decoder parameter of the same name, so the two train as one
    (less memory, better results in the paper); only the cross-attention and head weights are the decoder's own.
    With ``tie_encoder_decoder=False`` the decoder is loaded from ``decoder_name_or_path`` with its own tokenizer;
    if its vocabulary differs from the encoder's, the original sentences are decoded and re-tokenized for it.

    When to use: unsupervised domain adaptation from unlabeled sentences (TSDAE), pre-training before a supervised
    loss. Create pairs with ``embedforge.datasets.DenoisingAutoEncoderDataset`` (deletes 60% of the words), and
    pool with the CLS token as in the paper. The decoder is only needed for training and is not saved with the
    model.

    Related: ``ContrastiveTensionLoss`` and ``MultipleNegativesRankingLoss`` on (sentence, sentence) pairs (SimCSE)
    are other unsupervised objectives. The loss math lives in
    :func:`embedforge.losses.functional.denoising.reconstruction_loss`.

    References:
        Wang, Reimers and Gurevych 2021, "TSDAE: Using Transformer-based Sequential Denoising Auto-Encoder for
        Unsupervised Sentence Embedding Learning", https://arxiv.org/abs/2104.06979.

    Args:
        model: The model to train; its first module must be a :class:`~embedforge.models.Transformer`.
        decoder_name_or_path: Checkpoint of the decoder when it is not tied; ignored (with a warning) when tied.
        tie_encoder_decoder: Share the encoder's parameters with the decoder's.

    Raises:
        ValueError: If the first module is not a Transformer, ``decoder_name_or_path`` is missing for an untied
            decoder, or the decoder's hidden size differs from the encoder's.

    Example:
        >>> from datasets import Dataset
        >>> from embedforge import SentenceTransformer, SentenceTransformerTrainer
        >>> from embedforge.datasets import DenoisingAutoEncoderDataset
        >>> from embedforge.losses import DenoisingAutoEncoderLoss
        >>> model = SentenceTransformer("path/to/bert")  # doctest: +SKIP
        >>> sentences = ["the first training sentence", "the second training sentence"]
        >>> damaged = [DenoisingAutoEncoderDataset.delete(sentence) for sentence in sentences]
        >>> dataset = Dataset.from_dict({"damaged": damaged, "original": sentences})
        >>> loss = DenoisingAutoEncoderLoss(model)  # doctest: +SKIP
        >>> SentenceTransformerTrainer(model=model, train_dataset=dataset, loss=loss).train()  # doctest: +SKIP
    """

    input_spec = InputSpec(
        min_texts=2, max_texts=2, label=LabelKind.NONE, description="(damaged_input, original_input) pairs"
    )
    config_keys = ("decoder_name_or_path", "need_retokenization")
    citation = """
@inproceedings{wang-2021-TSDAE,
    title = "TSDAE: Using Transformer-based Sequential Denoising Auto-Encoderfor Unsupervised Sentence Embedding Learning",
    author = "Wang, Kexin and Reimers, Nils and Gurevych, Iryna",
    booktitle = "Findings of the Association for Computational Linguistics: EMNLP 2021",
    month = nov,
    year = "2021",
    address = "Punta Cana, Dominican Republic",
    publisher = "Association for Computational Linguistics",
    pages = "671--688",
    url = "https://arxiv.org/abs/2104.06979",
}
"""  # noqa: E501

    def __init__(
        self, model: EmbeddingModel, decoder_name_or_path: str | None = None, tie_encoder_decoder: bool = True
    ) -> None:
        super().__init__(model)
        first = model[0]
        if not isinstance(first, Transformer):
            raise ValueError(
                f"DenoisingAutoEncoderLoss needs a model whose first module is a Transformer (its decoder is built "
                f"from the encoder's transformers config), found {type(first).__name__}."
            )
        encoder: PreTrainedModel = first.auto_model
        self.tokenizer_encoder: PreTrainedTokenizerBase = first.tokenizer
        if tie_encoder_decoder:
            if decoder_name_or_path:
                logger.warning(
                    "With tie_encoder_decoder=True the decoder is the encoder's; decoder_name_or_path is ignored."
                )
            self.decoder = _decoder_from_encoder(encoder).to(model.device)
            self.tokenizer_decoder = self.tokenizer_encoder
        else:
            if decoder_name_or_path is None:
                raise ValueError("Pass decoder_name_or_path when tie_encoder_decoder=False (the decoder to load).")
            self.decoder, self.tokenizer_decoder = _load_decoder(decoder_name_or_path, encoder.config.hidden_size)
            self.decoder.to(model.device)
        self.need_retokenization = _vocabularies_differ(self.tokenizer_encoder, self.tokenizer_decoder)
        if tie_encoder_decoder:
            _tie_encoder_to_decoder(encoder, self.decoder.base_model)

    def retokenize(self, sentence_features: Features) -> Features:
        """Decode token ids with the encoder's tokenizer and tokenize the texts with the decoder's.

        Args:
            sentence_features: Features with ``input_ids`` ``(batch, seq)`` from the encoder's tokenizer.

        Returns:
            The decoder tokenizer's features (``input_ids`` ``(batch, seq')``…) on the same device.
        """
        input_ids = sentence_features["input_ids"]
        texts = self.tokenizer_encoder.batch_decode(
            input_ids, skip_special_tokens=True, clean_up_tokenization_spaces=True
        )
        encoded = self.tokenizer_decoder(texts, padding=True, truncation="longest_first", return_tensors="pt")
        return dict(encoded.to(input_ids.device))

    def forward(self, sentence_features: list[Features], labels: Tensor | None = None) -> Tensor:
        """Embed the damaged inputs and score the decoder's reconstruction of the originals.

        Args:
            sentence_features: The damaged and the original column, ``input_ids`` ``(batch, seq)``….
            labels: Ignored.

        Returns:
            Scalar loss, the mean token cross-entropy.

        Raises:
            ValueError: Unless exactly two columns are given.
        """
        if len(sentence_features) != 2:
            raise ValueError(
                f"DenoisingAutoEncoderLoss needs (damaged_input, original_input) pairs, got {len(sentence_features)} "
                "text columns."
            )
        source, target = sentence_features
        if self.need_retokenization:
            target = self.retokenize(target)
        embeddings = self.model(source)["sentence_embedding"]
        decoder_input_ids, label_ids = teacher_forcing_inputs(target["input_ids"])
        output = self.decoder(
            input_ids=decoder_input_ids,
            encoder_hidden_states=embeddings[:, None],
            encoder_attention_mask=source["attention_mask"][:, 0:1],
            use_cache=False,
            return_dict=True,
        )
        return reconstruction_loss(output.logits, label_ids, self.tokenizer_decoder.pad_token_id)

    def get_config_dict(self) -> dict[str, Any]:
        """The decoder's checkpoint and whether targets are re-tokenized for it."""
        return {
            "decoder_name_or_path": self.decoder.config.name_or_path,
            "need_retokenization": self.need_retokenization,
        }


def _decoder_from_encoder(encoder: PreTrainedModel) -> PreTrainedModel:
    """A causal-LM decoder with cross-attention, with the encoder's config and (where shared) current weights.

    The checkpoint the encoder came from supplies the weights the encoder lacks (e.g. a pretrained LM head);
    cross-attention starts fresh.
    """
    from transformers import AutoModelForCausalLM

    config = copy.deepcopy(encoder.config)
    config.is_decoder = True
    config.add_cross_attention = True
    if config.name_or_path:
        decoder = AutoModelForCausalLM.from_pretrained(config.name_or_path, config=config, ignore_mismatched_sizes=True)
    else:
        decoder = AutoModelForCausalLM.from_config(config)
    decoder.base_model.load_state_dict(encoder.state_dict(), strict=False)
    return decoder


def _load_decoder(name_or_path: str, hidden_size: int) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a separate decoder (with cross-attention) and its tokenizer."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(name_or_path)
    config.is_decoder = True
    config.add_cross_attention = True
    if config.hidden_size != hidden_size:
        raise ValueError(
            f"The decoder {name_or_path!r} has hidden size {config.hidden_size} but the encoder's embeddings have "
            f"{hidden_size}; the decoder cross-attends to the embedding, so pick a decoder of the same hidden size."
        )
    decoder = AutoModelForCausalLM.from_pretrained(name_or_path, config=config)
    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    if tokenizer.pad_token is None:  # GPT-2 and other decoders without padding
        tokenizer.pad_token = tokenizer.eos_token
        decoder.config.pad_token_id = decoder.config.eos_token_id
    return decoder, tokenizer


def _vocabularies_differ(
    encoder_tokenizer: PreTrainedTokenizerBase, decoder_tokenizer: PreTrainedTokenizerBase
) -> bool:
    """True when the decoder cannot read the encoder's token ids as they are."""
    if encoder_tokenizer is decoder_tokenizer:
        return False
    return type(encoder_tokenizer) is not type(decoder_tokenizer) or (
        encoder_tokenizer.get_vocab() != decoder_tokenizer.get_vocab()
    )


def _tie_encoder_to_decoder(encoder: nn.Module, decoder_base: nn.Module) -> None:
    """Replace each encoder parameter by the decoder parameter of the same name, so that both share it.

    Decoder-only parameters (cross-attention) have no encoder counterpart and stay the decoder's.
    """
    encoder_modules = dict(encoder.named_modules())
    tied = 0
    for name, parameter in decoder_base.named_parameters():
        module_name, _, attribute = name.rpartition(".")
        module = encoder_modules.get(module_name)
        if module is not None and attribute in dict(module.named_parameters(recurse=False)):
            setattr(module, attribute, parameter)
            tied += 1
    if not tied:
        logger.warning("No encoder parameter could be tied to the decoder; are they the same architecture?")
