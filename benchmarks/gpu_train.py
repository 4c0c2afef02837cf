"""One timed training run of one library variant, as the GPU suite measures it.

A run builds a fresh model from the folder and a fresh trainer (learning rate 2e-5, warm-up 10 %, seed 12, no
evaluation, checkpoint or logging integration) and trains ``warmup_steps + steps`` steps. A callback synchronises
the device at the end of the last warm-up step and at the end of the last step, and samples/s is
``timed steps x batch`` over the time between the two: data loading, forward, backward, optimizer and callbacks,
everything the trainer does per step. Steps in between are not synchronised (as in a real run); the timed window
stops after the first step that ends past ``max_timed_s``. A forward hook on the trainer's loss module keeps every
step's loss on the device (no synchronisation) and reads them after training: the loss curve.

Variants:

- ``sentence-transformers``: ST's best flags short of compilation: ``bf16=True``, ``dataloader_num_workers=4``,
  ``dataloader_pin_memory=True``;
- ``sentence-transformers[compile]``: the same plus ``torch_compile=True`` (compilation falls in the warm-up);
- ``embedforge``: its defaults plus ``bf16=True`` (the engine picks its own GPU settings);
- ``embedforge[padded]`` / ``embedforge[unpadded]``: ``Transformer.unpad`` forced to False / True;
  ``embedforge[compile]``: ``torch_compile=True``; ``embedforge[graphs]``: ``torch_compile=True`` with
  ``torch_compile_mode="reduce-overhead"`` (CUDA graphs: padded forward, widths bucketed to multiples of 32 tokens;
  ``embedforge.engine.batch_shapes``); ``embedforge[no-gpu-defaults]``: ``gpu_defaults=False`` (the engine's
  automatic GPU settings off; an error is recorded where the arguments have no such field).
"""

from __future__ import annotations

import gc
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpu_configs import TrainConfig
from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback

EMBEDFORGE = "embedforge"
ST = "sentence-transformers"


@dataclass(frozen=True)
class Variant:
    """A library and the flags it trains with.

    Attributes:
        name: Name in the report, e.g. ``embedforge[padded]``.
        library: ``embedforge`` or ``sentence-transformers``.
        unpad: embedforge only: force ``Transformer.unpad`` (None: the library's default).
        compile: ``torch_compile=True``.
        workers: ``dataloader_num_workers`` (None: the library's default).
        pin_memory: ``dataloader_pin_memory`` (None: the library's default).
        arguments: Further training-argument keywords, as ``(name, value)`` pairs.
    """

    name: str
    library: str
    unpad: bool | None = None
    compile: bool = False
    workers: int | None = None
    pin_memory: bool | None = None
    arguments: tuple[tuple[str, Any], ...] = ()


EF_VARIANTS = {
    "default": Variant(EMBEDFORGE, EMBEDFORGE),
    "padded": Variant(f"{EMBEDFORGE}[padded]", EMBEDFORGE, unpad=False),
    "unpadded": Variant(f"{EMBEDFORGE}[unpadded]", EMBEDFORGE, unpad=True),
    "compile": Variant(f"{EMBEDFORGE}[compile]", EMBEDFORGE, compile=True),
    "graphs": Variant(
        f"{EMBEDFORGE}[graphs]", EMBEDFORGE, compile=True, arguments=(("torch_compile_mode", "reduce-overhead"),)
    ),
    "no-gpu-defaults": Variant(f"{EMBEDFORGE}[no-gpu-defaults]", EMBEDFORGE, arguments=(("gpu_defaults", False),)),
}


def st_variant(workers: int, device: str, compile_model: bool = False) -> Variant:
    """sentence-transformers with its best flags (pinned memory on GPUs), compiled or not."""
    name = f"{ST}[compile]" if compile_model else ST
    return Variant(name, ST, compile=compile_model, workers=workers, pin_memory=device.startswith("cuda"))


def import_library(name: str) -> dict[str, Any]:
    """The model class, trainer, training arguments and losses module of one library."""
    if name == EMBEDFORGE:
        from embedforge import (
            SentenceTransformer,
            SentenceTransformerTrainer,
            SentenceTransformerTrainingArguments,
            losses,
        )
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from sentence_transformers import (  # type: ignore[no-redef]
                SentenceTransformer,
                SentenceTransformerTrainer,
                SentenceTransformerTrainingArguments,
                losses,
            )
    return {
        "model": SentenceTransformer,
        "trainer": SentenceTransformerTrainer,
        "arguments": SentenceTransformerTrainingArguments,
        "losses": losses,
    }


