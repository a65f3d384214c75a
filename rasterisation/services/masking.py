"""Detection-mask tasks (``imageMasking``): input image -> detections + a stored mask picture.

Steps of :func:`run_task`:

1. a repeated ``taskUUID`` of the company answers the earlier result (the record below); the
   same taskUUID with a different request is a 409, as an idempotency key should be;
2. ``inputImage`` becomes one of the company's images (:func:`resolve_input`): an image id
   of ours (another company's -> 404), a data URI, plain base64, or (only with
   ``RASTERISATION_FETCH_URLS=1``) an http(s) URL fetched through the SSRF guard. Inline and
   fetched photos are stored like uploads (checked, upright, no metadata), so
   ``inputImageUUID`` can be reused in later calls;
3. detection (:func:`algorithms.detect.detect`) and the mask (white on black at the photo's
   size, padded and feathered: :func:`algorithms.detect.mask_image`) - pure code;
4. the mask is stored under the image's prefix, ``<image prefix>masks/<maskImageUUID>/``
   (deleting the image deletes it), optionally PUT to ``uploadEndpoint`` through the SSRF
   guard, and answered as a signed URL, base64 or a data URI;
5. the task record, a row of ``masking_tasks`` (:class:`~rasterisation.models.MaskingTaskRecord`:
   the answer's fields, the mask's key and the request's fingerprint), is written last: a
   task that failed half way leaves no record and can be retried. Of two concurrent first
   requests with one taskUUID, the later finds the earlier's row and answers it (its own
   mask is removed).

Records expire after ``RASTERISATION_RESULT_TTL``: the storage sweeper removes the mask and
the row (:mod:`rasterisation.services.retention`); a repeat after that runs the task anew.
Records of older versions, JSON objects ``companies/{cid}/masking_tasks/{taskUUID}.json``,
are still read (and removed by the sweeper once the TTL has passed).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import logging
import re
import struct
import time
import uuid
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image as PILImage

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from algorithms import detect as detection
from algorithms.face.roi import Pyramid
from rasterisation import net
from rasterisation.errors import Conflict, NotFound, ServiceError, field_error
from rasterisation.extensions import db
from rasterisation.models import Image, MaskingTaskRecord, utcnow
from rasterisation.services import images as image_service
from rasterisation.services.analyses import decode_rgb
from rasterisation.services.imaging import ImageRejected
from rasterisation.services.retention import expiry
from rasterisation.storage import ObjectNotFound, StorageError, get_storage

__all__ = ["MaskTask", "run_task", "resolve_input", "encode_mask", "OUTPUT_TYPES",
           "OUTPUT_FORMATS", "task_record_key"]

log = logging.getLogger(__name__)

OUTPUT_TYPES = ("URL", "base64Data", "dataURI")
OUTPUT_FORMATS = ("PNG", "JPG", "WEBP")
_CONTENT_TYPES = {"PNG": "image/png", "JPG": "image/jpeg", "WEBP": "image/webp"}
_EXTENSIONS = {"PNG": "png", "JPG": "jpg", "WEBP": "webp"}
_OUTPUT_FIELDS = {"URL": "maskImageURL", "base64Data": "maskImageBase64Data",
                  "dataURI": "maskImageDataURI"}
_DATA_URI = re.compile(r"data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[^;,]*)*)"
                       r"(?P<b64>;base64)?,(?P<data>.*)", re.DOTALL)
_B64 = re.compile(r"[A-Za-z0-9+/=_\-\s]+")
RECORD_VERSION = 1
REDUCE_FROM = 2048          # px, long side: detect on a half-size decode from here on


@dataclass(frozen=True)
class MaskTask:
    """A validated ``imageMasking`` request (field names as in the HTTP API)."""

    task_uuid: uuid.UUID
    input_image: str
    model: str
    confidence: float = detection.DEFAULT_CONFIDENCE
    max_detections: int = detection.DEFAULT_MAX_DETECTIONS
    mask_padding: int = 4
    mask_blur: int = 4
    output_type: str = "URL"
    output_format: str = "PNG"
    mask_shape: str | None = None
    upload_endpoint: str | None = None

    def fingerprint(self) -> str:
        """A digest of everything but the taskUUID: a repeat must ask for the same thing."""
        fields = {k: v for k, v in self.__dict__.items() if k != "task_uuid"}
        return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str)
                              .encode()).hexdigest()


def task_record_key(company_id, task_uuid) -> str:
    """Where older versions kept a task's record (read for repeats until it expires)."""
    return f"companies/{company_id}/masking_tasks/{task_uuid}.json"


