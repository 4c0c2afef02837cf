"""embedforge.util.file_io: local lookups, offline Hub answers (as ST gives them) and http_get on a local server."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedforge.util import file_io


@pytest.fixture(scope="module")
def st_file_io():
    return pytest.importorskip("sentence_transformers.util.file_io")


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "modules.json").write_text("[]")
    (folder / "1_Pooling" / "config.json").write_text("{}")
    return folder


def test_local_files_and_folders(model_folder: Path):
    assert file_io.load_file_path(str(model_folder), "modules.json") == str(model_folder / "modules.json")
    assert file_io.load_file_path(str(model_folder), "config.json", subfolder="1_Pooling") == str(
        model_folder / "1_Pooling" / "config.json"
    )
    assert file_io.load_file_path(str(model_folder), "missing.json") is None
    assert file_io.load_dir_path(str(model_folder), "1_Pooling") == str(model_folder / "1_Pooling")
    assert file_io.load_dir_path(str(model_folder), Path("1_Pooling")) == str(model_folder / "1_Pooling")
    assert file_io.load_dir_path(str(model_folder), "2_Dense") is None
    assert file_io.is_sentence_transformer_model(str(model_folder)) is True
    (model_folder / "modules.json").unlink()
    assert file_io.is_sentence_transformer_model(str(model_folder)) is False


@pytest.mark.parametrize("bad", ["../secret.json", "/etc/passwd", "C:\\windows", "a/../../b", "nul\0byte"])
def test_rejects_paths_leaving_the_model(model_folder: Path, bad: str):
    with pytest.raises(ValueError, match="relative path"):
        file_io.load_file_path(str(model_folder), bad)
    with pytest.raises(ValueError, match="relative path"):
        file_io.load_dir_path(str(model_folder), bad)


def test_offline_hub_answers_match_st(st_file_io, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = str(tmp_path / "cache")
    for module in (file_io, st_file_io):
        assert module.load_file_path("someorg/somerepo", "modules.json", cache_folder=cache) is None
        assert module.load_file_path("bad//id", "modules.json", cache_folder=cache) is None
        assert module.load_dir_path("someorg/somerepo", "1_Pooling", cache_folder=cache) is None
        assert module.is_sentence_transformer_model("someorg/somerepo", cache_folder=cache) is False


def test_disabled_tqdm_is_disabled():
    bar = file_io.disabled_tqdm(total=10, disable=False)
    assert bar.disable is True
    bar.update(5)
    bar.close()
    del bar


class _Handler(http.server.BaseHTTPRequestHandler):
    payload = b"x" * 5000

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/file.bin")
            self.end_headers()
        elif self.path == "/file.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.payload)))
            self.end_headers()
            self.wfile.write(self.payload)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_http_get_downloads_and_follows_redirects(server: str, tmp_path: Path):
    target = tmp_path / "nested" / "dir" / "file.bin"
    file_io.http_get(f"{server}/redirect", str(target))
    assert target.read_bytes() == _Handler.payload
    assert not Path(str(target) + "_part").exists()


def test_http_get_raises_on_error_status(server: str, tmp_path: Path):
    target = tmp_path / "missing.bin"
    with pytest.raises(file_io._http_client().HTTPStatusError, match="404"):
        file_io.http_get(f"{server}/missing", str(target))
    assert not target.exists()
    assert not Path(str(target) + "_part").exists()
