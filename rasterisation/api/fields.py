"""Strict marshmallow fields for request bodies (issue 12).

JSON has real booleans, numbers and strings; a client that sends ``"true"``, ``1`` or
``"0.5"`` has a bug, and guessing hides it. These fields accept the JSON type only and answer
422 naming the field otherwise. ``CanonicalUUID`` accepts ids in the one form paths use.

Example
-------
>>> StrictBoolean().deserialize(True)
True
>>> StrictFloat().deserialize(1)
1.0
"""
from __future__ import annotations

import numbers
import uuid

import marshmallow as ma

from rasterisation.converters import _CANONICAL

__all__ = ["StrictBoolean", "StrictInteger", "StrictFloat", "CanonicalUUID"]


class StrictBoolean(ma.fields.Boolean):
    """``true`` or ``false`` only (not ``"true"``, ``1`` or ``"yes"``)."""

    default_error_messages = {"invalid": "Not a valid boolean: use JSON true or false."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def _real_number(field, value):
    # bool is an int in Python, but not a number in JSON
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise field.make_error("invalid")


class StrictInteger(ma.fields.Integer):
    """A JSON integer only (not ``"3"``, ``3.5`` or ``true``)."""

    default_error_messages = {"invalid": "Not a valid integer: use a JSON number."}

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        _real_number(self, value)
        return super()._deserialize(value, attr, data, **kwargs)


class StrictFloat(ma.fields.Float):
    """A JSON number only (not ``"0.5"`` or ``true``)."""

    default_error_messages = {"invalid": "Not a valid number: use a JSON number."}

    def _deserialize(self, value, attr, data, **kwargs):
        _real_number(self, value)
        return super()._deserialize(value, attr, data, **kwargs)


class CanonicalUUID(ma.fields.UUID):
    """A UUID written as in paths: 8-4-4-4-12 hexadecimal digits, hyphenated."""

    default_error_messages = {"invalid_uuid": "Not a valid id: ids are UUIDs such as "
                                              "'8c6d0bd7-5a7b-4c4e-9f1f-6b7b0f0b2d1c'."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not _CANONICAL.fullmatch(value):
            raise self.make_error("invalid_uuid")
        return uuid.UUID(value)
