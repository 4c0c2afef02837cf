"""Every batch sampler over 2 processes, sharded by accelerate as the trainer's dataloader is.

The trainer builds the dataloader with ``embedforge.training.dataloaders.build`` and prepares it with accelerate
(``even_batches=False``): process ``r`` takes batches ``r, r + 2, …``; the batches of one step form the global
batch. For each sampler and one epoch: both ranks run the same number of steps with equal per-device batch sizes
(a gathered loss needs them), no row is used twice, the rows used are all rows but the documented leftover
(the equal split of the last step drops ``R % 2`` rows; ``drop_last`` drops the leftover step; multi-dataset
samplers drop each dataset's leftover step), NO_DUPLICATES keeps every value unique within the global batch, and
a multi-dataset step draws both ranks' batches from one dataset.

The sharding is a pure function of the sampler's batches, so most cases simulate the ranks in one process with
accelerate's own ``BatchSamplerShard``; one test runs 2 real gloo processes through ``prepare_data_loader`` and
checks they see exactly the simulated batches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch.distributed as dist

from spawn_helpers import leave_group, run_ranks

datasets = pytest.importorskip("datasets")
accelerate_data_loader = pytest.importorskip("accelerate.data_loader")

WORLD_SIZE = 2


@dataclass
class _Args:
    """The fields of the training arguments that ``dataloaders.build`` reads."""

    batch_sampler: str = "batch_sampler"
    multi_dataset_batch_sampler: str = "proportional"
    dataloader_drop_last: bool = False
    seed: int = 7
    dataloader_num_workers: int = 0
    dataloader_pin_memory: bool = False
    dataloader_persistent_workers: bool = False
    dataloader_prefetch_factor: int | None = None


def _pairs(rows: int, distinct_anchors: int, prefix: str = "") -> datasets.Dataset:
    """(anchor, positive) rows whose anchors repeat (``distinct_anchors`` values) and positives do not."""
    return datasets.Dataset.from_dict(
        {
            "anchor": [f"{prefix}anchor {i % distinct_anchors}" for i in range(rows)],
            "positive": [f"{prefix}positive {i}" for i in range(rows)],
        }
    )


def _labelled(labels: int, per_label: int) -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {
            "sentence": [f"sentence {i}" for i in range(labels * per_label)],
            "label": [i % labels for i in range(labels * per_label)],
        }
    )


# name -> (datasets, batch sampler, multi-dataset sampler, drop_last, batch size, rows expected to be used)
CASES: dict[str, tuple[dict[str, Any], str, str, bool, int, int]] = {
    # 22 rows, global batch 8: 2 full steps, then 6 leftover rows shared 3 + 3: every row once.
    "default": ({"pairs": (22, 22)}, "batch_sampler", "proportional", False, 4, 22),
    # 23 rows: the leftover 7 rows are shared 3 + 3, one row waits for the next epoch.
    "default_odd_rest": ({"pairs": (23, 23)}, "batch_sampler", "proportional", False, 4, 22),
    # drop_last: only the 2 full steps.
    "default_drop_last": ({"pairs": (23, 23)}, "batch_sampler", "proportional", True, 4, 16),
    # 30 rows but only 10 distinct anchors: a global batch of 8 holds 8 distinct anchors.
    "no_duplicates": ({"pairs": (30, 10)}, "no_duplicates", "proportional", False, 4, None),
    "no_duplicates_hashed": ({"pairs": (30, 10)}, "no_duplicates_hashed", "proportional", False, 4, None),
    "no_duplicates_drop_last": ({"pairs": (30, 10)}, "no_duplicates", "proportional", True, 4, None),
    # 6 labels x 8 rows, batch 10: 2 steps of 20, then 8 rows shared 4 + 4.
    "group_by_label": ({"labelled": (6, 8)}, "group_by_label", "proportional", False, 10, 48),
    # 22 + 13 rows: 2 + 1 full steps of 8; each dataset's leftover step is dropped.
    "proportional": ({"pairs": (22, 22), "more": (13, 13)}, "batch_sampler", "proportional", False, 4, 24),
    # round robin: as many steps of each dataset as the smaller one has (1).
    "round_robin": ({"pairs": (22, 22), "more": (13, 13)}, "batch_sampler", "round_robin", False, 4, 16),
}


def _build_datasets(spec: dict[str, Any]) -> dict[str, datasets.Dataset]:
    built = {}
    for name, sizes in spec.items():
        built[name] = _labelled(*sizes) if name == "labelled" else _pairs(*sizes, prefix=f"{name} ")
    return built


def _loader(case: str, num_processes: int | None) -> Any:
    """The training dataloader (before accelerate) exactly as the trainer builds it."""
    from embedforge.data.samplers import BatchSampler, MultiDatasetDefaultBatchSampler
    from embedforge.training import dataloaders
    from embedforge.training.arguments import BatchSamplers, MultiDatasetBatchSamplers

    spec, sampler, multi, drop_last, batch_size, _ = CASES[case]
    args = _Args(BatchSamplers(sampler), MultiDatasetBatchSamplers(multi), drop_last)
    prepared = dataloaders.prepare_datasets(_build_datasets(spec), with_names=False)
    loader = dataloaders.build(prepared, args, batch_size, collator=lambda rows: rows)
    if num_processes is not None:
        if isinstance(loader.batch_sampler, MultiDatasetDefaultBatchSampler):
            loader.batch_sampler.set_num_processes(num_processes)
        else:
            assert isinstance(loader.batch_sampler, BatchSampler)
            loader.batch_sampler.num_processes = num_processes
    return loader


def _simulated_ranks(case: str) -> list[list[list[int]]]:
    """Each rank's batches, from accelerate's BatchSamplerShard over the trainer's batch sampler."""
    sampler = _loader(case, WORLD_SIZE).batch_sampler
    return [
        list(accelerate_data_loader.BatchSamplerShard(sampler, WORLD_SIZE, rank, even_batches=False))
        for rank in range(WORLD_SIZE)
    ]


