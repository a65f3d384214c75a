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

from rasterisation.storage.base import StorageError

__all__ = ["Api", "error_payload", "register_error_handlers", "summarise_errors"]

log = logging.getLogger(__name__)


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


class Api(flask_smorest.Api):
    """flask-smorest's Api with the project's error shape."""

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        message = data.get("message")
        if message is None:
            if error.code == 422 and errors:
                message = "invalid request: " + summarise_errors(errors)
            elif error.code == 413:
                limit = current_app.config["RASTERISATION"].max_upload_bytes
                message = (f"the request is larger than the upload limit of {limit} bytes "
                           "(RASTERISATION_MAX_UPLOAD_BYTES)")
            else:
                message = error.description or error.name
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        code = error.code or 500
        body = {"code": code, "status": error.name, "message": message}
        if errors:
            body["errors"] = errors
        return body, code, headers


def _storage_unavailable(error: StorageError):
    log.error("storage unavailable: %s", error)
    response = jsonify(error_payload(
        503, f"object storage unavailable, nothing was changed; retry later ({error})"))
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response


def _unexpected(error: Exception):
    log.exception("unhandled exception", exc_info=error)
    response = jsonify(error_payload(500, "internal server error; the server log has details"))
    response.status_code = 500
    return response


def register_error_handlers(app: Flask) -> None:
    """JSON 503 for storage outages and JSON 500 for anything unexpected."""
    app.register_error_handler(StorageError, _storage_unavailable)
    app.register_error_handler(Exception, _unexpected)
