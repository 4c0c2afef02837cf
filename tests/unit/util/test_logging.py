"""embedforge.util.logging: LoggingHandler writes through tqdm; install_logger needs coloredlogs."""

from __future__ import annotations

import importlib.util
import logging

import pytest

from embedforge.util import LoggingHandler, install_logger
from embedforge.util import logging as util_logging


def test_logging_handler_writes_through_tqdm(monkeypatch: pytest.MonkeyPatch):
    written: list[str] = []
    monkeypatch.setattr("tqdm.tqdm.write", lambda message, *args, **kwargs: written.append(message))
    handler = LoggingHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s|%(message)s"))
    logger = logging.getLogger("embedforge.test.handler")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("hello %s", "world")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert written == ["WARNING|hello world"]


def test_logging_handler_level_filters(monkeypatch: pytest.MonkeyPatch):
    written: list[str] = []
    monkeypatch.setattr("tqdm.tqdm.write", lambda message, *args, **kwargs: written.append(message))
    handler = LoggingHandler(level=logging.ERROR)
    logger = logging.getLogger("embedforge.test.level")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("dropped")
        logger.error("kept")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert written == ["kept"]


def test_logging_handler_reports_write_errors(monkeypatch: pytest.MonkeyPatch):
    def fail(message: str) -> None:
        raise OSError("closed stream")

    handled: list[logging.LogRecord] = []
    monkeypatch.setattr("tqdm.tqdm.write", fail)
    handler = LoggingHandler()
    monkeypatch.setattr(handler, "handleError", handled.append)
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "boom", None, None)
    handler.emit(record)
    assert handled == [record]


@pytest.mark.skipif(importlib.util.find_spec("coloredlogs") is not None, reason="coloredlogs is installed")
def test_install_logger_without_coloredlogs_explains():
    with pytest.raises(ImportError, match="pip install coloredlogs"):
        install_logger(logging.getLogger("embedforge.test.install"))


@pytest.mark.skipif(importlib.util.find_spec("coloredlogs") is None, reason="coloredlogs is not installed")
def test_install_logger_adds_notice_level():
    logger = logging.getLogger("embedforge.test.install")
    install_logger(logger, level=logging.INFO)
    assert logging.getLevelName(25) == "NOTICE"
    logger.notice("a notice")  # type: ignore[attr-defined]


def test_warn_once(caplog: pytest.LogCaptureFixture):
    logger = logging.getLogger("embedforge.test.once")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        for _ in range(3):
            util_logging.warn_once(logger, "only once")
        util_logging.warn_once(logger, "another")
    assert [record.getMessage() for record in caplog.records] == ["only once", "another"]
