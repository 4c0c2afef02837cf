"""``embedforge evaluate``: STS / triplet / BEIR flags and recipes; metrics as the evaluators compute them."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from embedforge.cli import main

PAIRS = [
    ("A man is playing a guitar.", "A man plays music.", 4.2),
    ("A dog runs on the beach.", "A cat sits under the table.", 0.5),
    ("Two children are playing in the park.", "Children play outside near the water.", 3.6),
    ("The quick brown fox jumps.", "A woman is eating food.", 0.1),
    ("An old man sits outside.", "A man is sitting outside the house.", 3.9),
    ("what is the capital?", "A red car on the street.", 0.0),
    ("A woman walks her dog.", "A person walks with a dog.", 4.5),
    ("Three people play music.", "People are playing the guitar.", 3.1),
]


def write_csv(path: Path, header: list[str], rows: list[tuple]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run_json(*argv: str, capsys: pytest.CaptureFixture[str]) -> dict[str, float]:
    assert main(["evaluate", *argv, "--device", "cpu", "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    metrics = [event for event in events if event["event"] == "metrics"]
    assert len(metrics) == 1
    return metrics[0]["metrics"]


def load(model: Path) -> object:
    from embedforge import SentenceTransformer

    return SentenceTransformer(str(model), device="cpu")


def test_sts_metrics_equal_the_evaluator(
    tiny_bert_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from embedforge.evaluation import EmbeddingSimilarityEvaluator

    path = write_csv(tmp_path / "sts.csv", ["sentence1", "sentence2", "score"], PAIRS)
    metrics = run_json(str(tiny_bert_path), "--sts", str(path), "--batch-size", "4", "--limit", "6", capsys=capsys)
    rows = PAIRS[:6]
    expected = EmbeddingSimilarityEvaluator(
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], batch_size=4, name="sts"
    )(load(tiny_bert_path))
    assert metrics.keys() == expected.keys()
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6)


def test_sts_readable_output(tiny_bert_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "stsb"
    folder.mkdir()
    path = write_csv(folder / "test.csv", ["sentence1", "sentence2", "score"], PAIRS)
    assert main(["evaluate", str(tiny_bert_path), "--sts", str(path), "--device", "cpu", "-q"]) == 0
    out = capsys.readouterr().out
    assert "stsb-test_spearman_cosine: " in out  # split-named files get their folder's name
    assert "stsb-test_pearson_cosine: " in out


def test_several_flags_run_sequentially_and_write_csv(
    tiny_bert_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sts = write_csv(tmp_path / "sts.csv", ["sentence1", "sentence2", "score"], PAIRS)
    triplets = write_csv(
        tmp_path / "triplets.csv",
        ["anchor", "positive", "negative"],
        [(a, b, PAIRS[(i + 3) % len(PAIRS)][1]) for i, (a, b, _) in enumerate(PAIRS)],
    )
    results = tmp_path / "results"
    metrics = run_json(
        str(tiny_bert_path),
        "--sts",
        str(sts),
        "--triplets",
        str(triplets),
        "--sts",
        str(sts),
        "--output-path",
        str(results),
        capsys=capsys,
    )
    assert "sts_spearman_cosine" in metrics
    assert "sts__spearman_cosine" in metrics  # a repeated name gets a suffix
    assert 0.0 <= metrics["triplets_cosine_accuracy"] <= 1.0
    assert metrics["sequential_score"] == metrics["triplets_cosine_accuracy"]  # --sts, then --triplets, then --beir
    assert sorted(path.name for path in results.iterdir()) == [
        "similarity_evaluation_sts__results.csv",
        "similarity_evaluation_sts_results.csv",
        "triplet_evaluation_triplets_results.csv",
    ]


def test_beir_folder(tiny_bert_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "toy-ir"
    (folder / "qrels").mkdir(parents=True)
    documents = {f"d{i}": pair[1] for i, pair in enumerate(PAIRS)}
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "title": "", "text": v}) + "\n" for k, v in documents.items())
    )
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": f"q{i}", "text": pair[0]}) + "\n" for i, pair in enumerate(PAIRS))
    )
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(len(PAIRS)))
    )
    metrics = run_json(str(tiny_bert_path), "--beir", str(folder), "--limit", "3", capsys=capsys)
    assert 0.0 <= metrics["toy-ir_cosine_ndcg@10"] <= 1.0
    assert metrics["toy-ir_cosine_accuracy@10"] == 1.0  # 8 documents: every relevant one is in the top 10


@pytest.mark.skipif(
    importlib.util.find_spec("embedforge.config.build") is None,
    reason="embedforge.config.build (the recipe schema) is not there yet",
)
def test_recipe_evaluators(tiny_bert_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sts = write_csv(tmp_path / "sts.csv", ["sentence1", "sentence2", "score"], PAIRS)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "evaluators:\n"
        "  - name: EmbeddingSimilarityEvaluator\n"
        f"    data: {{path: {sts}}}\n"
        "    args: {name: sts-dev}\n"
        "    when: [during]\n"
        "  - name: EmbeddingSimilarityEvaluator\n"
        f"    data: {{path: {sts}}}\n"
        "    args: {name: sts-test}\n"
        "    when: [before, after]\n"
    )
    metrics = run_json(
        str(tiny_bert_path),
        "--stage",
        "after",
        "--recipe",
        str(recipe),
        "evaluators.1.args.name=renamed",
        capsys=capsys,
    )
    direct = run_json(str(tiny_bert_path), "--sts", str(sts), capsys=capsys)
    assert set(metrics) == {"renamed_pearson_cosine", "renamed_spearman_cosine"}
    assert metrics["renamed_spearman_cosine"] == pytest.approx(direct["sts_spearman_cosine"], abs=1e-6)
    assert main(["evaluate", str(tiny_bert_path), "--recipe", str(tmp_path / "missing.yaml"), "-q"]) == 1
    assert "missing.yaml" in capsys.readouterr().err


def test_data_errors(tiny_bert_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    no_score = write_csv(tmp_path / "no_score.csv", ["sentence1", "sentence2", "label"], PAIRS)
    bad_score = write_csv(tmp_path / "bad.csv", ["sentence1", "sentence2", "score"], [("a", "b", "high"), *PAIRS])
    cases = [
        (["--sts", str(tmp_path / "missing.csv")], "does not exist"),
        (["--sts", str(no_score)], "no column 'score'; found columns ['sentence1', 'sentence2', 'label']"),
        (["--sts", str(bad_score)], "row 1 has score 'high'"),
        (["--triplets", str(no_score)], "no column 'anchor'"),
        (["--beir", str(tmp_path)], "has neither corpus.jsonl"),
    ]
    for options, message in cases:
        assert main(["evaluate", str(tiny_bert_path), *options, "--device", "cpu", "-q"]) == 1, options
        assert message in capsys.readouterr().err


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "model"]) == 2
    assert "Nothing to evaluate" in capsys.readouterr().err
    assert main(["evaluate", "model", "--sts", "x.csv", "--limit", "0"]) == 2
    assert "--limit must be a positive integer" in capsys.readouterr().err
    assert main(["evaluate", "model", "--recipe", "r.yaml", "not-an-override"]) == 2
    assert "is not KEY=VALUE" in capsys.readouterr().err
    assert main(["evaluate", "model", "--sts", "x.csv", "--stage", "after"]) == 2
    assert "--stage selects among a recipe's evaluators" in capsys.readouterr().err
    assert main(["evaluate", "--sts", "x.csv"]) == 2  # no MODEL
