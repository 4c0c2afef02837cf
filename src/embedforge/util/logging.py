"""Logging helpers, at the path sentence-transformers names ``util.logging``.

:class:`LoggingHandler` writes records through ``tqdm.write`` so that log lines do not break progress bars;
:func:`install_logger` sets up coloured console logging (it needs the optional ``coloredlogs`` package).
:func:`warn_once` is the shared "log this warning only once per process" helper of :mod:`embedforge.util`.
"""

from __future__ import annotations

import logging

import tqdm

__all__ = ["LoggingHandler", "install_logger", "warn_once"]

NOTICE = 25
"""The level number of the ``NOTICE`` level that :func:`install_logger` adds between INFO and WARNING."""


class LoggingHandler(logging.Handler):
    """A handler that prints each formatted record with ``tqdm.write``, keeping progress bars intact.

    Example:
        >>> import logging
        >>> logging.basicConfig(level=logging.INFO, handlers=[LoggingHandler()])
    """

    def __init__(self, level: int | str = logging.NOTSET) -> None:
        super().__init__(level)

    def emit(self, record: logging.LogRecord) -> None:
        """Format ``record`` and write it above any active progress bar.

        Args:
            record: The record to emit. Failures to format or write go to :meth:`logging.Handler.handleError`.
        """
        try:
            tqdm.tqdm.write(self.format(record))
            self.flush()
        except (KeyboardInterrupt, SystemExit):
            raise
        except (OSError, ValueError, TypeError, RuntimeError):
            self.handleError(record)


def _notice(self: logging.Logger, message: object, *args: object, **kwargs: object) -> None:
    """Log ``message`` at the NOTICE level (bound as ``logging.Logger.notice`` by :func:`install_logger`)."""
    if self.isEnabledFor(NOTICE):
        self._log(NOTICE, message, args, **kwargs)  # type: ignore[arg-type]


def install_logger(
    given_logger: logging.Logger,
    level: int | str = logging.WARNING,
    fmt: str = "%(levelname)s:%(name)s:%(message)s",
) -> None:
    """Configure coloured console output for ``given_logger`` and add a ``NOTICE`` level (25).

    After the call every logger has a ``notice(message)`` method. Requires the ``coloredlogs`` package.

    Args:
        given_logger: The logger to configure.
        level: The lowest level to show.
        fmt: The ``logging`` format string of each line.

    Raises:
        ImportError: If ``coloredlogs`` is not installed.
    """
    try:
        import coloredlogs
    except ImportError as error:
        raise ImportError(
            "install_logger needs the `coloredlogs` package, which is not installed. "
            "Install it with `pip install coloredlogs`, or configure logging with LoggingHandler instead."
        ) from error

    logging.addLevelName(NOTICE, "NOTICE")
    logging.Logger.notice = _notice  # type: ignore[attr-defined]
    field_styles = {**coloredlogs.DEFAULT_FIELD_STYLES, "asctime": {}}
    level_styles = {
        **coloredlogs.DEFAULT_LEVEL_STYLES,
        "debug": {"color": "white", "faint": True},
        "notice": {"color": "cyan", "bold": True},
    }
    coloredlogs.install(
        logger=given_logger,
        level=level,
        use_chroot=False,
        fmt=fmt,
        level_styles=level_styles,
        field_styles=field_styles,
    )


_WARNED: set[tuple[str, str]] = set()


def warn_once(logger: logging.Logger, message: str) -> None:
    """Log ``message`` as a warning on ``logger`` the first time this exact message is given to it.

    Args:
        logger: The logger to warn on.
        message: The warning text; identical messages after the first are dropped.
    """
    key = (logger.name, message)
    if key not in _WARNED:
        _WARNED.add(key)
        logger.warning(message)
