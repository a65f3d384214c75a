"""Logs as one JSON object a line, each with the request id (``X-Request-ID``).

``rasterisation serve`` configures this in every worker (``RASTERISATION_LOG_FORMAT``:
``json``, the default, or ``text``): the root logger writes to stderr through
:class:`JsonFormatter`, and gunicorn's access log uses :data:`ACCESS_LOG_JSON`, whose
``request_id`` is the response's ``X-Request-ID`` header, so an access line and the
application lines of one request share their id.

Example
-------
>>> import json, logging
>>> record = logging.LogRecord("rasterisation.x", logging.INFO, __file__, 1, "hi %s",
...                            ("there",), None)
>>> line = json.loads(JsonFormatter().format(record))
>>> line["message"], line["level"], line["request_id"]
('hi there', 'INFO', '-')
"""
from __future__ import annotations

import json
import logging
import sys
import time

from rasterisation.request_id import RequestIdFilter

__all__ = ["JsonFormatter", "configure_logging", "LOG_FORMATS", "ACCESS_LOG_JSON"]

LOG_FORMATS = ("json", "text")
ACCESS_LOG_JSON = ('{"time": "%(t)s", "type": "access", "remote": "%(h)s", '
                   '"request": "%(r)s", "status": %(s)s, "bytes": "%(B)s", '
                   '"duration_us": %(D)s, "request_id": "%({x-request-id}o)s"}')
_TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class JsonFormatter(logging.Formatter):
    """time (UTC, ms), level, logger, message, request_id, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        created = record.created
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        out = {"time": f"{stamp}.{int(created % 1 * 1000):03d}Z", "level": record.levelname,
               "logger": record.name, "message": record.getMessage(),
               "request_id": getattr(record, "request_id", "-")}
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out)


def configure_logging(fmt: str = "json", *, level: int = logging.INFO, stream=None) -> None:
    """Root logger -> ``stream`` (stderr) in ``fmt``, every record with its request id."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}; got {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_rasterisation", False)]:
        root.removeHandler(old)
    handler._rasterisation = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
