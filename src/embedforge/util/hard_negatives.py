"""Hard-negative mining: turn (anchor, positive) pairs into training data with negatives that are hard to tell apart.

Same arguments and output as ``sentence_transformers.util.mine_hard_negatives`` (6.2), plus ``use_usearch``.
The steps live in private modules: options (checks and defaults), search (texts, embeddings, top-k), scoring
(cross-encoder, filters, sampling) and output (the four formats and the printed statistics).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from torch import Tensor

from embedforge.util._hard_negatives_options import (
    MiningOptions,
    MiningRequest,
    OutputFormat,
    ScoreFilters,
    SearchBackend,
    resolve_options,
)
from embedforge.util._hard_negatives_output import Mined, build_rows, print_report
from embedforge.util._hard_negatives_scoring import (
    FilterCount,
    apply_filters,
    mask_positives,
    positive_scores,
    rescore_with_cross_encoder,
    select_negatives,
)
from embedforge.util._hard_negatives_search import (
    EncodeSettings,
    MiningTexts,
    embed_texts,
    import_backend,
    search_candidates,
)

if TYPE_CHECKING:
    from datasets import Dataset

    from embedforge.cross_encoder.model import CrossEncoder
    from embedforge.model.sentence_transformer import SentenceTransformer

__all__ = ["mine_hard_negatives"]


def mine_hard_negatives(
    dataset: Dataset,
    model: SentenceTransformer,
    anchor_column_name: str | None = None,
    positive_column_name: str | None = None,
    corpus: Sequence[str] | None = None,
    cross_encoder: CrossEncoder | None = None,
    range_min: int = 0,
    range_max: int | None = None,
    max_score: float | None = None,
    min_score: float | None = None,
    absolute_margin: float | None = None,
    relative_margin: float | None = None,
    num_negatives: int = 3,
    sampling_strategy: Literal["random", "top"] = "top",
    query_prompt_name: str | None = None,
    query_prompt: str | None = None,
    corpus_prompt_name: str | None = None,
    corpus_prompt: str | None = None,
    include_positives: bool = False,
    output_format: OutputFormat = "triplet",
    output_scores: bool = False,
    batch_size: int = 32,
    faiss_batch_size: int = 16384,
    use_faiss: bool = False,
    use_multi_process: list[str] | bool = False,
    verbose: bool = True,
    cache_folder: str | None = None,
    as_triplets: bool | None = None,
    margin: float | None = None,
    use_usearch: bool = False,
) -> Dataset:
    """Add hard negatives to (anchor, positive) pairs: texts close to the anchor that are not its positive.

    Steps, in order:

    1. Embed the distinct anchors (``model.encode_query``) and the candidates (``model.encode_document``, both
       L2-normalized). The candidates are ``corpus`` plus every positive, deduplicated; a repeated anchor has
       several positives.
    2. Retrieve the ``range_max + max_positives`` best candidates per anchor (``model.similarity``, exact, in
       chunks of ``faiss_batch_size`` anchors; or FAISS / usearch inner-product search) and score the positives
       (``model.similarity_pairwise``).
    3. With a ``cross_encoder`` *and* at least one of ``absolute_margin``, ``relative_margin``, ``max_score``,
       ``min_score``: replace candidate and positive scores by ``cross_encoder.predict`` (after its activation).
       Without such a filter the cross-encoder is not used.
    4. Drop (score ``-inf``) each anchor's own positives unless ``include_positives``; then, in this order,
       candidates with ``score + absolute_margin > p``, with ``score > p - |p| * relative_margin`` (``p`` the
       anchor's lowest positive score), above ``max_score`` and below ``min_score``.
    5. Keep the best ``range_max``, skip the first ``range_min``, and take ``num_negatives``: the best ones
       (``"top"``) or a uniform sample of the valid ones (``"random"``, drawn with Python's :mod:`random`;
       seed it with ``random.seed`` for repeatable output), sorted by score.

    Example:
        >>> from datasets import Dataset
        >>> from embedforge import SentenceTransformer
        >>> from embedforge.util import mine_hard_negatives
        >>> model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")  # doctest: +SKIP
        >>> pairs = Dataset.from_dict({"query": queries, "answer": answers})  # doctest: +SKIP
        >>> triplets = mine_hard_negatives(pairs, model, relative_margin=0.05, num_negatives=5)  # doctest: +SKIP
        >>> triplets.column_names  # doctest: +SKIP
        ['query', 'answer', 'negative']

    Args:
        dataset: (anchor, positive) rows; other columns are not carried over.
        model: The bi-encoder (an embedforge ``SentenceTransformer``) that retrieves the candidates.
        anchor_column_name: Column of the anchors; default the first column.
        positive_column_name: Column of the positives; default the second column.
        corpus: Extra candidate texts, searched together with the positives.
        cross_encoder: A one-label ``CrossEncoder`` that rescores the candidates (see step 3).
        range_min: Skip this many of the best remaining candidates (some of them may be unlabeled positives).
        range_max: Consider only this many best candidates. Default ``range_min + num_negatives + max_positives``,
            or ``range_min + 10 * num_negatives + max_positives`` when a margin, ``max_score``, or a cross-encoder
            with ``min_score`` is set (``max_positives``: the most rows any anchor has). With FAISS on GPU the
            default is capped so that at most 2048 documents are retrieved per query.
        max_score: Drop candidates scoring above this value.
        min_score: Drop candidates scoring below this value.
        absolute_margin: Drop candidates within this margin of the anchor's lowest positive score; 0 keeps only
            negatives scoring below every positive.
        relative_margin: Drop candidates within ``|p| * relative_margin`` of the lowest positive score ``p``
            (0.05: at least 5% of the positive's magnitude below it).
        num_negatives: Negatives per anchor; at least 1 and at most ``range_max - range_min``.
        sampling_strategy: ``"top"`` or ``"random"`` (step 5).
        query_prompt_name: Name of a ``model.prompts`` entry put before the anchors.
        query_prompt: Text put before the anchors; wins over ``query_prompt_name``.
        corpus_prompt_name: Name of a ``model.prompts`` entry put before the candidates.
        corpus_prompt: Text put before the candidates; wins over ``corpus_prompt_name``.
        include_positives: Keep the positives among the candidates (e.g. to build reranking evaluation data:
            ``negative_1`` is then usually the positive). Forces ``output_format="n-tuple"``.
        output_format: ``"triplet"``, ``"n-tuple"``, ``"labeled-pair"`` or ``"labeled-list"``; the deprecated
            ``"n-tuple-scores"`` means ``"n-tuple"`` with ``output_scores=True``. Columns, with ``a``/``p`` the
            anchor/positive column names: triplet ``(a, p, negative)``, one row per valid negative of each
            positive; n-tuple ``(a, p, negative_1 .. negative_n)``, one row per positive whose anchor found all
            ``num_negatives``; labeled-pair ``(a, p, label)``, the positives (1) and then the negatives (0) of each
            anchor as separate rows; labeled-list ``(a, p, labels)`` with ``p`` the list [positive, negatives...]
            and ``labels`` [1, 0, ...], one row per positive with at least one negative.
        output_scores: Add a ``scores`` list ``[positive, negative(s)]`` to triplet and n-tuple rows; replace
            ``label`` by ``score`` (labeled-pair) and ``labels`` by ``scores`` (labeled-list).
        batch_size: Texts per forward pass, for the embeddings and the cross-encoder.
        faiss_batch_size: Anchors searched at once (every backend); bounds the ``(chunk, n_corpus)`` score matrix.
        use_faiss: Search with a FAISS ``IndexFlatIP`` (on all GPUs when FAISS has any). Needs
            ``embedforge[faiss]``.
        use_multi_process: True, or a list of devices such as ``["cuda:0", "cuda:1"]``: embed and rescore with
            multi-process pools (True: every GPU, else 4 CPU workers).
        verbose: Print progress bars, the statistics of the positive and negative scores, the candidates each
            filter skipped and how many rows lack negatives.
        cache_folder: Save the embeddings as ``query_embeddings_{sha256}.npy`` / ``corpus_embeddings_{sha256}.npy``
            there, and reuse them on later calls; each hash covers the model's name, the prompts and the texts.
        as_triplets: Deprecated: True is ``output_format="triplet"``, False is ``"n-tuple"``.
        margin: Deprecated name of ``absolute_margin`` (wins over it).
        use_usearch: Search with usearch's exact inner-product search (not in sentence-transformers). Needs
            ``embedforge[usearch]``.

    Returns:
        A ``datasets.Dataset`` in ``output_format``.

    Raises:
        ValueError: On an empty dataset, a column that does not exist, an unknown ``output_format`` or
            ``sampling_strategy``, ``num_negatives < 1``, a range that cannot hold ``num_negatives``, a
            non-positive ``faiss_batch_size``, both ``use_faiss`` and ``use_usearch``, or a cross-encoder with
            several labels.
        ImportError: When ``use_faiss``/``use_usearch`` is set and the library is not installed.
    """
    backend = _search_backend(use_faiss, use_usearch, faiss_batch_size)
    search_module = import_backend(backend)  # a missing library fails before any work
    options = resolve_options(
        dataset,
        MiningRequest(
            anchor_column_name=anchor_column_name,
            positive_column_name=positive_column_name,
            range_min=range_min,
            range_max=range_max,
            filters=ScoreFilters(absolute_margin, relative_margin, max_score, min_score),
            num_negatives=num_negatives,
            sampling_strategy=sampling_strategy,
            include_positives=include_positives,
            output_format=output_format,
            output_scores=output_scores,
            as_triplets=as_triplets,
            margin=margin,
            has_cross_encoder=cross_encoder is not None,
            faiss_gpus=search_module.get_num_gpus() if backend == "faiss" and search_module is not None else 0,
            verbose=verbose,
        ),
    )
    texts = MiningTexts.from_rows(list(dataset[options.anchor_column]), list(dataset[options.positive_column]), corpus)
    if verbose:
        _print_dataset_summary(texts, options, len(dataset))
    devices = _pool_devices(use_multi_process)
    query_embeddings, corpus_embeddings = embed_texts(
        model,
        texts,
        EncodeSettings(
            query_prompt_name=query_prompt_name,
            query_prompt=query_prompt,
            corpus_prompt_name=corpus_prompt_name,
            corpus_prompt=corpus_prompt,
            batch_size=batch_size,
            devices=devices,
            cache_folder=cache_folder,
            verbose=verbose,
        ),
    )
    scores, indices = search_candidates(
        model,
        query_embeddings,
        corpus_embeddings,
        options.range_max + options.max_positives,
        faiss_batch_size,
        backend,
        verbose,
    )
    positives = positive_scores(model, query_embeddings, corpus_embeddings, texts)
    del query_embeddings, corpus_embeddings
    if cross_encoder is not None and options.filters.any_set:
        scores, positives = rescore_with_cross_encoder(cross_encoder, texts, indices, batch_size, devices, verbose)
    return _output(scores, indices, positives, texts, options, len(dataset), verbose)


def _output(
    scores: Tensor,
    indices: Tensor,
    positives: Tensor,
    texts: MiningTexts,
    options: MiningOptions,
    dataset_rows: int,
    verbose: bool,
) -> Dataset:
    """Steps 4-7 (:func:`_mine`), then the rows of the output format as a Dataset (and the report if verbose)."""
    from datasets import Dataset

    negative_scores, negative_ids, counts = _mine(scores, indices, positives, texts, options)
    if verbose:
        print("Negative candidates mined, preparing dataset...")
    mined = Mined(
        texts=texts,
        positive_scores=positives.cpu(),
        negative_ids=negative_ids.cpu(),
        negative_scores=negative_scores.cpu(),
        anchor_column=options.anchor_column,
        positive_column=options.positive_column,
        output_scores=options.output_scores,
    )
    rows = build_rows(options.output_format, mined, dataset_rows)
    output = Dataset.from_dict(rows.columns)
    if verbose:
        print_report(mined.positive_scores, rows, len(output), counts, options.filters, options.range_min)
    return output


def _mine(
    scores: Tensor, indices: Tensor, positives: Tensor, texts: MiningTexts, options: MiningOptions
) -> tuple[Tensor, Tensor, dict[str, FilterCount]]:
    """Steps 4 and 5: mask the positives, apply the filters, select the negatives.

    Returns:
        ``(negative scores, negative corpus ids)``, both ``(n_queries, num_negatives)``, and what each filter
        dropped.
    """
    if not options.include_positives:
        mask_positives(scores, indices, texts)
    counts = apply_filters(scores, positives, texts, options.filters)
    negative_scores, negative_ids = select_negatives(
        scores, indices, options.range_min, options.range_max, options.num_negatives, options.sampling_strategy
    )
    return negative_scores, negative_ids, counts


def _search_backend(use_faiss: bool, use_usearch: bool, faiss_batch_size: int) -> SearchBackend:
    if faiss_batch_size <= 0:
        raise ValueError(
            f"faiss_batch_size must be a positive integer (anchors searched at once), got {faiss_batch_size}."
        )
    if use_faiss and use_usearch:
        raise ValueError(
            "use_faiss and use_usearch are both True; choose one search library (or neither, for the "
            "exact search in torch)."
        )
    return "faiss" if use_faiss else "usearch" if use_usearch else "torch"


def _pool_devices(use_multi_process: list[str] | bool) -> list[str] | None:
    """None: no pool; ``[]``: a pool on the default devices; else a pool on these devices."""
    if isinstance(use_multi_process, bool):
        return [] if use_multi_process else None
    return list(use_multi_process) or None


def _print_dataset_summary(texts: MiningTexts, options: MiningOptions, dataset_rows: int) -> None:
    if len(texts.queries) != dataset_rows:
        print(f"Found {len(texts.queries)} unique queries out of {dataset_rows} total queries.")
    if options.max_positives > 1:
        print(f"Found an average of {np.mean(options.rows_per_anchor):.3f} positives per query.")
