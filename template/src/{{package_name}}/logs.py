"""JSON logs on stdout, one object per line, carrying the request id."""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

from pydantic_core import to_json

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    """Format records as JSON; extra fields come from ``extra={"fields": {...}}``.

    Every request writes a line, so this is on the hot path: pydantic-core encodes the
    JSON (several times faster than the ``json`` module), and the timestamp's date and
    time are formatted once per second. Values JSON cannot hold are logged as ``str()``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def _timestamp(self, created: float) -> str:
        """Return ``created`` as RFC 3339 in UTC with microseconds."""
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{int((created - second) * 1_000_000):06d}Z"

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        payload: dict[str, Any] = {
            "time": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            payload["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return to_json(payload, fallback=str).decode()


class JsonLinesHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Write each record as one line and flush it at once, for a log collector to read.

    ``StreamHandler.emit`` flushes through ``flush()``, which takes the handler's lock a
    second time; ``handle()`` already holds it around ``emit``.
    """

    def emit(self, record: logging.LogRecord) -> None:
        """Write the formatted record and a newline, then flush the stream."""
        try:
            self.stream.write(self.format(record) + "\n")
            self.stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def configure_logging(level: str) -> None:
    """Send every logger, uvicorn's included, to stdout as JSON."""
    # What the JSON lines do not carry is not collected (the logging HOWTO's
    # "Optimization" section): the caller's frame, thread and process.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = JsonLinesHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    # The service writes its own access log with the request id and status.
    logging.getLogger("uvicorn.access").disabled = True
