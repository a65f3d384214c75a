"""Images of a company: store (object first, then row), list, look up, sign, delete.

Every lookup filters on ``company_id``: an image of another company is simply not found,
so the API answers 404 and never reveals that it exists.

Consistency without distributed transactions:

* store: put the object, then insert the row; a failed put raises ``StorageError`` before any
  row exists; a failed insert deletes the object again.
* delete: mark the row deleted (``deleted_at``, committed: from then on every lookup answers
  404), delete every object under the image prefix, then the row. A failure half-way leaves a
  marked row that no request can see; a retried DELETE or the sweeper
  (``rasterisation storage sweep``, also scheduled by ``rasterisation serve``) finishes it.
* a request that writes derived objects (masks, analyses) re-reads the row after storing them
  (:func:`ensure_alive`); when the image was deleted meanwhile it removes what is under the
  prefix and answers 404, so nothing derived from a deleted face survives.

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

from rasterisation.errors import NotFound
from rasterisation.extensions import db
from rasterisation.models import Image, image_prefix, original_key, utcnow
from rasterisation.services.imaging import prepare_upload
from rasterisation.storage import StorageError, get_storage

__all__ = [
    "store_image", "list_images", "count_images", "get_image", "get_image_or_404",
    "delete_image", "signed_url", "settings", "sanitise_filename", "ensure_alive",
    "image_is_alive", "get_image_for_delete",
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
    key = original_key(company_id, image_id, extension)
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
    """The company's images that are not marked deleted."""
    return (sa.select(Image).where(Image.company_id == company_id)
            .where(Image.deleted_at.is_(None)))


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
        raise NotFound(f"no image {image_id} in company {company_id}")
    return image


def get_image_for_delete(company_id, image_id) -> Image:
    """The image to delete, a marked one too (a retried DELETE finishes the job); 404 if
    there is no row at all."""
    image = db.session.scalar(sa.select(Image).where(Image.company_id == company_id)
                              .where(Image.id == image_id))
    if image is None:
        raise NotFound(f"no image {image_id} in company {company_id}")
    return image


def delete_image(image: Image, *, storage=None) -> int:
    """Mark the row deleted (committed), delete every stored object under the image prefix,
    then the row (and its cascade). Return how many objects were removed.

    Each step is safe to repeat: after a failure the row stays marked (invisible to every
    lookup) and a retry or the sweeper completes the delete.
    """
    storage = storage or get_storage()
    if image.deleted_at is None:
        image.deleted_at = utcnow()
        db.session.commit()
    removed = storage.delete_prefix(image.prefix)
    # a Core DELETE: a concurrent delete (or the sweeper) that removed the row first is not
    # an error here, where the ORM would raise StaleDataError
    db.session.execute(sa.delete(Image).where(Image.id == image.id)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    if image in db.session:
        db.session.expunge(image)
    return removed


def image_is_alive(image_id) -> bool:
    """Whether the image's row exists and is not marked deleted, read from the database now
    (not from the session's identity map)."""
    db.session.commit()  # end any open transaction: read what is committed now
    deleted = db.session.execute(
        sa.select(Image.deleted_at).where(Image.id == image_id)).first()
    return deleted is not None and deleted[0] is None


def ensure_alive(image_id, company_id, *, storage=None) -> None:
    """Call after storing objects derived from an image: when the image was deleted
    meanwhile, remove everything under its prefix (what this request wrote included) and
    answer 404. Safe against the race: a delete marks the row before it removes the
    prefix, so either this check sees the mark, or the delete's removal runs after these
    objects were stored and takes them too.

    Takes ids, not the row: a rolled-back transaction may have expired the row object."""
    if image_is_alive(image_id):
        return
    storage = storage or get_storage()
    prefix = image_prefix(company_id, image_id)
    try:
        removed = storage.delete_prefix(prefix)
    except StorageError:
        log.warning("image %s deleted during a request; the sweeper will remove what it "
                    "stored under %s", image_id, prefix)
    else:
        log.info("image %s deleted during a request: removed %d objects it left", image_id,
                 removed)
    raise NotFound(f"image {image_id} was deleted while this request ran; nothing was kept")


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
