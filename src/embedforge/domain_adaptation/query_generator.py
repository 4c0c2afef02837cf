"""QueryGenerator: synthetic search queries for passages from a transformers sequence-to-sequence model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["QueryGenerator"]


class QueryGenerator:
    """Writes queries for passages with a seq2seq model, by sampling (GenQ / GPL's first step).

    The documentation uses a T5 trained on MS MARCO to map passages to queries (``BeIR/query-gen-msmarco-t5-base-v1``
    or ``doc2query/msmarco-t5-base-v1``): any ``AutoModelForSeq2SeqLM`` checkpoint with its tokenizer works.

    Args:
        model_name_or_path: The checkpoint (a local folder or a Hub id).
        device: Where to run it; default: CUDA when available, else CPU.
        max_passage_length: Passages are truncated to this many tokens.
        max_query_length: Longest generated query in tokens.
        prefix: Text put before every passage (some generators expect one, e.g. ``"generate query: "``).

    Example:
        >>> generator = QueryGenerator("doc2query/msmarco-t5-base-v1")  # doctest: +SKIP
        >>> generator.generate(["Python is a programming language ..."], num_queries=3)  # doctest: +SKIP
        [['what is python', 'python programming language', 'who made python']]
    """

    def __init__(
        self,
        model_name_or_path: str,
        device: str | None = None,
        max_passage_length: int = 384,
        max_query_length: int = 64,
        prefix: str = "",
    ) -> None:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(model_name_or_path).to(self.device).eval()
        self.max_passage_length = max_passage_length
        self.max_query_length = max_query_length
        self.prefix = prefix

    def generate(
        self,
        passages: Sequence[str],
        num_queries: int = 3,
        batch_size: int = 16,
        top_p: float = 0.95,
        top_k: int | None = None,
        do_sample: bool = True,
        seed: int | None = None,
    ) -> list[list[str]]:
        """``num_queries`` queries per passage (nucleus sampling by default, as the documentation's GenQ script).

        Args:
            passages: The passages.
            num_queries: Queries per passage (duplicates removed, so a passage may get fewer).
            batch_size: Passages per generation call.
            top_p: Nucleus sampling probability mass.
            top_k: Sample among the k most likely tokens only (None: no limit).
            do_sample: Sample (True) or decode greedily with beam search of ``num_queries`` beams (False).
            seed: Seed of torch's generator for reproducible sampling.

        Returns:
            One list of distinct, stripped, non-empty queries per passage, in passage order.
        """
        if num_queries < 1:
            raise ValueError(f"num_queries must be at least 1, got {num_queries}.")
        if seed is not None:
            torch.manual_seed(seed)
        queries: list[list[str]] = []
        for start in range(0, len(passages), batch_size):
            batch = [self.prefix + passage for passage in passages[start : start + batch_size]]
            queries += self._generate_batch(batch, num_queries, top_p, top_k, do_sample)
        return queries

    def _generate_batch(
        self, passages: list[str], num_queries: int, top_p: float, top_k: int | None, do_sample: bool
    ) -> list[list[str]]:
        encoded = self.tokenizer(
            passages, padding=True, truncation=True, max_length=self.max_passage_length, return_tensors="pt"
        ).to(self.device)
        options: dict[str, Any] = {"max_length": self.max_query_length, "num_return_sequences": num_queries}
        if do_sample:
            options.update(do_sample=True, top_p=top_p, top_k=top_k or 0)
        else:
            options.update(do_sample=False, num_beams=num_queries)
        with torch.inference_mode():
            generated = self.model.generate(
                input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"], **options
            )
        texts = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
        per_passage = [texts[index : index + num_queries] for index in range(0, len(texts), num_queries)]
        return [list(dict.fromkeys(text.strip() for text in group if text.strip())) for group in per_passage]
