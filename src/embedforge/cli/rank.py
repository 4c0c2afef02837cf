"""``embedforge rank``: retrieve with a bi-encoder, re-rank with a cross-encoder, print and write the rankings.

Data: a local BEIR folder (``--beir``: corpus, queries and, for the metrics, ``qrels/<split>.tsv``), or text files
(``--queries`` and ``--corpus``: one text per line, or a ``.csv``/``.tsv``/``.jsonl`` column). The retriever (a
SentenceTransformer) embeds the corpus once and finds each query's ``--top-k`` documents; the reranker (a
CrossEncoder) scores the first ``--rerank-k`` of them with the query and reorders them. Without ``--retriever`` every
document of a small corpus is a candidate. With qrels, NDCG@10, MRR@10, MAP@100 and Recall@100 are printed for the
retrieval and for the re-ranked lists. ``--output`` writes every query's ranking (``.jsonl``: one query per line with
its results; ``.tsv``/``.trec``: a TREC run file ``query-id Q0 doc-id rank score run-name``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedforge.cli.output import Console, add_output_options

if TYPE_CHECKING:
    from embedforge.cli.ranking import RankingData

__all__ = ["add_parser", "run"]

EXAMPLES = """examples:
  embedforge rank --retriever ./bi-encoder --reranker output/reranker/final --beir ../shared/data/scifact
  embedforge rank --retriever ./bi-encoder --reranker ./ce --beir ../shared/data/scifact --limit 20 --show 3
  embedforge rank --retriever ./bi-encoder --reranker ./ce --queries questions.txt --corpus passages.txt \\
      --output ranked.jsonl
  embedforge rerank --reranker ./ce --queries questions.txt --corpus passages.txt      # every passage re-ranked