def synchronize(device: str) -> None:
    """Wait for the device's queued kernels (no-op on CPU)."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


class StepClock(TrainerCallback):
    """Times the steps after the warm-up; stops training once the timed window passes ``max_timed_s``."""

    def __init__(self, warmup_steps: int, max_timed_s: float, device: str) -> None:
        self.warmup_steps = warmup_steps
        self.max_timed_s = max_timed_s
        self.device = device
        self.begin = self.start = self.end = 0.0
        self.steps = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        synchronize(self.device)
        self.begin = self.start = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.steps += 1
        if self.steps == self.warmup_steps:
            synchronize(self.device)
            self.start = time.perf_counter()
        elif self.steps > self.warmup_steps:
            over = time.perf_counter() - self.start >= self.max_timed_s
            if over or state.global_step >= state.max_steps:
                synchronize(self.device)
                self.end = time.perf_counter()
                control.should_training_stop = True

    @property
    def timed_steps(self) -> int:
        return max(self.steps - self.warmup_steps, 0)


class LossRecorder:
    """Keeps the loss module's training outputs (0-dim tensors, still on the device) step by step."""

    def __init__(self, loss: Any) -> None:
        import torch

        self.values: list[Any] = []
        self.handle = loss.register_forward_hook(self._hook) if isinstance(loss, torch.nn.Module) else None

    def _hook(self, module: Any, inputs: Any, output: Any) -> None:
        import torch

        if torch.is_tensor(output) and output.numel() == 1 and torch.is_grad_enabled():
            self.values.append(output.detach().reshape(()))

    def floats(self) -> list[float]:
        """The recorded losses as floats (one host transfer), and the hook removed."""
        import torch

        if self.handle is not None:
            self.handle.remove()
        return torch.stack(self.values).float().cpu().tolist() if self.values else []


@dataclass
class GlobalTorchState:
    """Process-wide torch switches a library could flip for everyone after it (restored before every run)."""

    values: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def read() -> dict[str, Any]:
        import torch

        return {
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "cudnn.benchmark": torch.backends.cudnn.benchmark,
            "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
        }

    def restore(self) -> None:
        import torch

        torch.set_float32_matmul_precision(self.values["float32_matmul_precision"])
        torch.backends.cudnn.benchmark = self.values["cudnn.benchmark"]
        torch.backends.cuda.matmul.allow_tf32 = self.values["cuda.matmul.allow_tf32"]
        torch.backends.cudnn.allow_tf32 = self.values["cudnn.allow_tf32"]

    def changed(self) -> dict[str, Any]:
        """The switches that differ now from the captured values."""
        now = self.read()
        return {key: value for key, value in now.items() if value != self.values[key]}


def training_arguments(config: TrainConfig, variant: Variant, output_dir: str, device: str, bf16: bool) -> dict:
    """The TrainingArguments keywords of one run (the same for both libraries but the variant's flags)."""
    kwargs: dict[str, Any] = {
        "output_dir": output_dir,
        "max_steps": config.warmup_steps + config.steps,
        "per_device_train_batch_size": config.batch_size,
        "bf16": bf16,
        "use_cpu": device == "cpu",
        "learning_rate": 2e-5,
        "warmup_steps": 0.1,
        "seed": 12,
        "eval_strategy": "no",
        "save_strategy": "no",
        "logging_steps": 100_000,
        "report_to": "none",
        "disable_tqdm": True,
    }
    if variant.workers is not None:
        kwargs["dataloader_num_workers"] = variant.workers
    if variant.pin_memory is not None:
        kwargs["dataloader_pin_memory"] = variant.pin_memory
    if variant.compile:
        kwargs["torch_compile"] = True
    kwargs.update(variant.arguments)
    return kwargs


def run_once(
    library: dict[str, Any], variant: Variant, config: TrainConfig, dataset: Any, model_dir: Path, device: str,
    bf16: bool,
) -> dict[str, Any]:  # fmt: skip
    """Train a fresh model for ``config``'s steps with ``variant``'s flags; timings, losses and memory."""
    import torch

    state = GlobalTorchState(GlobalTorchState.read())
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    torch.manual_seed(0)
    model = library["model"](str(model_dir), device=device)
    model.max_seq_length = config.max_seq_length
    if variant.unpad is not None:
        model[0].unpad = variant.unpad
    loss = getattr(library["losses"], config.loss)(model, **config.loss_kwargs)
    clock = StepClock(config.warmup_steps, config.max_timed_s, device)
    with tempfile.TemporaryDirectory(prefix="gpu_bench_") as output_dir:
        arguments = library["arguments"](**training_arguments(config, variant, output_dir, device, bf16))
        trainer = library["trainer"](model=model, args=arguments, train_dataset=dataset, loss=loss, callbacks=[clock])
        trainer.remove_callback(PrinterCallback)  # the end-of-training metrics dict: the JSON has them
        recorder = LossRecorder(trainer.loss)
        metrics = trainer.train().metrics
    losses = recorder.floats()
    timed = clock.end - clock.start
    result = {
        "setup_s": clock.begin - start,
        "warmup_s": clock.start - clock.begin,
        "timed_steps": clock.timed_steps,
        "timed_s": timed,
        "samples_per_s": clock.timed_steps * config.batch_size / timed if timed > 0 else None,
        "train_loss": float(metrics.get("train_loss", float("nan"))),
        "losses": losses,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None,
        "torch_switches_changed": state.changed(),
        "wall_s": time.perf_counter() - start,
    }
    state.restore()
    del trainer, model, loss
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return result
