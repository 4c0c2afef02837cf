"""``embedforge export`` and ``embedforge encode --backend``: files written in ST's layout, outputs equal torch's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from embedforge.cli import main

TEXTS = ["A man is playing a guitar.", "A dog runs on the beach.", "what is the capital?"]


def test_export_onnx_optimize_and_quantize(bi_encoder_path: Path) -> None:
    args = ["export", str(bi_encoder_path), "--backend", "onnx", "--optimize", "O3", "--quantize", "avx512_vnni"]
    assert main([*args, "-q"]) == 0
    names = sorted(p.name for p in (bi_encoder_path / "onnx").iterdir())
    assert names == ["model.onnx", "model_O3.onnx", "model_qint8_avx512_vnni.onnx"]
    assert (bi_encoder_path / "model.safetensors").is_file()  # the torch weights stay


def test_encode_with_backend_equals_torch(bi_encoder_path: Path, tmp_path: Path) -> None:
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    outputs = {}
    for backend in ("torch", "onnx"):
        outputs[backend] = tmp_path / f"{backend}.npy"
        code = main(["encode", str(bi_encoder_path), str(source), "-o", str(outputs[backend]), "--backend", backend])
        assert code == 0
    np.testing.assert_allclose(np.load(outputs["onnx"]), np.load(outputs["torch"]), atol=1e-5)
    code = main(["encode", str(bi_encoder_path), str(source), "-o", str(tmp_path / "x.npy"), "--file-name", "m.onnx"])
    assert code == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--backend", "openvino", "--optimize", "O2"], "Drop --optimize"),
        (["--backend", "onnx", "--quantize", "static"], "static is OpenVINO's"),
        (["--backend", "openvino", "--quantize", "avx2"], "--quantize static"),
        (["--backend", "openvino", "--calibration-file", "x.csv"], "go together"),
    ],
)
def test_export_refuses_bad_combinations(
    bi_encoder_path: Path, options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(bi_encoder_path), *options]) == 1
    assert message in capsys.readouterr().err


def test_export_needs_a_local_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tmp_path / "nope"), "--backend", "onnx"]) == 1
    assert "local model folder" in capsys.readouterr().err