"""

MAX_CORPUS_WITHOUT_RETRIEVER = 10_000
"""Largest corpus re-ranked whole when no retriever is given (each query scores every document)."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``rank`` (alias ``rerank``)."""
    parser = subparsers.add_parser(
        "rank",
        aliases=["rerank"],
        help="retrieve with a bi-encoder and re-rank with a cross-encoder (BEIR folder or text files)",
        description="Retrieve each query's candidates with a bi-encoder (--retriever), re-rank them with a "
        "cross-encoder (--reranker), print the best results and, with qrels, the retrieval metrics before and after "
        "re-ranking; write every ranking with --output.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--reranker", required=True, metavar="MODEL", help="cross-encoder folder or Hub id")
    parser.add_argument(
        "--retriever",
        metavar="MODEL",
        help="bi-encoder folder or Hub id (default: no retrieval; "
        f"every document of a corpus of at most {MAX_CORPUS_WITHOUT_RETRIEVER:,} is re-ranked)",
    )
    parser.add_argument("--beir", metavar="FOLDER", help="BEIR folder: corpus.jsonl(.gz), queries.jsonl, qrels/")
    parser.add_argument("--split", default="test", help="qrels split of --beir: qrels/SPLIT.tsv (default: test)")
    parser.add_argument("--queries", metavar="FILE", help="queries: one per line, or a .csv/.tsv/.jsonl column")
    parser.add_argument("--corpus", metavar="FILE", help="documents: one per line, or a .csv/.tsv/.jsonl column")
    parser.add_argument(
        "--column", help="the text column of --queries/--corpus tables (default: text, else the only column)"
    )
    parser.add_argument("--top-k", type=int, default=100, help="documents retrieved per query (default: 100)")
    parser.add_argument("--rerank-k", type=int, default=100, help="of those, how many are re-ranked (default: 100)")
    parser.add_argument("--limit", type=int, metavar="N", help="use the first N queries (judged ones with --beir)")
    parser.add_argument(
        "--show",
        type=int,
        default=3,
        metavar="N",
        help="print the top N results of the first 5 queries (default: 3; 0 prints none)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="texts or pairs per forward pass (default: 32)")
    parser.add_argument("--output", metavar="FILE", help="write the rankings: .jsonl, or .tsv/.trec (TREC run)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, mps ... (default: the best available)")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow code shipped with the models to run")
    add_output_options(parser)


def run(args: argparse.Namespace) -> int:
    """Load data and models, retrieve, re-rank, report; see the module docstring.

    Returns:
        0 on success, 1 when data or models cannot be used, 2 for bad arguments.
    """
    from embedforge.cli import ranking

    console = Console.from_args(args)
    problem = _usage_problem(args)
    if problem:
        console.error(problem)
        return 2
    try:
        data = _load_data(args)
        if args.retriever is None and len(data.corpus) > MAX_CORPUS_WITHOUT_RETRIEVER:
            raise ValueError(
                f"The corpus has {len(data.corpus):,} documents; re-ranking all of them for every query "
                f"is too slow. Pass --retriever BI_ENCODER to retrieve candidates first."
            )
        retriever, reranker = _load_models(args, console)
    except (OSError, ValueError, KeyError) as error:
        console.error(str(error))
        return 1
    console.info(f"{len(data.query_ids)} queries, {len(data.corpus):,} documents")
    retrieved = ranking.retrieve(retriever, data, args.top_k, args.batch_size, console.show_progress)
    reranked = ranking.rerank(reranker, data, retrieved, args.rerank_k, args.batch_size, console.show_progress)
    _report(data, retrieved, reranked, args, console)
    if args.output:
        path = ranking.write_rankings(Path(args.output), data, retrieved, reranked)
        console.result(f"rankings written to {path}", event="written", path=str(path))
    return 0


def _usage_problem(args: argparse.Namespace) -> str | None:
    if bool(args.beir) == bool(args.queries or args.corpus):
        return "Give the data either as --beir FOLDER or as --queries FILE --corpus FILE (not both, not neither)."
    if not args.beir and not (args.queries and args.corpus):
        return "--queries and --corpus go together; pass both."
    for option in ("top_k", "rerank_k", "batch_size", "limit"):
        value = getattr(args, option)
        if value is not None and value < 1:
            return f"--{option.replace('_', '-')} must be a positive integer, got {value}."
    if args.output and Path(args.output).suffix not in (".jsonl", ".tsv", ".trec"):
        return f"--output must end in .jsonl, .tsv or .trec, got {args.output!r}."
    return None


def _load_data(args: argparse.Namespace) -> RankingData:
    from embedforge.cli import ranking

    if args.beir:
        return ranking.beir_data(Path(args.beir), args.split, args.limit)
    return ranking.file_data(Path(args.queries), Path(args.corpus), args.column, args.limit)


def _load_models(args: argparse.Namespace, console: Console) -> tuple[Any, Any]:
    """The retriever (a SentenceTransformer, or None) and the reranker (a CrossEncoder)."""
    from embedforge.model.loading import load_model

    options = {"device": args.device, "trust_remote_code": args.trust_remote_code}
    console.info(f"Loading reranker {args.reranker} ...")
    reranker = load_model(args.reranker, **options)
    if reranker.model_type != "CrossEncoder":
        raise ValueError(
            f"--reranker {args.reranker} is a {reranker.model_type}, not a cross-encoder. Pass a "
            "CrossEncoder folder (its config_sentence_transformers.json says model_type CrossEncoder)."
        )
    retriever = None
    if args.retriever:
        console.info(f"Loading retriever {args.retriever} ...")
        retriever = load_model(args.retriever, **options)
        if retriever.model_type != "SentenceTransformer":
            raise ValueError(
                f"--retriever {args.retriever} is a {retriever.model_type}, not a bi-encoder. Pass a "
                "SentenceTransformer folder."
            )
    return retriever, reranker


def _report(
    data: RankingData,
    retrieved: dict[str, list[Any]],
    reranked: dict[str, list[Any]],
    args: argparse.Namespace,
    console: Console,
) -> None:
    from embedforge.cli import ranking

    for query_id in data.query_ids[: 5 if args.show else 0]:
        lines = [f"query {query_id}: {data.queries[query_id]}"]
        for rank, hit in enumerate(reranked[query_id][: args.show], start=1):
            text = data.corpus[hit.corpus_id].replace("\n", " ")
            lines.append(f"  {rank}. [{hit.corpus_id}] {hit.score:.4f} {text[:100]}")
        console.result(
            "\n".join(lines),
            event="ranking",
            query_id=query_id,
            results=[vars(hit) for hit in reranked[query_id][: args.show]],
        )
    if data.relevant_docs:
        console.metrics("retrieval" if args.retriever else "input", ranking.metrics(data, retrieved))
        console.metrics("reranked", ranking.metrics(data, reranked))
