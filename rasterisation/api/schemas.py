"""Marshmallow schemas shared by several blueprints (pagination)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

__all__ = ["PageArgsSchema", "PageSchema", "MAX_PAGE_SIZE", "page_of"]

MAX_PAGE_SIZE = 100


class PageArgsSchema(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000),
                             metadata={"description": "1-based page number"})
    page_size = ma.fields.Integer(load_default=20, validate=validate.Range(min=1,
                                                                           max=MAX_PAGE_SIZE),
                                  metadata={"description": f"items per page, 1-{MAX_PAGE_SIZE}"})


class PageSchema(ma.Schema):
    """Envelope of every list: the items plus where they sit in the whole list."""

    page = ma.fields.Integer(required=True)
    page_size = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True, metadata={"description": "items in all pages"})


def page_of(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A PageSchema subclass whose ``items`` are ``item_schema``."""
    return type(name, (PageSchema,), {
        "items": ma.fields.List(ma.fields.Nested(item_schema), required=True)})
