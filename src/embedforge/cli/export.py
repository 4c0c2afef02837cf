"""``embedforge export MODEL --backend onnx|openvino``: write exported, optimized and quantized files into MODEL.

ONNX: ``onnx/model.onnx`` (exported from the torch weights when missing), ``--optimize O1..O4`` adds
``onnx/model_<level>.onnx`` and ``--quantize arm64|avx2|avx512|avx512_vnni`` adds ``onnx/model_<dtype>_<preset>.onnx``
(quantized from ``model.onnx``). OpenVINO: ``openvino/openvino_model.xml`` + ``.bin``; ``--quantize static`` adds
``openvino/openvino_model_qint8_quantized.xml`` + ``.bin``, calibrated on ``--calibration-file``/``--column`` texts
(default: GLUE SST-2 from the Hub). The layout is sentence-transformers 6.2's, so either library loads the files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from embedforge.cli.output import Console, add_output_options

__all__ = ["add_parser", "run"]

EXAMPLES = """examples:
  embedforge export ./my-model --backend onnx
  embedforge export ./my-model --backend onnx --optimize O3 --quantize avx512_vnni
  embedforge export ./my-model --backend openvino --quantize static --calibration-file train.csv --column sentence1
  embedforge encode ./my-model texts.txt -o emb.npy --backend onnx --file-name model_O3.onnx
"""
ONNX_QUANTIZE = ("arm64", "avx2", "avx512", "avx512_vnni")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``export`` and its options."""
    parser = subparsers.add_parser(
        "export",
        help="export a model folder to ONNX or OpenVINO (optionally optimized / quantized)",
        description="Export MODEL (a local model folder) to the ONNX or OpenVINO backend and write the files into "
        "MODEL/onnx/ or MODEL/openvino/, with optional graph optimization and int8 quantization.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="local model folder (SentenceTransformer or CrossEncoder)")
    parser.add_argument("--backend", choices=("onnx", "openvino"), required=True, help="the runtime to export to")
    parser.add_argument("--optimize", choices=("O1", "O2", "O3", "O4"), help="ONNX only: graph optimization level")
    parser.add_argument(
        "--quantize",
        choices=(*ONNX_QUANTIZE, "static"),
        help="ONNX: a dynamic int8 preset for the target CPU; OpenVINO: 'static' (int8 with calibration texts)",
    )
    parser.add_argument("--calibration-file", metavar="FILE", help="OpenVINO static: .csv/.tsv/.jsonl of texts")
    parser.add_argument("--column", metavar="NAME", help="OpenVINO static: the text column of --calibration-file")
    parser.add_argument("--num-samples", type=int, default=300, help="OpenVINO static: calibration texts (300)")
    parser.add_argument(
        "--cross-encoder", action="store_true", help="load MODEL as a CrossEncoder (default: from its folder)"
    )
    add_output_options(parser)


def run(args: argparse.Namespace) -> int:
    """Export, optimize and quantize as asked; 0 on success, 1 with a message on bad input."""
    console = Console.from_args(args)
    try:
        _check(args)
        written = _export(args, console)
    except (OSError, ValueError, ImportError) as error:
        console.error(str(error))
        return 1
    for path in written:
        console.result(f"Wrote {path}", event="exported", path=str(path))
    return 0


def _check(args: argparse.Namespace) -> None:
    if not Path(args.model).is_dir():
        raise ValueError(f"MODEL must be a local model folder; {args.model!r} is not a folder.")
    if args.backend == "openvino" and args.optimize:
        raise ValueError("--optimize applies to ONNX graphs; OpenVINO optimizes when it compiles. Drop --optimize.")
    if args.backend == "onnx" and args.quantize == "static":
        raise ValueError(f"--quantize static is OpenVINO's; for ONNX pick one of {', '.join(ONNX_QUANTIZE)}.")
    if args.backend == "openvino" and args.quantize not in (None, "static"):
        raise ValueError(f"OpenVINO quantizes with --quantize static (calibrated); got {args.quantize!r}.")
    if bool(args.calibration_file) != bool(args.column):
        raise ValueError("--calibration-file and --column go together (the file and its text column).")


def _export(args: argparse.Namespace, console: Console) -> list[Path]:
    """Export as asked; the files written (or rewritten) under ``MODEL/<backend>/``."""
    from embedforge import backend as backends

    folder = Path(args.model)
    console.info(f"Loading {folder} with backend={args.backend!r} ...")
    model = _load(folder, args.backend, args.cross_encoder)
    before = _files(folder / args.backend)
    if not (folder / args.backend / model.transformers_model.source_file_name).is_file():
        model.save_pretrained(str(folder))
    if args.optimize:
        backends.export_optimized_onnx_model(model, args.optimize, str(folder))
    if args.quantize == "static":
        backends.export_static_quantized_openvino_model(
            model,
            {"num_samples": args.num_samples},
            str(folder),
            dataset_name=args.calibration_file,
            column_name=args.column,
        )
    elif args.quantize:
        backends.export_dynamic_quantized_onnx_model(model, args.quantize, str(folder))
    after = _files(folder / args.backend)
    return sorted(path for path, stamp in after.items() if before.get(path) != stamp)


def _files(folder: Path) -> dict[Path, int]:
    """The files in ``folder`` with their modification times (empty when it does not exist)."""
    return {path: path.stat().st_mtime_ns for path in folder.glob("*")} if folder.is_dir() else {}


def _load(folder: Path, backend: str, cross_encoder: bool):  # noqa: ANN202 - SentenceTransformer | CrossEncoder
    import json

    from embedforge import CrossEncoder, SentenceTransformer

    settings = folder / "config_sentence_transformers.json"
    saved_type = json.loads(settings.read_text(encoding="utf-8")).get("model_type") if settings.is_file() else None
    family = CrossEncoder if cross_encoder or saved_type == "CrossEncoder" else SentenceTransformer
    return family(str(folder), backend=backend, device="cpu")
