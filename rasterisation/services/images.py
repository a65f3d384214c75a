"""Images of a company: store (object first, then row), list, look up, sign, delete.

Every lookup filters on ``company_id``: an image of another company is simply not found,
so the API answers 404 and never reveals that it exists.

Consistency without distributed transactions:

* store: put the object, then insert the row; a failed put raises ``StorageError`` before any
  row exists; a failed insert deletes the object again.
* delete: delete every object under the image prefix, then the row; a failed storage delete
  keeps the row, so the client can simply retry.

Example
-------
>>> # inside a request of company ``cid``:
>>> # image = store_image(company_id=cid, data=jpeg_bytes, filename="me.jpg")
>>> # url, expires_at = signed_url(image.storage_key)
"""
from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from datetime import datetime, timedelta
from urllib.parse import urljoin

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from flask_smorest import abort

from rasterisation.extensions import db
from rasterisation.models import Image, image_prefix, utcnow
from rasterisation.services.imaging import prepare_upload
from rasterisation.storage import StorageError, get_storage

__all__ = [
    "store_image", "list_images", "count_images", "get_image", "get_image_or_404",
    "delete_image", "signed_url", "settings", "sanitise_filename",
]

log = logging.getLogger(__name__)


def settings():
    """The current app's ``rasterisation.config.Settings``."""
    return current_app.config["RASTERISATION"]


_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def sanitise_filename(filename: str | None, *, max_length: int = 255) -> str | None:
    r"""The upload's file name as we keep it: its last path component, NFC, without control
    or format characters (NUL, newlines, bidi overrides that disguise ``gpj.exe``), at
    most ``max_length`` characters; None when nothing is left.

    >>> sanitise_filename("C:\\Users\\x\\../me\u202egpj.exe\x00")
    'megpj.exe'
    """
    if not filename:
        return None
    name = unicodedata.normalize("NFC", str(filename))
    name = re.split(r"[/\\]", name)[-1]  # a path's last part, either separator
    name = _BIDI.sub("", name)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    name = name.strip().lstrip(".")  # no hidden or relative names ("..", ".htaccess")
    name = name.strip()[:max_length]
    return name or None


def store_image(*, company_id, data: bytes, filename: str | None = None,
                storage=None) -> Image:
    """Validate and store an upload for ``company_id``; return the committed row.

    Raises ``ImageRejected`` (bad input), ``StorageError`` (store down; nothing written).
    """
    conf = settings()
    storage = storage or get_storage()
    prepared = prepare_upload(data, max_pixels=conf.max_image_pixels,
                              jpeg_quality=conf.jpeg_quality)
    image_id = uuid.uuid4()
    extension = "jpg" if prepared.format == "jpeg" else prepared.format
    key = f"{image_prefix(company_id, image_id)}original.{extension}"
    storage.put(key, prepared.data, prepared.content_type)
    image = Image(
        id=image_id, company_id=company_id,
        original_filename=sanitise_filename(filename),
        upload_format=prepared.upload_format, upload_size_bytes=len(data),
        format=prepared.format, content_type=prepared.content_type,
        width=prepared.width, height=prepared.height, size_bytes=len(prepared.data),
        storage_key=key, created_at=utcnow(),
    )
    try:
        db.session.add(image)
        db.session.commit()
    except Exception:
        db.session.rollback()
        try:
            storage.delete_prefix(image_prefix(company_id, image_id))
        except StorageError:
            log.exception("orphan objects left under %s", image_prefix(company_id, image_id))
        raise
    return image


def _company_images(company_id):
    return sa.select(Image).where(Image.company_id == company_id)


def list_images(company_id, *, page: int = 1, page_size: int = 20) -> list[Image]:
    """Newest first."""
    query = (_company_images(company_id)
             .order_by(Image.created_at.desc(), Image.id)
             .limit(page_size).offset((page - 1) * page_size))
    return list(db.session.scalars(query))


def count_images(company_id) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(_company_images(company_id).subquery()))


def get_image(company_id, image_id) -> Image | None:
    """The image if it exists *and* belongs to ``company_id``."""
    return db.session.scalar(
        _company_images(company_id).where(Image.id == image_id))


def get_image_or_404(company_id, image_id) -> Image:
    image = get_image(company_id, image_id)
    if image is None:
        abort(404, message=f"no image {image_id} in company {company_id}")
    return image


def delete_image(image: Image, *, storage=None) -> int:
    """Delete every stored object under the image prefix, then the row (and its cascade)."""
    storage = storage or get_storage()
    removed = storage.delete_prefix(image.prefix)
    db.session.delete(image)
    db.session.commit()
    return removed


def signed_url(key: str, *, storage=None, expires_in: int | None = None
               ) -> tuple[str, datetime]:
    """An absolute URL of object ``key`` that works without a token, and when it expires.

    Relative URLs of the local store are joined to ``RASTERISATION_PUBLIC_URL`` or, without it,
    to the current request's root URL.
    """
    storage = storage or get_storage()
    ttl = int(expires_in or settings().signed_url_ttl)
    expires_at = (utcnow() + timedelta(seconds=ttl)).replace(microsecond=0)
    url = storage.url(key, expires_in=ttl)
    base = settings().public_url
    if base:
        base = base + "/"
    elif has_request_context():
        base = request.url_root
    if base:
        url = urljoin(base, url)
    return url, expires_at
