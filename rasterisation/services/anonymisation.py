"""Synchronous anonymisation of one photo: detect faces (and people), hide them, store the
result, answer signed URLs.

The photo comes as an upload (checked like any upload: format by content, pixel limit before
decoding, EXIF orientation applied; its EXIF, GPS, XMP and ICC never reach the output) or as
one of the company's images. **An uploaded original is not stored**: only the anonymised
picture (and the masks, when asked for) are, under ``companies/{cid}/anonymised/{id}/``,
with a row (:class:`~rasterisation.models.AnonymiseResult`) written first that expires after
``RASTERISATION_RESULT_TTL``: the storage sweeper then removes the files and the row.
Detection and drawing are the pure ``algorithms.detect`` code the masking tasks use.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import ImageOps

from algorithms.detect.anonymise import AnonymiseOptions, anonymise
from algorithms.detect.faces import detect_face_shapes
from algorithms.detect.persons import detect_persons
from algorithms.face.roi import Pyramid
import sqlalchemy as sa

from rasterisation.errors import ServiceError, field_error
from rasterisation.extensions import db
from rasterisation.models import AnonymiseResult, utcnow
from rasterisation.services import images as image_service
from rasterisation.services.analyses import decode_rgb
from rasterisation.services import imaging
from rasterisation.services.imaging import ImageRejected
from rasterisation.services.retention import expiry
from rasterisation.services.masking import encode_mask
from algorithms.render import encode as encode_picture
from rasterisation.storage import get_storage

__all__ = ["AnonymiseRequest", "run_anonymise", "parse_areas", "MAX_FACES", "OUTPUT_FORMATS",
           "detect_and_hide", "output_format", "upload_pixels", "encode_picture_bytes"]

MAX_FACES = 256
MAX_PEOPLE = 20
OUTPUT_FORMATS = ("jpeg", "png")
_CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}
_EXT = {"jpeg": "jpg", "png": "png"}


def _fail(status: int, field_name: str, message: str):
    raise field_error(ServiceError, "form", field_name, message, status=status)


def parse_areas(text: str | None, field_name: str) -> tuple[tuple[float, float, float, float], ...]:
    """``'[[0, 0, 0.5, 1]]'`` -> rectangles (x0, y0, x1, y1) in fractions of the photo."""
    if not text:
        return ()
    try:
        value = json.loads(text)
        rects = tuple(tuple(float(v) for v in r) for r in value)
    except (ValueError, TypeError):
        _fail(422, field_name, "expected a JSON list of [x0, y0, x1, y1] rectangles in 0-1")
    for r in rects:
        if len(r) != 4 or not all(0.0 <= v <= 1.0 for v in r) or r[0] >= r[2] or r[1] >= r[3]:
            _fail(422, field_name, f"{list(r)} is not [x0, y0, x1, y1] with 0 <= x0 < x1 <= 1 "
                  "and 0 <= y0 < y1 <= 1")
    if len(rects) > 64:
        _fail(422, field_name, "at most 64 rectangles")
    return rects


@dataclass(frozen=True)
class AnonymiseRequest:
    options: AnonymiseOptions
    faces: bool = True
    people: bool = False
    face_threshold: float = 0.5
    person_threshold: float = 0.5
    included: tuple = ()
    excluded: tuple = ()
    masks: bool = False
    output_format: str | None = None
    extra: dict = field(default_factory=dict)


def _inside(det, rects, size) -> bool:
    w, h = size
    cx = (det.box[0] + det.box[2]) / 2 / w
    cy = (det.box[1] + det.box[3]) / 2 / h
    return any(x0 <= cx <= x1 and y0 <= cy <= y1 for x0, y0, x1, y1 in rects)


def _upload_pixels(data: bytes, max_pixels: int) -> tuple[np.ndarray, str]:
    """The upload's pixels, upright, sRGB, RGB: the checks and steps of
    :func:`~rasterisation.services.imaging.prepare_upload` without its re-encode (we keep no
    copy of an upload here, and a 12 MP JPEG re-encode and decode cost ~250 ms)."""
    if not data:
        raise ImageRejected(422, "the file is empty")
    im = imaging._open(data)
    fmt = im.format
    width, height = im.size
    if width * height > max_pixels:
        raise ImageRejected(413, f"the image is {width} x {height} = {width * height} pixels; "
                                 f"the limit is {max_pixels} (RASTERISATION_MAX_IMAGE_PIXELS)")
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected(422, f"the {fmt} image is truncated or corrupt: {exc}") from None
    try:
        oriented = ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - malformed EXIF must not reject the photo
        oriented = im
    oriented.info.setdefault("icc_profile", im.info.get("icc_profile"))
    rgb = imaging._to_rgb(imaging._to_srgb(oriented))
    return np.ascontiguousarray(np.asarray(rgb)), "jpeg" if fmt == "JPEG" else "png"


def _load(company_id, *, data: bytes | None, image_id) -> tuple[np.ndarray, str, object]:
    conf = image_service.settings()
    if data is not None:
        try:
            pixels, fmt = _upload_pixels(data, conf.max_image_pixels)
        except ImageRejected as exc:
            _fail(exc.status, "file", exc.message)
        return pixels, fmt, None
    image = image_service.get_image_or_404(company_id, image_id)
    return decode_rgb(get_storage().get(image.storage_key)), image.format, image


def _encode(picture: np.ndarray, fmt: str, quality: int) -> bytes:
    """JPEG with 4:2:0 chroma (OpenCV, libjpeg-turbo: ~2x faster than 4:4:4 at 12 MP; nothing
    fine and coloured needs keeping in an anonymised photo) or PNG; no metadata either way."""
    if fmt == "jpeg":
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # pragma: no cover
            raise RuntimeError("JPEG encoding failed")
        return buf.tobytes()
    return encode_picture(picture, format="png")


upload_pixels = _upload_pixels
encode_picture_bytes = _encode


def detect_and_hide(pixels: np.ndarray, req: AnonymiseRequest):
    """Detect what ``req`` asks for in ``pixels`` (RGB) and hide it: (picture, binary mask,
    instance mask, detections). The engine of the synchronous endpoint and of the jobs."""
    h, w = pixels.shape[:2]
    pyr = Pyramid(pixels)
    found = []
    if req.faces:
        found += detect_face_shapes(pyr, detector="centerface", parts=("face",),
                                    confidence=req.face_threshold, max_faces=MAX_FACES)
    if req.people:
        found += detect_persons(pyr, confidence=req.person_threshold, max_persons=MAX_PEOPLE)
    if req.included:
        found = [d for d in found if _inside(d, req.included, (w, h))]
    if req.excluded:
        found = [d for d in found if not _inside(d, req.excluded, (w, h))]
    picture, mask, instances = anonymise(pixels, found, options=req.options)
    return picture, mask, instances, found


def output_format(req: AnonymiseRequest, source_format: str) -> str:
    return req.output_format or ("jpeg" if source_format == "jpeg" else "png")


def run_anonymise(company_id, req: AnonymiseRequest, *, data: bytes | None = None,
                  image_id=None) -> dict:
    """Anonymise the upload ``data`` or the company's image ``image_id``; the answer."""
    pixels, source_format, image = _load(company_id, data=data, image_id=image_id)
    h, w = pixels.shape[:2]
    picture, mask, instances, found = detect_and_hide(pixels, req)

    fmt = output_format(req, source_format)
    storage = get_storage()
    conf = image_service.settings()
    # the row first (it expires after RESULT_TTL): every stored file has one
    now = utcnow()
    row = AnonymiseResult(company_id=company_id, image_id=image.id if image else None,
                          created_at=now, expires_at=expiry(conf.result_ttl, now))
    db.session.add(row)
    db.session.commit()
    result_id, prefix = row.id, row.prefix
    try:
        answer = _store(picture, mask, instances, found, req, fmt, prefix, storage,
                        conf.jpeg_quality)
    except BaseException:
        _discard(row, storage)
        raise
    return {"id": str(result_id), "image_id": str(image.id) if image is not None else None,
            "width": w, "height": h, "method": req.options.method,
            "shape": req.options.shape, "format": fmt, **answer}