def _check_epoch(case: str, ranks: list[list[list[int]]]) -> None:
    spec, sampler_name, _, drop_last, batch_size, expected_rows = CASES[case]
    loader = _loader(case, WORLD_SIZE)
    concat = loader.dataset
    assert len(ranks[0]) == len(ranks[1]) > 0, "both ranks must run the same number of steps"
    assert len(loader.batch_sampler) == WORLD_SIZE * len(ranks[0])
    used = [row for batches in ranks for batch in batches for row in batch]
    assert len(used) == len(set(used)), "a row was used twice in one epoch"
    if expected_rows is not None:
        assert len(used) == expected_rows
    for step, batches in enumerate(zip(*ranks, strict=True)):
        assert len({len(batch) for batch in batches}) == 1, f"step {step}: per-device batch sizes differ"
        assert all(0 < len(batch) <= batch_size for batch in batches)
        rows = [concat[index] for batch in batches for index in batch]
        if "dataset_name" not in rows[0] and len(spec) > 1:
            owners = {row["anchor"].split(" ")[0] for row in rows}
            assert len(owners) == 1, f"step {step} mixes datasets {owners}"
        if sampler_name.startswith("no_duplicates"):
            values = [value for row in rows for value in row.values()]
            assert len(values) == len(set(values)), f"step {step}: a value repeats in the global batch"
        if drop_last:
            assert all(len(batch) == batch_size for batch in batches)


@pytest.mark.parametrize("case", sorted(CASES))
def test_two_ranks_one_epoch(case: str) -> None:
    _check_epoch(case, _simulated_ranks(case))


def test_no_duplicates_uses_every_row_it_can() -> None:
    """Duplicate anchors limit how many rows fit; the rows used are the full global batches plus the split tail."""
    ranks = _simulated_ranks("no_duplicates")
    used = {row for batches in ranks for batch in batches for row in batch}
    # 10 distinct anchors, 3 rows each: greedy global batches of 8 use at least 24 of the 30 rows.
    assert len(used) >= 24


