"""meshwatch's log lines (--log-format text|json, --log-level), gunicorn's too.

Lines say what changed (a backend went down, came back), never one per
poll; a JSON line is one object: time, level, logger, message and the
line's own fields (e.g. `backend`, `up`).
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from datetime import UTC, datetime
from typing import Any

from dashboard.app.config import Settings

# What every LogRecord has: the rest of its attributes are the line's own fields.
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class StderrHandler(logging.StreamHandler):
    """Lines to whatever sys.stderr is when they are written (not when configured)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def logging_config(settings: Settings) -> dict[str, Any]:
    """A logging.config dict for the options, for meshwatch and gunicorn alike."""
    formatter = {"()": JsonFormatter} if settings.log_format == "json" else {"format": TEXT_FORMAT}
    level = settings.log_level.upper()
    handler = {"()": StderrHandler, "formatter": "meshwatch"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"meshwatch": formatter},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "gunicorn.error": {"handlers": ["stderr"], "level": level, "propagate": False},
            # Request lines belong to the proxy in front.
            "gunicorn.access": {"handlers": [], "propagate": False},
            "werkzeug": {"level": "WARNING"},
            # A retry per poll is noise: dashboard.app.backends says when a backend goes down.
            "urllib3": {"level": "ERROR"},
        },
    }


def configure(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