def _discard(row: AnonymiseResult, storage) -> None:
    """A result whose files could not all be stored: remove them and the row (or leave both
    to the sweeper, the row expiring as any other)."""
    try:
        storage.delete_prefix(row.prefix)
        db.session.rollback()
        db.session.execute(sa.delete(AnonymiseResult).where(AnonymiseResult.id == row.id))
        db.session.commit()
    except Exception:  # noqa: BLE001 - the store is down: the sweeper removes both later
        db.session.rollback()


def _store(picture, mask, instances, found, req: AnonymiseRequest, fmt: str, prefix: str,
           storage, quality: int) -> dict:
    key = f"{prefix}image.{_EXT[fmt]}"
    storage.put(key, _encode(picture, fmt, quality), _CONTENT_TYPES[fmt])
    url, expires_at = image_service.signed_url(key, storage=storage)
    answer = {"url": url, "url_expires_at": expires_at,
              "detections": [d.to_dict() for d in found],
              "mask_url": None, "instance_mask_url": None}
    if req.masks:
        for name, array in (("mask", mask), ("instance_mask", instances)):
            k = f"{prefix}{name}.png"
            storage.put(k, encode_mask(array, "PNG"), "image/png")
            answer[f"{name}_url"], _ = image_service.signed_url(k, storage=storage)
    return answer
