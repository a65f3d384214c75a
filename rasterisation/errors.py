"""Every error answers one JSON shape: ``{code, status, message, errors?}``.

flask-smorest's own handler omits ``message`` unless ``abort(..., message=...)`` was used; ours
always fills it (from werkzeug's description otherwise), turns webargs validation errors into a
readable message, keeps the headers werkzeug attaches (``Allow`` on 405, ``WWW-Authenticate`` on
401), maps storage outages to 503 and any unexpected exception to a 500 without a traceback.

Example
-------
>>> error_payload(404, "image not found")["status"]
'Not Found'
"""
from __future__ import annotations

import http
import logging

import flask_smorest
from flask import Flask, current_app, jsonify
from werkzeug.exceptions import HTTPException

from sqlalchemy import exc as sa_exc

from rasterisation.storage.base import ObjectNotFound, StorageError

__all__ = ["Api", "error_payload", "register_error_handlers", "summarise_errors",
           "prune_errors", "MAX_ERRORS_SHOWN", "ServiceError", "NotFound", "Conflict",
           "InvalidInput", "field_error"]

# an error body lists at most this many field errors (and says how many there were)
MAX_ERRORS_SHOWN = 10

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A domain error raised by a service: what went wrong and which HTTP status says it.

    Services raise these (never ``abort``); :func:`register_error_handlers` maps every one to
    the JSON error shape, so a service is callable outside a request (CLI, jobs, tests).

    >>> NotFound("no image 1 in company 2").status
    404
    """

    status = 400

    def __init__(self, message: str, *, errors=None, headers=None, status: int | None = None):
        super().__init__(message)
        if status is not None:  # a status no subclass names (413, 415, 502...)
            self.status = status
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})


class NotFound(ServiceError):
    """The object does not exist, or belongs to another company (never say which)."""

    status = 404


class Conflict(ServiceError):
    status = 409


class InvalidInput(ServiceError):
    """A field's value cannot be served; ``errors`` names the field."""

    status = 422


def field_error(error_class, location: str, field: str, message: str,
                status: int | None = None) -> ServiceError:
    """``error_class`` for one field: message ``"field: message"``, errors
    ``{location: {field: [message]}}``; ``status`` overrides the class's.

    >>> field_error(InvalidInput, "json", "model", "unknown").errors
    {'json': {'model': ['unknown']}}
    """
    return error_class(f"{field}: {message}", errors={location: {field: [message]}},
                       status=status)


def error_payload(code: int, message: str, errors=None) -> dict:
    """The error body for HTTP ``code``."""
    payload = {"code": code, "status": http.HTTPStatus(code).phrase, "message": message}
    if errors:
        payload["errors"] = errors
    return payload


def summarise_errors(errors, *, limit: int = 5) -> str:
    """``{"json": {"name": ["Missing data"]}}`` -> ``"json.name: Missing data"``."""
    flat: list[str] = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + [str(key)])
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item, path)
        else:
            flat.append(f"{'.'.join(path)}: {node}" if path else str(node))

    walk(errors, [])
    text = "; ".join(flat[:limit])
    return text + (f"; and {len(flat) - limit} more" if len(flat) > limit else "")


def prune_errors(errors, *, limit: int = MAX_ERRORS_SHOWN):
    """``errors`` keeping its first ``limit`` messages, and how many there were in all.

    A body with 100 000 unknown keys must not answer 100 000 messages.

    >>> prune_errors({"json": {"a": ["x"], "b": ["y", "z"]}}, limit=2)
    ({'json': {'a': ['x'], 'b': ['y']}}, 3)
    """
    total = 0

    def walk(node):
        nonlocal total
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                kept = walk(value)
                if kept not in (None, {}, []):
                    out[key] = kept
            return out
        if isinstance(node, (list, tuple)):
            out = []
            for item in node:
                kept = walk(item)
                if kept not in (None, {}, []):
                    out.append(kept)
            return out
        total += 1
        return node if total <= limit else None

    return walk(errors), total


class Api(flask_smorest.Api):
    """flask-smorest's Api with the project's error shape."""

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        message = data.get("message")
        count = 0
        if errors:
            errors, count = prune_errors(errors)
            if count > MAX_ERRORS_SHOWN and message is not None:
                message += f" ({count} errors, the first {MAX_ERRORS_SHOWN} listed)"
        if message is None:
            if error.code == 422 and errors:
                message = "invalid request: " + summarise_errors(errors)
                if count > MAX_ERRORS_SHOWN:
                    message += f" ({count} errors in all, the first {MAX_ERRORS_SHOWN} listed)"
            elif error.code == 413 and not _is_upload():
                from rasterisation.limits import json_limit

                limit, variable = json_limit(current_app.config["RASTERISATION"])
                message = (f"the request body is larger than the limit of {limit} bytes for "
                           f"JSON and other non-upload bodies of this endpoint ({variable})")
            elif error.code == 413:
                from rasterisation.limits import upload_limit

                limit, variable = upload_limit(current_app.config["RASTERISATION"])
                message = (f"the request is larger than the upload limit of {limit} bytes "
                           f"({variable})")
            else:
                message = error.description or error.name
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        code = error.code or 500
        if code == 429 and "Retry-After" not in headers:  # the rate limiter's breach
            from rasterisation.ratelimit import retry_after_seconds

            headers["Retry-After"] = str(retry_after_seconds())
        body = {"code": code, "status": error.name, "message": message}
        if errors:
            body["errors"] = errors
        return body, code, headers


def _is_upload() -> bool:
    from flask import has_request_context, request

    return not has_request_context() or request.mimetype == "multipart/form-data"


def _storage_unavailable(error: StorageError):
    log.error("storage unavailable: %s", error)
    response = jsonify(error_payload(
        503, f"object storage unavailable, nothing was changed; retry later ({error})"))
    response.status_code = 503
    response.headers["Retry-After"] = str(STORAGE_RETRY_AFTER)
    return response


# "database is locked" (SQLite), connection refused / server gone (PostgreSQL), pool exhausted
DATABASE_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.TimeoutError,
                        sa_exc.DisconnectionError, sa_exc.InterfaceError)
DATABASE_RETRY_AFTER = 2
STORAGE_RETRY_AFTER = 5


def _database_unavailable(error: Exception):
    from rasterisation.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone too
        log.debug("rollback after a database error failed", exc_info=True)
    first = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
    log.error("database unavailable: %s: %s", type(error).__name__, first)
    response = jsonify(error_payload(
        503, "database unavailable or busy; nothing was changed, retry later"))
    response.status_code = 503
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


def _object_missing(error: ObjectNotFound):
    log.warning("stored object missing: %s", error)
    return jsonify(error_payload(
        404, "a stored object of this image is missing (it may have just been deleted)")), 404


def _service_error(error: ServiceError):
    errors, _ = prune_errors(error.errors) if error.errors else (None, 0)
    response = jsonify(error_payload(error.status, error.message, errors))
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def _unexpected(error: Exception):
    log.exception("unhandled exception", exc_info=error)
    response = jsonify(error_payload(500, "internal server error; the server log has details"))
    response.status_code = 500
    return response


def register_error_handlers(app: Flask) -> None:
    """The services' domain errors in the JSON shape, JSON 503 (with Retry-After) for
    database and storage outages, 404 for a stored object that is gone, and JSON 500 for
    anything unexpected."""
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(StorageError, _storage_unavailable)
    app.register_error_handler(ObjectNotFound, _object_missing)
    for error_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(error_class, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
