"""Structured logs: one JSON object per line, with whatever ``extra`` fields a call passes."""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from datetime import UTC, datetime

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Render a record as JSON: time, level, logger, message, extra fields, and the stack of errors."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            data["error"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(data, default=str)


def configure_logging() -> None:
    """Send the app's own loggers (``commons`` and ``commons_app``) to stderr as JSON lines, once."""
    for name in ("commons", "commons_app"):
        logger = logging.getLogger(name)
        if any(getattr(h, "_commons", False) for h in logger.handlers):
            continue
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._commons = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(os.environ.get("COMMONS_LOG_LEVEL", "INFO").upper())
        logger.propagate = False