def _settings():
    return image_service.settings()


def _fail(status: int, field: str, message: str):
    raise field_error(ServiceError, "json", field, message, status=status)


# ---------------------------------------------------------------- input
def _decode_inline(value: str) -> bytes | None:
    """Bytes of a data URI or plain base64, None when ``value`` is neither."""
    m = _DATA_URI.fullmatch(value)
    if m:
        if not m.group("b64"):
            _fail(422, "inputImage", "a data URI must be base64 encoded (data:image/png;base64,...)")
        payload = m.group("data")
    elif len(value) >= 16 and _B64.fullmatch(value):
        payload = value
    else:
        return None
    payload = re.sub(r"\s+", "", payload)
    try:
        if "-" in payload or "_" in payload:
            return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError):
        _fail(422, "inputImage", "not valid base64")


def resolve_input(company_id, value: str) -> Image:
    """The company's image that ``inputImage`` names or carries (stored when new).

    Aborts: 404 for an image id not of this company; 400 for a URL when fetching is off or
    the SSRF guard refuses it; 413/415/422 for bytes that are not an acceptable image;
    422 for a value that is none of the accepted forms.
    """
    value = value.strip()
    try:
        image_id = uuid.UUID(value)
    except ValueError:
        image_id = None
    if image_id is not None and len(value) in (32, 36):
        return image_service.get_image_or_404(company_id, image_id)
    conf = _settings()
    if value.lower().startswith(("http://", "https://")) or re.match(r"^[a-z][a-z0-9+.-]*://",
                                                                    value, re.I):
        if not conf.fetch_urls:
            _fail(400, "inputImage", "this service does not fetch URLs "
                  "(RASTERISATION_FETCH_URLS is off): send an image id, a data URI or base64")
        try:
            data, _ = net.fetch(value, max_bytes=conf.max_upload_bytes,
                                timeout=conf.fetch_timeout,
                                allow_networks=net.parse_networks(conf.fetch_allow_networks))
        except net.UnsafeURL as exc:
            _fail(400, "inputImage", f"URL refused: {exc}")
        except net.FetchError as exc:
            _fail(422, "inputImage", f"the URL could not be fetched: {exc}")
        filename = value.rsplit("/", 1)[-1].split("?", 1)[0][:255] or None
    else:
        data = _decode_inline(value)
        if data is None:
            _fail(422, "inputImage", "expected an image id of this company, a data URI "
                  "(data:image/jpeg;base64,...), base64 data, or an http(s) URL")
        if len(data) > conf.max_upload_bytes:
            _fail(413, "inputImage", f"the image is larger than {conf.max_upload_bytes} bytes "
                  "(RASTERISATION_MAX_UPLOAD_BYTES)")
        filename = None
    try:
        return image_service.store_image(company_id=company_id, data=data, filename=filename)
    except ImageRejected as exc:
        _fail(exc.status, "inputImage", exc.message)


