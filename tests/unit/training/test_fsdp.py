"""FSDP: refused up front where accelerate would silently skip it; full weights saved in the ST folder format.

On CPU, accelerate (under transformers' Trainer) never enables FSDP: it sets a CPU run up as ``NO`` (one process)
or ``MULTI_CPU`` (gloo, several processes) and drops the FSDP plugin, so ``fsdp=...`` would silently train with
DDP. The trainer must refuse this in ``__init__``, before step 1; the 2-process test checks it under a real gloo
launch. The save path is tested by handing ``_save`` a full state dict, as Trainer.save_model does under FSDP.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from datasets import Dataset

from embedforge import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from embedforge.losses import MultipleNegativesRankingLoss
from embedforge.training.fsdp import FSDPConfigurationError, check_fsdp, full_weights
from model_builders import build_word_embedding_model
from spawn_helpers import exit_rank, free_port, run_ranks

TEXTS = [f"text number {i} word{i % 5}" for i in range(16)]


def _model() -> SentenceTransformer:
    return build_word_embedding_model(TEXTS, 8)


def _trainer(output_dir: Path, **fsdp_args: object) -> SentenceTransformerTrainer:
    model = _model()
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir), per_device_train_batch_size=4, max_steps=2, use_cpu=True, report_to=[], **fsdp_args
    )
    dataset = Dataset.from_dict({"anchor": TEXTS, "positive": TEXTS[::-1]})
    return SentenceTransformerTrainer(
        model=model, args=args, train_dataset=dataset, loss=MultipleNegativesRankingLoss(model)
    )


def test_fsdp_on_cpu_is_refused_before_training(tmp_path: Path) -> None:
    with pytest.raises(FSDPConfigurationError) as error:
        _trainer(tmp_path, fsdp=True, fsdp_config={"version": 2})
    message = str(error.value)
    assert "distributed_type=NO" in message
    assert "never for CPU processes" in message
    assert "drop fsdp/fsdp_config" in message
    assert not (tmp_path / "checkpoint-1").exists()


def test_without_fsdp_nothing_is_checked(tmp_path: Path) -> None:
    assert _trainer(tmp_path).args.fsdp in (None, False, "", [])


@pytest.mark.parametrize(
    ("requested", "kind", "device", "state_dict_type", "match"),
    [
        (False, "DistributedType.MULTI_CPU", "cpu", None, None),
        (True, "DistributedType.FSDP", "cuda:0", "StateDictType.FULL_STATE_DICT", None),
        (True, "DistributedType.FSDP", "cuda:0", "StateDictType.SHARDED_STATE_DICT", "SHARDED_STATE_DICT"),
        (True, "DistributedType.MULTI_CPU", "cpu", None, "distributed_type=MULTI_CPU"),
        (True, "DistributedType.NO", "cuda:0", None, "needs a distributed launch"),
    ],
)
def test_check_fsdp(requested: bool, kind: str, device: str, state_dict_type: str | None, match: str | None) -> None:
    if match is None:
        check_fsdp(requested, kind, device, state_dict_type)
    else:
        with pytest.raises(FSDPConfigurationError, match=match):
            check_fsdp(requested, kind, device, state_dict_type)


def test_save_writes_the_gathered_full_weights(tmp_path: Path) -> None:
    """Under FSDP the model holds shards; Trainer.save_model passes the full weights, which must be what is saved."""
    trainer = _trainer(tmp_path / "run")
    before = {name: tensor.clone() for name, tensor in trainer.model.state_dict().items()}
    gathered = {name: tensor + 1.0 for name, tensor in before.items()}
    trainer._save(str(tmp_path / "saved"), state_dict=gathered)

    reloaded = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    for name, tensor in reloaded.state_dict().items():
        torch.testing.assert_close(tensor, gathered[name], msg=name)
    for name, tensor in trainer.model.state_dict().items():
        torch.testing.assert_close(tensor, before[name], msg=f"{name} must be restored after the save")


def test_full_weights_rejects_a_foreign_state_dict() -> None:
    model = _model()
    with pytest.raises(ValueError, match="does not have"), full_weights(model, {"not.a.weight": torch.zeros(1)}):
        pass


def _rank_worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(
        {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank), "LOCAL_RANK": str(rank)}
    )
    os.environ["WORLD_SIZE"] = "2"
    try:
        _trainer(Path(out_dir) / "run", fsdp=True)
    except FSDPConfigurationError as error:
        (Path(out_dir) / f"rank{rank}.txt").write_text(str(error))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    exit_rank()


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed gloo")
def test_fsdp_refused_on_two_gloo_processes(tmp_path: Path) -> None:
    run_ranks(_rank_worker, (free_port(), str(tmp_path)))
    for rank in range(2):
        message = (tmp_path / f"rank{rank}.txt").read_text()
        assert "distributed_type=MULTI_CPU" in message, message
