"""``embedforge train``: help, a tiny end-to-end run, broken recipes, SIGINT + --resume, JSON lines."""

from __future__ import annotations

import json
import os
import signal

import pytest

from embedforge.cli import main
from unit.config.recipe_helpers import tiny_recipe, write_recipe

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def recipe(tmp_path, tiny_bert_path):
    return tiny_recipe(tmp_path, tiny_bert_path)


def test_help_has_examples(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "embedforge train recipes/stsb.yaml" in out and "--resume" in out and "--output-dir" in out


def test_tiny_end_to_end(tmp_path, recipe, capsys):
    from embedforge import SentenceTransformer

    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    assert main(["train", str(path), "training.max_steps=3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "before   test_spearman_cosine" in out and "after    test_spearman_cosine" in out
    assert "test_spearman_cosine: " in out and " -> " in out
    run = tmp_path / "out"
    model = SentenceTransformer(str(run / "final"))
    assert model.encode(["a man plays near the park"]).shape == (1, 32)
    assert "CoSENTLoss" in (run / "final" / "README.md").read_text(encoding="utf-8")
    report = json.loads((run / "report" / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "completed" and report["global_step"] == 3
    assert report["throughput"]["samples"] == 24 and 0 < report["throughput"]["padding_share"] < 1
    assert report["peak_memory_bytes"] > 0
    assert {"loss.png", "learning_rate.png", "eval_dev_spearman_cosine.png"} <= set(report["plots"])
    for name in report["plots"]:
        assert (run / "report" / name).read_bytes().startswith(PNG_MAGIC)
    markdown = (run / "report" / "report.md").read_text(encoding="utf-8")
    assert "| test_spearman_cosine |" in markdown and "(loss.png)" in markdown


def test_a_broken_recipe_leaves_the_output_folder_untouched(tmp_path, recipe, capsys):
    recipe["loss"]["name"] = "CoSentLoss"
    recipe["train_datasets"]["sts"]["path"] = str(tmp_path / "missing.csv")
    recipe["evaluators"][0]["name"] = "NoSuchEvaluator"
    assert main(["train", str(write_recipe(tmp_path / "broken.yaml", recipe)), "-q"]) == 1
    err = capsys.readouterr().err
    assert "CoSentLoss" in err and "missing.csv" in err and "NoSuchEvaluator" in err
    assert "output folder was not touched" in err
    assert not (tmp_path / "out").exists()


def test_sigint_saves_a_checkpoint_and_resume_finishes(tmp_path, recipe, monkeypatch, capsys):
    from embedforge.training.trainer import SentenceTransformerTrainer

    original = SentenceTransformerTrainer.training_step
    sent = []

    def interrupting_step(self, model, inputs, num_items_in_batch=None):
        if self.state.global_step == 1 and not sent:  # during step 2
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, model, inputs, num_items_in_batch)

    monkeypatch.setattr(SentenceTransformerTrainer, "training_step", interrupting_step)
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    args = ["train", str(path), "training.max_steps=4", "training.eval_strategy=no", "-q"]
    assert main(args) == 128 + signal.SIGINT
    run = tmp_path / "out"
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2"]
    assert (run / "checkpoint-2" / "model.safetensors").is_file() and not (run / "final").exists()
    hint = f"Continue with: embedforge train {path} training.max_steps=4 training.eval_strategy=no --resume"
    assert hint in capsys.readouterr().out  # the same overrides (and --output-dir, when given) come back
    assert main(args) == 1  # checkpoints there: refuse to start over without --resume
    assert main([*args, "--resume"]) == 0
    report = json.loads((run / "report" / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "completed" and report["global_step"] == 4
    assert report["throughput"]["steps"] == 2 and (run / "final" / "modules.json").is_file()
    assert signal.getsignal(signal.SIGINT) is not None  # the previous handler is back


def test_json_mode_prints_json_lines(tmp_path, recipe, capsys):
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    assert (
        main(["train", str(path), "training.max_steps=2", "--output-dir", str(tmp_path / "elsewhere"), "--json"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    events = [json.loads(line) for line in lines]
    kinds = {event["event"] for event in events}
    assert {"info", "metrics", "log", "throughput", "done"} <= kinds
    assert [event["label"] for event in events if event["event"] == "metrics"] == ["before", "after"]
    assert (tmp_path / "elsewhere" / "final").is_dir() and not (tmp_path / "out").exists()


def test_resume_without_checkpoint_is_an_error(tmp_path, recipe, capsys):
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    assert main(["train", str(path), "--resume", "-q"]) == 1
    assert "no checkpoint" in capsys.readouterr().err