# ---------------------------------------------------------------- output
def _png_grey(mask: np.ndarray) -> bytes:
    """An 8-bit grey PNG written directly: filter 0 on every row, zlib level 1 with the
    run-length strategy (a mask is long runs of 0 and 255). 2-3x faster than libpng's or
    Pillow's writers on a 2048 px mask, whose row filtering is wasted on such data."""
    h, w = mask.shape
    raw = np.zeros((h, w + 1), np.uint8)
    raw[:, 1:] = mask
    z = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    idat = z.compress(raw.tobytes()) + z.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)   # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def encode_mask(mask: np.ndarray, output_format: str) -> bytes:
    """A one-channel uint8 mask as PNG (lossless), JPG (q95) or lossless WEBP.

    Examples
    --------
    >>> encode_mask(np.zeros((4, 4), np.uint8), "PNG")[:4]
    b'\\x89PNG'
    """
    if output_format == "PNG":
        return _png_grey(np.ascontiguousarray(mask, dtype=np.uint8))
    if output_format == "JPG":
        ok, buf = cv2.imencode(".jpg", mask, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:  # pragma: no cover
            raise RuntimeError("JPEG encoding failed")
        return buf.tobytes()
    if output_format == "WEBP":
        out = io.BytesIO()
        PILImage.fromarray(mask, "L").save(out, "WEBP", lossless=True, method=0, quality=0)
        return out.getvalue()
    raise ValueError(f"output_format must be one of {', '.join(OUTPUT_FORMATS)}; "
                     f"got {output_format!r}")


def _output(record: dict, data: bytes | None, storage) -> dict:
    """The answer's output field for the record's outputType."""
    output_type, output_format = record["outputType"], record["outputFormat"]
    if output_type == "URL":
        url, _ = image_service.signed_url(record["maskKey"], storage=storage)
        return {"maskImageURL": url}
    if data is None:
        data = storage.get(record["maskKey"])
    b64 = base64.b64encode(data).decode("ascii")
    if output_type == "base64Data":
        return {"maskImageBase64Data": b64}
    return {"maskImageDataURI": f"data:{_CONTENT_TYPES[output_format]};base64,{b64}"}


def _answer(record: dict, data: bytes | None, storage) -> dict:
    return {"taskType": "imageMasking", "taskUUID": record["taskUUID"],
            "inputImageUUID": record["inputImageUUID"], "detections": record["detections"],
            "maskImageUUID": record["maskImageUUID"], **_output(record, data, storage)}


# ---------------------------------------------------------------- the task
def _stored_record(company_id, task_uuid, storage) -> dict | None:
    """The task's record: its row (unless expired), else an older version's JSON object."""
    row = db.session.get(MaskingTaskRecord, (company_id, task_uuid))
    if row is not None:
        db.session.expunge(row)
        if row.expires_at > utcnow():
            return row.record
        _drop_expired(row, storage)
        return None
    try:
        return json.loads(storage.get(task_record_key(company_id, task_uuid)))
    except ObjectNotFound:
        return None


def _drop_expired(row: MaskingTaskRecord, storage) -> None:
    """An expired record the sweeper has not reached yet: its mask and row go now."""
    try:
        storage.delete_prefix(row.mask_prefix)
    except StorageError:
        log.warning("could not remove the expired mask %s; the sweeper retries",
                    row.mask_prefix)
        return
    db.session.execute(sa.delete(MaskingTaskRecord).where(
        MaskingTaskRecord.company_id == row.company_id,
        MaskingTaskRecord.task_uuid == row.task_uuid))
    db.session.commit()


def _earlier(company_id, task: MaskTask, storage) -> dict | None:
    record = _stored_record(company_id, task.task_uuid, storage)
    if record is None:
        return None
    if record.get("fingerprint") != task.fingerprint():
        raise Conflict(f"taskUUID: task {task.task_uuid} was already run with different "
                       "parameters; send a new taskUUID for a new task",
                       errors={"json": {"taskUUID": ["already used for a different request"]}})
    if not storage.exists(record["maskKey"]):
        raise NotFound(f"taskUUID: the result of task {task.task_uuid} was deleted with its "
                       "image; send a new taskUUID")
    return record


def _save_record(company_id, task: MaskTask, record: dict, image: Image,
                 mask_prefix: str, storage) -> dict:
    """Insert the task's row; the record to answer (the earlier one when a concurrent
    request with the same taskUUID got there first: this one's mask is then removed)."""
    now = utcnow()
    db.session.add(MaskingTaskRecord(
        company_id=company_id, task_uuid=task.task_uuid, image_id=image.id,
        fingerprint=record["fingerprint"], record=record, mask_prefix=mask_prefix,
        created_at=now, expires_at=expiry(_settings().result_ttl, now)))
    try:
        db.session.commit()
        return record
    except IntegrityError:
        db.session.rollback()
    try:
        storage.delete_prefix(mask_prefix)
    except StorageError:
        log.warning("could not remove the duplicate mask %s", mask_prefix)
    earlier = _earlier(company_id, task, storage)
    return earlier if earlier is not None else record


def _pixels_for_detection(data: bytes, image: Image) -> np.ndarray:
    """The stored photo's pixels for the detectors: a JPEG of REDUCE_FROM px or more is
    decoded at half size in the DCT domain (libjpeg scaling: ~3x faster than a full decode,
    the largest cost of a task at 2048 px). The detectors see at most 192-256 px of the whole
    photo, and face crops are sampled from a pyramid at most 4x finer than the crop, so a
    face of 768 px and more reads the same pixels; smaller faces lose detail the models
    barely use (docs/decisions.md). The mask is drawn at full size from the scaled shapes."""
    if image.format == "jpeg" and max(image.width, image.height) >= REDUCE_FROM:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_COLOR_2)
        if bgr is not None:
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return decode_rgb(data)


