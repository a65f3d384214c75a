"""``X-Request-ID``: accepted from the client (or a proxy), generated when absent, echoed on
every answer and put on the request's log records, so one request can be followed from the
client through the proxy to our log.

A client value is kept only when it is 1-128 characters of ``[A-Za-z0-9._:-]`` (so it can be
written to a log line as is); anything else is replaced by a fresh id.

Example
-------
>>> is_valid_request_id("3f2c-abc.1"), is_valid_request_id("a b"), is_valid_request_id("")
(True, False, False)
"""
from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, g, has_request_context, request

__all__ = ["HEADER", "init_request_id", "current_request_id", "is_valid_request_id",
           "RequestIdFilter"]

HEADER = "X-Request-ID"
_VALID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def is_valid_request_id(value: str | None) -> bool:
    return bool(value) and _VALID.fullmatch(value) is not None


def current_request_id() -> str | None:
    if not has_request_context():
        return None
    return g.get("request_id")


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` ("-" outside a request) for log formats to use."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


def _assign():
    given = request.headers.get(HEADER)
    g.request_id = given if is_valid_request_id(given) else uuid.uuid4().hex
    return None


def _echo(response):
    request_id = current_request_id()
    if request_id:
        response.headers[HEADER] = request_id
    return response


def init_request_id(app: Flask) -> None:
    """Register first, so every other hook (and every error answer) sees the id."""
    app.before_request_funcs.setdefault(None, []).insert(0, _assign)
    app.after_request(_echo)
    app.logger.addFilter(RequestIdFilter())
