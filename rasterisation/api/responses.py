"""Answers every endpoint can give, documented in the spec for every operation.

Some statuses come from layers around the views, not from the views themselves: the token
check (401), the body limits (400 nesting, 413 size), the rate limiter (429) and the outage
handlers (503). An apispec plugin adds them to each operation it applies to, so the spec
lists every status an endpoint can answer (issue 12: schemathesis checks answers against it)
without every view repeating them. A view's own description of a status wins.

Example
-------
>>> ops = {"get": {"tags": ["health"], "security": [], "responses": {200: {}}}}
>>> CommonResponses().operation_helper(path="/health", operations=ops)
>>> sorted(ops["get"]["responses"], key=str)
[200]
"""
from __future__ import annotations

from apispec import BasePlugin

__all__ = ["CommonResponses", "RETRY_AFTER_HEADER"]

_METHODS = ("get", "put", "post", "delete", "patch")
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
RETRY_AFTER_HEADER = {"Retry-After": {"description": "seconds to wait before retrying",
                                      "schema": {"type": "integer"}}}
# blueprints (tags) whose operations need neither the database nor the store
_NO_BACKEND = {"health"}


def _error(description: str, *, retry_after: bool = False) -> dict:
    doc = {"description": description, "content": _ERROR}
    if retry_after:
        doc["headers"] = RETRY_AFTER_HEADER
    return doc


class CommonResponses(BasePlugin):
    """apispec plugin: 401 / 400 / 404 / 413 / 429 / 503 where they apply (module doc)."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        from rasterisation.ratelimit import EXPENSIVE, TOKEN_CREATION

        for method, operation in (operations or {}).items():
            if method not in _METHODS:
                continue
            tag = (operation.get("tags") or [None])[0]
            responses = operation.setdefault("responses", {})
            have = {str(code) for code in responses}
            add: dict[str, dict] = {}
            if operation.get("security") != []:
                add["401"] = _error("missing, malformed, unknown, expired or revoked token")
            if "requestBody" in operation and method != "get":
                add["400"] = _error("the JSON body is malformed or nested too deep")
                add["413"] = _error("the body is over its size limit "
                                    "(RASTERISATION_MAX_JSON_BYTES or, for uploads and inline "
                                    "images, RASTERISATION_MAX_UPLOAD_BYTES)")
            for limited in (EXPENSIVE, TOKEN_CREATION):
                if method.upper() in limited.get(tag, ()):
                    add["429"] = _error("this token's rate limit for the endpoint is used up "
                                        "(RASTERISATION_RATE_LIMIT, "
                                        "RASTERISATION_TOKEN_RATE_LIMIT)", retry_after=True)
            if "{" in (path or ""):
                add["404"] = _error("no such object in this company; an id in the path that "
                                    "is not a UUID")
            if tag not in _NO_BACKEND:
                add["503"] = _error("the database or the object storage is unavailable or "
                                    "busy; nothing was changed", retry_after=True)
            for code, doc in add.items():
                if code not in have:
                    responses[code] = doc
