"""Structured logs: one JSON object per line on stderr, each naming the process that wrote it
(`pid`, and `worker`: the worker's number under `crossroads serve`, kept by its replacement).

Nothing logged names a person: exchanges are identified by request id, subjects only ever appear
as keyed hashes, and the access log (entrypoints/api/access_log.py) writes the route, never the
query or a path that matched no route as it was sent. A warning repeated within a minute is
counted, not written again (log_repeats.py).
"""

from __future__ import annotations

import json
import logging
import sys
import time

from .log_repeats import RepeatedWarnings

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_worker: int | None = None  # this process's worker number, when a supervisor started it


def set_worker(number: int) -> None:
    """Name this process's lines as worker `number` (set by entrypoints/supervisor.py)."""
    global _worker
    _worker = number


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if _worker is not None:
            entry["worker"] = _worker
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str = "info") -> dict:
    """Configure the root logger; return a uvicorn log_config that uses the same format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RepeatedWarnings())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "filters": {"repeats": {"()": RepeatedWarnings}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
                "filters": ["repeats"],
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            # It warns of every malformed form it is fed, which a caller sends at will: the hub
            # answers those with a refusal of its own (malformed_request), in its access log.
            "python_multipart": {"level": "ERROR"},
        },
    }