def test_single_process_batches_unchanged() -> None:
    """With one process the sampler yields what it always did (sentence-transformers' batches)."""
    for case in ("default_odd_rest", "group_by_label", "proportional"):
        one = list(_loader(case, 1).batch_sampler)
        default = list(_loader(case, None).batch_sampler)
        assert one == default


def test_full_steps_equal_single_process_batches() -> None:
    """On 2 ranks the full steps are the single-process batches, in order: only the leftover is redistributed."""
    single = list(_loader("default_odd_rest", 1).batch_sampler)
    ranks = _simulated_ranks("default_odd_rest")
    interleaved = [batch for step in zip(*ranks, strict=True) for batch in step]
    assert interleaved[:4] == single[:4]
    tail = [row for batch in interleaved[4:] for row in batch]
    single_tail = [row for batch in single[4:] for row in batch]
    assert tail == single_tail[:6]


def _rank_worker(rank: int, init_file: str, out_dir: str) -> None:
    from accelerate.data_loader import prepare_data_loader

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    try:
        result = {}
        for case in CASES:
            loader = _loader(case, None)  # the world size comes from torch.distributed, as in training
            prepared = prepare_data_loader(loader, num_processes=WORLD_SIZE, process_index=rank, even_batches=False)
            index_of = {json.dumps(row, sort_keys=True): index for index, row in enumerate(loader.dataset)}
            result[case] = [[index_of[json.dumps(row, sort_keys=True)] for row in rows] for rows in prepared]
            result[f"{case}/len"] = len(prepared)
        (Path(out_dir) / f"rank{rank}.json").write_text(json.dumps(result))
        leave_group()  # every rank has saved; skips the gloo teardown (see spawn_helpers)
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed gloo")
def test_two_real_processes_see_the_simulated_batches(tmp_path: Path) -> None:
    run_ranks(_rank_worker, (str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD_SIZE)
    results = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(WORLD_SIZE)]
    for case in CASES:
        ranks = [result[case] for result in results]
        assert ranks == _simulated_ranks(case), case
        assert [result[f"{case}/len"] for result in results] == [len(ranks[0])] * WORLD_SIZE
        _check_epoch(case, ranks)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("num_processes", [2, 3])
def test_length_matches_the_batches_for_every_size(num_processes: int, drop_last: bool) -> None:
    """``len`` (which sets the trainer's step count) equals the batches yielded; steps hold equal batches."""
    from embedforge.data.samplers import DefaultBatchSampler

    for rows in range(0, 30):
        for batch_size in range(1, 6):
            sampler = DefaultBatchSampler(list(range(rows)), batch_size, drop_last)
            sampler.num_processes = num_processes
            batches = list(sampler)
            assert len(batches) == len(sampler), (rows, batch_size)
            assert len(batches) % num_processes == 0
            for start in range(0, len(batches), num_processes):
                assert len({len(batch) for batch in batches[start : start + num_processes]}) == 1
            used = [row for batch in batches for row in batch]
            assert len(used) == len(set(used))
            full = rows // (num_processes * batch_size) * num_processes * batch_size
            leftover = 0 if drop_last else (rows - full) // num_processes * num_processes
            assert len(used) == full + leftover


def test_leftover_step_dropped_when_a_batch_breaks_the_promise() -> None:
    from embedforge.data.samplers.sharding import whole_steps

    steps = [[[0, 1], [2, 3]], [[4, 5], [6, 7]], [[8, 9, 10, 11]]]
    assert list(whole_steps(steps, 2, 2, keep_tail=True)) == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]
    rejected = whole_steps(steps, 2, 2, keep_tail=True, accept=lambda batch: 8 not in batch)
    assert list(rejected) == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert list(whole_steps(steps, 2, 2, keep_tail=False)) == [[0, 1], [2, 3], [4, 5], [6, 7]]
