"""URL converter for UUID path parameters that answers a clear 404 for malformed ids.

Werkzeug's own ``uuid`` converter makes a malformed id fall through to a generic "not found";
this one says what is wrong. Only the canonical form is accepted (hyphenated, any case).

Example
-------
>>> UUIDConverter(None).to_python("8c6d0bd7-5a7b-4c4e-9f1f-6b7b0f0b2d1c").version
4
"""
from __future__ import annotations

import re
import uuid

from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

__all__ = ["UUIDConverter", "uuid_param_schema"]

_CANONICAL = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                        r"[0-9a-fA-F]{12}")


class UUIDConverter(BaseConverter):
    regex = r"[^/]+"

    def to_python(self, value: str) -> uuid.UUID:
        if not _CANONICAL.fullmatch(value):
            # an HTTPException here is stored by Flask as the routing error and answered
            # by the JSON error handler (a ValidationError would give a bare 404)
            raise NotFound(f"{value[:64]!r} is not a valid id: ids are UUIDs such as "
                           "'8c6d0bd7-5a7b-4c4e-9f1f-6b7b0f0b2d1c'")
        return uuid.UUID(value)

    def to_url(self, value) -> str:
        return str(value)


def uuid_param_schema(converter) -> dict:
    return {"type": "string", "format": "uuid"}
