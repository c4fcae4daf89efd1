"""Structured logs: one JSON object per line (``TWINFED_LOG_FORMAT=json``) or plain text.

Secrets never reach a log line: bearer tokens and ``token``/``password`` values are masked
in every message and extra field before it is written.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime

_SECRET = re.compile(r"(?i)(bearer\s+|token[\"']?\s*[:=]\s*[\"']?|password[\"']?\s*[:=]\s*"
                     r"[\"']?)[^\s\"',;]+")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def redact(text: str) -> str:
    """``text`` with every bearer token, token and password value replaced by ``***``."""
    return _SECRET.sub(lambda m: m.group(1) + "***", text)


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line: time, level, logger, message and any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class RedactingTextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(fmt: str | None = None, level: str | None = None) -> None:
    """Route the ``twinfed`` and ``uvicorn`` loggers to stderr in the chosen format.

    ``fmt`` defaults to ``TWINFED_LOG_FORMAT`` (``json`` or ``text``), ``level`` to
    ``TWINFED_LOG_LEVEL`` (default ``info``).
    """
    fmt = (fmt or os.environ.get("TWINFED_LOG_FORMAT", "text")).lower()
    level = (level or os.environ.get("TWINFED_LOG_LEVEL", "info")).upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else RedactingTextFormatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("twinfed", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