def _check_upload_endpoint(url: str):
    conf = _settings()
    try:
        net.check_url(url, allow_networks=net.parse_networks(conf.fetch_allow_networks))
    except net.UnsafeURL as exc:
        _fail(400, "uploadEndpoint", f"URL refused: {exc}")


def run_task(company_id, task: MaskTask) -> dict:
    """Run (or replay) one masking task of ``company_id``; the answer's fields.

    See the module docstring for the steps and the errors.
    """
    storage = get_storage()
    record = _earlier(company_id, task, storage)
    if record is not None:
        return _answer(record, None, storage)
    if task.upload_endpoint:
        _check_upload_endpoint(task.upload_endpoint)   # refuse before any work
    image = resolve_input(company_id, task.input_image)

    started = time.perf_counter()
    pixels = _pixels_for_detection(storage.get(image.storage_key), image)
    found = detection.detect(Pyramid(pixels), model=task.model, confidence=task.confidence,
                             max_detections=task.max_detections)
    fx, fy = image.width / pixels.shape[1], image.height / pixels.shape[0]
    if (fx, fy) != (1.0, 1.0):
        found = [d.scaled(fx, fy) for d in found]
    mask = detection.mask_image([d.geometry(task.mask_shape) for d in found],
                                (image.width, image.height),
                                padding=task.mask_padding, blur=task.mask_blur,
                                shapes=[task.mask_shape or d.shape for d in found])
    data = encode_mask(mask, task.output_format)
    log.debug("masking task %s: %d detections in %.1f ms", task.task_uuid, len(found),
              (time.perf_counter() - started) * 1e3)

    mask_uuid = uuid.uuid4()
    mask_prefix = f"{image.prefix}masks/{mask_uuid}/"
    mask_key = f"{mask_prefix}mask.{_EXTENSIONS[task.output_format]}"
    storage.put(mask_key, data, _CONTENT_TYPES[task.output_format])
    if task.upload_endpoint:
        conf = _settings()
        try:
            net.put(task.upload_endpoint, data, content_type=_CONTENT_TYPES[task.output_format],
                    timeout=conf.fetch_timeout,
                    allow_networks=net.parse_networks(conf.fetch_allow_networks))
        except (net.UnsafeURL, net.FetchError) as exc:
            storage.delete_prefix(mask_prefix)   # no record will point at it
            if isinstance(exc, net.UnsafeURL):
                _fail(400, "uploadEndpoint", f"URL refused: {exc}")
            _fail(502, "uploadEndpoint", f"the mask could not be uploaded: {exc}")
    record = {
        "version": RECORD_VERSION, "taskUUID": str(task.task_uuid),
        "fingerprint": task.fingerprint(), "inputImageUUID": str(image.id),
        "maskImageUUID": str(mask_uuid), "maskKey": mask_key,
        "outputType": task.output_type, "outputFormat": task.output_format,
        "detections": [d.to_dict() for d in found],
    }
    saved = _save_record(company_id, task, record, image, mask_prefix, storage)
    return _answer(saved, data if saved is record else None, storage)
