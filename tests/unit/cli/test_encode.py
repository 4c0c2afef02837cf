"""``embedforge encode``: texts from .txt/.csv/.tsv/.jsonl(.gz) to .npy/.parquet, options, and clear errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from embedforge.cli import main

TEXTS = ["A man is playing a guitar.", "A dog runs on the beach.", "what is the capital?"]


def encode(model: Path, source: Path, output: Path, *options: str) -> int:
    return main(["encode", str(model), str(source), "-o", str(output), "--device", "cpu", "-q", *options])


def reference(model: Path, texts: list[str], **kwargs: object) -> np.ndarray:
    from embedforge import SentenceTransformer

    return SentenceTransformer(str(model), device="cpu").encode(texts, **kwargs)


def test_txt_to_npy_matches_model_encode(tiny_bert_path: Path, tmp_path: Path) -> None:
    source = tmp_path / "texts.txt"
    source.write_text(TEXTS[0] + "\n\n" + "\n".join(TEXTS[1:]) + "\n", encoding="utf-8")  # a blank line: skipped
    output = tmp_path / "out" / "emb.npy"
    assert encode(tiny_bert_path, source, output) == 0
    embeddings = np.load(output)
    assert embeddings.shape == (3, 32)
    np.testing.assert_allclose(embeddings, reference(tiny_bert_path, TEXTS), atol=1e-5)


def test_csv_tsv_jsonl_gz_inputs_and_columns(tiny_bert_path: Path, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,body\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(TEXTS)))
    (tmp_path / "b.tsv").write_text("text\tid\n" + "".join(f"{t}\t{i}\n" for i, t in enumerate(TEXTS)))
    with gzip.open(tmp_path / "c.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps({"question": t, "n": 1}) + "\n" for t in TEXTS)
    expected = reference(tiny_bert_path, TEXTS)
    for name, options in (
        ("a.csv", ["--column", "body"]),
        ("a.csv", []),
        ("b.tsv", []),
        ("c.jsonl.gz", ["--field", "question"]),
    ):
        output = tmp_path / f"{name}.npy"
        assert encode(tiny_bert_path, tmp_path / name, output, *options) == 0
        if name == "a.csv" and not options:  # no 'text' column: the first column ("id") is embedded
            assert not np.allclose(np.load(output), expected, atol=1e-4)
        else:
            np.testing.assert_allclose(np.load(output), expected, atol=1e-5)


def test_parquet_output_with_options(tiny_bert_path: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    source = tmp_path / "texts.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    output = tmp_path / "emb.parquet"
    options = [
        "--normalize",
        "--truncate-dim",
        "8",
        "--prompt",
        "query: ",
        "--batch-size",
        "2",
        "--max-seq-length",
        "16",
    ]
    assert encode(tiny_bert_path, source, output, *options) == 0
    table = pq.read_table(output)
    assert table.column_names == ["text", "embedding"]
    assert table.column("text").to_pylist() == TEXTS
    embeddings = np.array(table.column("embedding").to_pylist(), dtype=np.float32)
    assert embeddings.shape == (3, 8)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    expected = reference(tiny_bert_path, TEXTS, prompt="query: ", normalize_embeddings=True, truncate_dim=8)
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)


@pytest.mark.parametrize(("precision", "dtype", "width"), [("int8", np.int8, 32), ("ubinary", np.uint8, 4)])
def test_precision(tiny_bert_path: Path, tmp_path: Path, precision: str, dtype: type, width: int) -> None:
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(TEXTS))
    output = tmp_path / "emb.npy"
    assert encode(tiny_bert_path, source, output, "--precision", precision) == 0
    embeddings = np.load(output)
    assert embeddings.dtype == dtype
    assert embeddings.shape == (3, width)


def test_json_mode_events(tiny_bert_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(TEXTS))
    output = tmp_path / "emb.npy"
    code = main(["encode", str(tiny_bert_path), str(source), "-o", str(output), "--device", "cpu", "--json"])
    assert code == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-1]["event"] == "encoded"
    assert events[-1]["shape"] == [3, 32]
    assert events[-1]["path"] == str(output)


def test_errors(tiny_bert_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.csv").write_text("id,text\n1,hello\n")
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "t.xml").write_text("<a/>")
    (tmp_path / "bad.jsonl").write_text('{"text": "fine"}\n{"text": 3}\n')
    cases = [
        ("missing.txt", "out.npy", [], "does not exist"),
        ("t.xml", "out.npy", [], "Unknown input file type '.xml'"),
        ("t.csv", "out.csv", [], "Unknown output file type '.csv'"),
        ("t.csv", "out.npy", ["--column", "body"], "found columns ['id', 'text']"),
        ("empty.txt", "out.npy", [], "holds no texts"),
        ("bad.jsonl", "out.npy", [], "row 2 of 'text' is int 3"),
        ("t.csv", "out.npy", ["--prompt-name", "query"], "is not one of the model's prompts"),
    ]
    for source, output, options, message in cases:
        assert encode(tiny_bert_path, tmp_path / source, tmp_path / output, *options) == 1, source
        assert message in capsys.readouterr().err
        assert not (tmp_path / output).exists()


def test_bad_arguments(tiny_bert_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["encode", str(tiny_bert_path), "in.txt"]) == 2  # no -o
    assert "-o/--output" in capsys.readouterr().err
    assert main(["encode", "m", "in.txt", "-o", "x.npy", "--precision", "float16"]) == 2
    assert main(["encode", "m", "in.txt", "-o", "x.npy", "--prompt", "a", "--prompt-name", "b"]) == 2
    assert main(["encode", "m", str(tmp_path / "in.txt"), "-o", "x.npy", "--batch-size", "0"]) == 2
    assert "--batch-size must be a positive integer" in capsys.readouterr().err
