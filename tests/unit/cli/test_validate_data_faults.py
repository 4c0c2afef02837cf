"""``embedforge validate`` / ``train`` on faulty data: missing or non-finite labels, files that are not UTF-8."""

from __future__ import annotations

from pathlib import Path

import pytest

from embedforge.cli import main
from unit.config.recipe_helpers import sts_rows, tiny_recipe, write_csv, write_recipe


def _recipe_with_scores(tmp_path: Path, tiny_bert_path: Path, bad: dict[int, str]) -> Path:
    """The tiny recipe, its training CSV's score cells at the given 0-based data rows replaced."""
    recipe = tiny_recipe(tmp_path, tiny_bert_path)
    rows = sts_rows(32)
    for index, value in bad.items():
        rows[index]["score"] = value
    write_csv(Path(recipe["train_datasets"]["sts"]["path"]), rows)
    return write_recipe(tmp_path / "recipe.yaml", recipe)


def test_validate_reports_nan_empty_and_inf_scores_with_file_rows_and_fix(
    tmp_path: Path, tiny_bert_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = _recipe_with_scores(tmp_path, tiny_bert_path, {1: "nan", 4: "", 30: "inf"})
    assert main(["validate", str(recipe), "--no-model", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "1 problem(s) found" in captured.out
    train_csv = tmp_path / "data" / "train.csv"
    assert f"file {train_csv}: dataset 'sts' with CoSENTLoss" in captured.err
    assert "label column 'score' has missing or non-finite values in 3 row(s) (2 missing, 1 infinite" in captured.err
    assert "rows 2, 5, 31 (1-based data rows" in captured.err and "line = row + 1" in captured.err
    assert "dataset.filter(lambda row: row['score'] is not None and math.isfinite(row['score']))" in captured.err


def test_rows_kept_by_where_are_said_to_be_counted_after_it(
    tmp_path: Path, tiny_bert_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = _recipe_with_scores(tmp_path, tiny_bert_path, {3: ""})
    overrides = ["train_datasets.sts.where={genre: toy}"]
    assert main(["validate", str(recipe), *overrides, "--no-model", "--quiet"]) == 1
    assert "row numbers count the rows kept by 'where'" in capsys.readouterr().err


def test_train_stops_before_touching_the_output_folder(
    tmp_path: Path, tiny_bert_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = _recipe_with_scores(tmp_path, tiny_bert_path, {0: ""})
    assert main(["train", str(recipe), "--quiet"]) == 1
    assert "label column 'score' has missing or non-finite values in 1 row(s)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_validate_names_a_file_that_is_not_utf8_and_the_offset(
    tmp_path: Path, tiny_bert_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tiny_recipe(tmp_path, tiny_bert_path)
    train_csv = Path(recipe["train_datasets"]["sts"]["path"])
    content = train_csv.read_bytes()
    cut = content.index(b"\n", content.index(b"\n") + 1) + 1  # the start of line 3
    train_csv.write_bytes(content[:cut] + b"caf\xe9 " + content[cut:])
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    assert main(["validate", str(path), "--no-model", "--quiet"]) == 1  # a reported problem, not an exception
    err = capsys.readouterr().err
    assert f"train_datasets.sts: {train_csv} is not valid UTF-8: byte 0xe9 at byte offset {cut + 3} (line 3)" in err


def test_nonfinite_loss_is_a_recipe_training_field(
    tmp_path: Path, tiny_bert_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_recipe(tmp_path, tiny_bert_path))
    assert main(["validate", str(recipe), "training.nonfinite_loss=skip", "--no-model", "--quiet"]) == 0
    assert main(["validate", str(recipe), "training.nonfinite_loss=ignore", "--no-model", "--quiet"]) == 1
    assert "nonfinite_loss expects one of ['error', 'skip'], got 'ignore'" in capsys.readouterr().err


def test_encode_and_evaluate_name_an_input_that_is_not_utf8(
    tmp_path: Path, tiny_bert_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_bytes(b"a man plays\n\xe9t\xe9\n")
    assert main(["encode", str(tiny_bert_path), str(texts), "-o", str(tmp_path / "out.npy"), "--device", "cpu"]) == 1
    assert f"{texts} is not valid UTF-8: byte 0xe9 at byte offset 12 (line 2)" in capsys.readouterr().err
    sts = tmp_path / "sts.csv"
    content = b"sentence1,sentence2,score\na man,a dog,0.5\ncaf\xe9,tea,0.1\n"
    sts.write_bytes(content)
    assert main(["evaluate", str(tiny_bert_path), "--sts", str(sts), "--device", "cpu", "-q"]) == 1
    offset = content.index(b"\xe9")
    assert f"{sts} is not valid UTF-8: byte 0xe9 at byte offset {offset} (line 3)" in capsys.readouterr().err


def test_train_skips_a_batch_with_an_infinite_loss_and_reports_the_count(
    tmp_path: Path, tiny_bert_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """1e39 passes the data checks (a finite float64) but is inf as a float32 label: one batch of the epoch."""
    recipe = _recipe_with_scores(tmp_path, tiny_bert_path, {5: "1e39"})
    overrides = ["loss.name=CosineSimilarityLoss", "training.max_steps=4", "training.nonfinite_loss=skip"]
    assert main(["train", str(recipe), *overrides, "--quiet"]) == 0
    report = (tmp_path / "out" / "report" / "report.md").read_text(encoding="utf-8")
    assert "Status: **completed** at step 4. 1 batch skipped for a non-finite (NaN/inf) loss" in report
    assert '"nonfinite_loss_skipped": 1' in (tmp_path / "out" / "report" / "report.json").read_text(encoding="utf-8")


def test_train_stops_on_an_infinite_loss_with_a_clear_error_and_keeps_the_checkpoint(
    tmp_path: Path, tiny_bert_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default policy (``error``): exit 1, the step and value named, the checkpoint before it kept."""
    recipe = _recipe_with_scores(tmp_path, tiny_bert_path, {5: "1e39"})
    overrides = ["loss.name=CosineSimilarityLoss", "training.max_steps=4", "training.save_steps=1"]
    overrides += ["training.save_strategy=steps", "training.per_device_train_batch_size=4"]
    assert main(["train", str(recipe), *overrides, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Non-finite training loss at step 3" in err and "Traceback" not in err
    assert "checkpoint-2, was saved before this batch and is intact" in err
    assert sorted(path.name for path in (tmp_path / "out").glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
