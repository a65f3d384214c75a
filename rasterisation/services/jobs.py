"""Anonymisation jobs: create, run, retry, finish, delete, expire.

The job's row is the truth; the queue (``rasterisation.queue``) only carries ids. Every
status change is one guarded UPDATE whose WHERE names the state it expects:

* **claim**: ``queued -> processing`` (``WHERE status = 'queued'``), with a new random
  ``lease_token`` and ``attempts + 1``: of two workers handed the same job (a duplicate
  message, a re-sent one) exactly one gets rowcount 1; the other drops its message.
* **progress, heartbeat, finish, fail, retry**: ``WHERE status = 'processing' AND
  lease_token = <mine> AND deleted_at IS NULL``. A worker whose lease was taken back (it
  stalled past ``JOB_LEASE`` and the job was re-queued), or whose job was deleted, matches
  no row: it removes what it stored and stops. So a job is finished at most once, and its
  files are those of the one attempt that finished it.
* **reap** (any worker's maintenance loop): a ``processing`` job whose heartbeat is older than
  ``JOB_LEASE`` lost its worker (crash, kill, lost connection): back to ``queued`` and re-sent,
  or ``failed`` with the reason once ``JOB_ATTEMPTS`` are used up.

Files: ``companies/<cid>/jobs/<jid>/input/upload`` (a photo) or ``input/video`` (a video),
until the job ends, and ``.../a<attempt>/`` (one attempt's results: the picture,
detections.json, mask.png, instance_mask.png; for a video: video.mp4 and detections.json). A
delete marks the row, removes the prefix, then the row.

Videos: the worker copies the input to a temporary directory under ``<DATA_DIR>/tmp/jobs``
(removed whatever happens), runs :func:`algorithms.video.anonymise_video` there with the
job's options, writes the frames done / total of each pass into the job (``progress``, and
``result.progress`` while it runs: ``progress_detail`` in the API) at most every
``_PROGRESS_EVERY`` s, and stores the MP4 and the per-frame detections. A
:class:`~algorithms.video.VideoError` (corrupt, truncated, over a limit) fails the job at
once with its reason and message; nothing of the attempt is kept.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from datetime import timedelta
from urllib.parse import urljoin

import sqlalchemy as sa
from flask import current_app, has_request_context, request

from rasterisation.errors import NotFound
from rasterisation.extensions import db
from rasterisation.models import AnonymisationJob, Image, job_prefix, utcnow
from rasterisation.storage import StorageError, get_storage

__all__ = ["create_job", "get_job_or_404", "list_jobs", "count_jobs", "delete_job",
           "process_job", "maintain", "results_of", "progress_detail_of", "temp_dir",
           "JobInputError", "TERMINAL", "QueueUnavailable", "VIDEO_INPUT"]

log = logging.getLogger(__name__)
TERMINAL = ("succeeded", "failed")
_EXT = {"jpeg": "jpg", "png": "png"}
_CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}
VIDEO_INPUT = "input/video"          # the key's tail: the input is a video
_PROGRESS_EVERY = 0.5                # seconds between two progress writes of a video job
# the share of a video job's progress each pass covers (the claim is 0.05, the upload of
# the results the last 0.05): the detect pass (decode + detector on every frame) costs
# about twice the encode pass (decode + hide + x264) on the benchmarks
_PASSES = {"detect": (0.05, 0.60), "encode": (0.65, 0.30)}


class JobInputError(Exception):
    """The job's input cannot be processed (corrupt, deleted): fail now, no retry."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")


class QueueUnavailable(RuntimeError):
    """The message could not be sent; the job was removed."""


class _Lost(Exception):
    """This attempt's lease is gone (re-queued elsewhere, deleted): stop quietly."""


def _settings():
    return current_app.config["RASTERISATION"]


def _alive():
    return AnonymisationJob.deleted_at.is_(None)


# ------------------------------------------------------------------ API side
def temp_dir() -> Path:
    """``<DATA_DIR>/tmp/jobs``, created: video uploads and video jobs work there."""
    folder = _settings().data_dir / "tmp" / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def create_job(company_id, *, options: dict, data: bytes | None, image_id,
               filename: str | None, metadata: str | None, webhook_url: str | None,
               video_path=None) -> AnonymisationJob:
    """Store the upload (``data``, a photo, or the file ``video_path``), insert the row
    (queued), send the message. On a failure nothing is kept (StorageError / the queue's
    error propagates)."""
    from rasterisation.queue import enqueue_job

    storage = get_storage()
    job_id = uuid.uuid4()
    input_key = None
    if video_path is not None:
        input_key = f"{job_prefix(company_id, job_id)}{VIDEO_INPUT}"
        try:
            storage.put_file(input_key, video_path, "application/octet-stream")
        except BaseException:
            _remove_prefix(job_prefix(company_id, job_id))
            raise
    elif data is not None:
        input_key = f"{job_prefix(company_id, job_id)}input/upload"
        storage.put(input_key, data, "application/octet-stream")
    now = utcnow()
    job = AnonymisationJob(
        id=job_id, company_id=company_id, status="queued", progress=0.0, options=options,
        client_metadata=metadata, image_id=image_id, input_key=input_key,
        input_filename=filename, attempts=0, heartbeat_at=now, created_at=now,
        webhook_url=webhook_url, base_url=request.url_root if has_request_context() else None)
    try:
        db.session.add(job)
        db.session.commit()
    except Exception:
        db.session.rollback()
        _remove_prefix(job_prefix(company_id, job_id))
        raise
    try:
        enqueue_job(job_id)
    except Exception as exc:  # noqa: BLE001 - sqlite3, redis: whatever the queue raises
        log.exception("could not queue job %s; removing it", job_id)
        _remove(job_id, company_id)
        raise QueueUnavailable(f"{type(exc).__name__}: {exc}") from exc
    return job


def _visible(company_id):
    return (sa.select(AnonymisationJob)
            .where(AnonymisationJob.company_id == company_id, _alive())
            .where(sa.or_(AnonymisationJob.expires_at.is_(None),
                          AnonymisationJob.expires_at > utcnow())))


def get_job(company_id, job_id) -> AnonymisationJob | None:
    return db.session.scalar(_visible(company_id).where(AnonymisationJob.id == job_id))


def get_job_or_404(company_id, job_id) -> AnonymisationJob:
    job = get_job(company_id, job_id)
    if job is None:
        raise NotFound(f"no anonymisation job {job_id} in company {company_id}")
    return job


def list_jobs(company_id, *, status: str | None = None, page: int = 1, page_size: int = 20):
    query = _visible(company_id)
    if status:
        query = query.where(AnonymisationJob.status == status)
    return db.session.scalars(query.order_by(AnonymisationJob.created_at.desc(),
                                             AnonymisationJob.id)
                              .limit(page_size).offset((page - 1) * page_size)).all()


def count_jobs(company_id, *, status: str | None = None) -> int:
    query = _visible(company_id)
    if status:
        query = query.where(AnonymisationJob.status == status)
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))


def delete_job(job: AnonymisationJob) -> int:
    """Mark (committed), remove every file of the job, remove the row; objects removed.
    A running attempt's guarded updates fail from the mark on: it removes what it stored."""
    job_id, company_id = job.id, job.company_id
    db.session.execute(sa.update(AnonymisationJob).where(AnonymisationJob.id == job_id)
                       .where(_alive()).values(deleted_at=utcnow())
                       .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.expunge_all()
    return _remove(job_id, company_id)


def _remove(job_id, company_id) -> int:
    removed = get_storage().delete_prefix(job_prefix(company_id, job_id))
    db.session.execute(sa.delete(AnonymisationJob).where(AnonymisationJob.id == job_id)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    return removed


def _remove_prefix(prefix: str) -> None:
    try:
        get_storage().delete_prefix(prefix)
    except StorageError:
        log.warning("could not remove %s; the job maintenance retries later", prefix)


def results_of(job: AnonymisationJob, *, base_url: str | None = None) -> dict | None:
    """The result URLs (signed now) and facts of a succeeded job; None otherwise."""
    if job.status != "succeeded" or not job.result:
        return None
    from rasterisation.services.images import signed_url

    storage = get_storage()
    r = job.result
    base = _settings().public_url or base_url

    def sign(key):
        if not key:
            return None, None
        url, expires_at = signed_url(key, storage=storage)
        if base and not url.startswith(("http://", "https://")):
            url = urljoin(base.rstrip("/") + "/", url.lstrip("/"))
        return url, expires_at

    media_url, expires_at = sign(r.get("media_key"))
    return {"kind": r.get("kind", "photo"), "media_url": media_url,
            "detections_url": sign(r.get("detections_key"))[0],
            "mask_url": sign(r.get("mask_key"))[0],
            "instance_mask_url": sign(r.get("instance_mask_key"))[0],
            "url_expires_at": expires_at, "format": r.get("format"),
            "width": r.get("width"), "height": r.get("height"),
            "detections_count": r.get("detections_count"), "frames": r.get("frames"),
            "fps": r.get("fps"), "duration": r.get("duration"),
            "frames_with_masks": r.get("frames_with_masks"), "audio": r.get("audio")}


def progress_detail_of(job: AnonymisationJob) -> dict | None:
    """A video job's ``{stage, frames_done, frames_total}`` (written by the worker in
    ``result.progress``); None for photos and before the first frame."""
    r = job.result
    if not isinstance(r, dict) or not isinstance(r.get("progress"), dict):
        return None
    return r["progress"]


# ------------------------------------------------------------------ worker side
def _guarded(job_id, token, *, where=(), **values) -> bool:
    """UPDATE the job if this attempt still holds it; whether it did (committed)."""
    result = db.session.execute(
        sa.update(AnonymisationJob)
        .where(AnonymisationJob.id == job_id, AnonymisationJob.status == "processing",
               AnonymisationJob.lease_token == token, _alive(), *where)
        .values(**values).execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def _claim(job_id) -> tuple[str, int] | None:
    token = uuid.uuid4().hex
    now = utcnow()
    result = db.session.execute(
        sa.update(AnonymisationJob)
        .where(AnonymisationJob.id == job_id, AnonymisationJob.status == "queued", _alive())
        .values(status="processing", attempts=AnonymisationJob.attempts + 1,
                lease_token=token, heartbeat_at=now, progress=0.05, result=None,
                started_at=sa.func.coalesce(AnonymisationJob.started_at, now))
        .execution_options(synchronize_session=False))
    db.session.commit()
    if result.rowcount != 1:
        return None
    attempts = db.session.scalar(sa.select(AnonymisationJob.attempts)
                                 .where(AnonymisationJob.id == job_id))
    return token, attempts


class _Heartbeat:
    """Refresh the lease every JOB_LEASE / 4 s on a thread of its own (own session)."""

    def __init__(self, app, job_id, token, every: float):
        self.app, self.job_id, self.token, self.every = app, job_id, token, every
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"heartbeat-{job_id}")

    def _run(self):
        while not self._stop.wait(self.every):
            try:
                with self.app.app_context():
                    if not _guarded(self.job_id, self.token, heartbeat_at=utcnow()):
                        self.lost = True
                        return
            except Exception:  # noqa: BLE001 - a missed beat is not fatal; the lease is
                log.warning("heartbeat of job %s failed", self.job_id, exc_info=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


def _request_from(options: dict):
    from algorithms.detect.anonymise import AnonymiseOptions, parse_color
    from rasterisation.services.anonymisation import AnonymiseRequest

    o = options
    return AnonymiseRequest(
        options=AnonymiseOptions(method=o["method"], shape=o["shape"],
                                 blur_strength=o["blur_strength"],
                                 pixel_size=o.get("pixel_size"),
                                 fill_color=parse_color(o["fill_color"]),
                                 edge_softness=o["edge_softness"], padding=o["padding"]),
        faces=o["faces"], people=o["people"], face_threshold=o["face_threshold"],
        person_threshold=o["person_threshold"],
        included=tuple(tuple(r) for r in o.get("included") or ()),
        excluded=tuple(tuple(r) for r in o.get("excluded") or ()),
        masks=o["masks"], output_format=o.get("output_format"))


def _load_pixels(job: AnonymisationJob):
    from rasterisation.services.analyses import decode_rgb
    from rasterisation.services.anonymisation import upload_pixels
    from rasterisation.services.imaging import ImageRejected
    from rasterisation.storage import ObjectNotFound

    storage = get_storage()
    if job.input_key:
        try:
            data = storage.get(job.input_key)
        except ObjectNotFound:
            raise JobInputError("file", "the uploaded file is gone") from None
        try:
            return upload_pixels(data, _settings().max_image_pixels)
        except ImageRejected as exc:
            raise JobInputError("file", exc.message) from None
    image = db.session.scalar(sa.select(Image).where(
        Image.id == job.image_id, Image.company_id == job.company_id,
        Image.deleted_at.is_(None)))
    if image is None:
        raise JobInputError("image_id", f"image {job.image_id} was deleted before the job ran")
    try:
        data = storage.get(image.storage_key)
    except ObjectNotFound:
        raise JobInputError("image_id", f"image {job.image_id} was deleted") from None
    return decode_rgb(data), image.format


def _run(job: AnonymisationJob, attempt: int, beat: _Heartbeat, token: str) -> dict:
    from rasterisation.services.anonymisation import (
        detect_and_hide, encode_picture_bytes, output_format,
    )
    from rasterisation.services.masking import encode_mask

    def progress(value):
        if beat.lost or not _guarded(job.id, token, progress=value):
            raise _Lost()

    req = _request_from(job.options)
    if job.input_key and job.input_key.endswith("/" + VIDEO_INPUT):
        return _run_video(job, attempt, req, beat, token)
    pixels, source_format = _load_pixels(job)
    progress(0.2)
    picture, mask, instances, found = detect_and_hide(pixels, req)
    progress(0.7)
    h, w = pixels.shape[:2]
    fmt = output_format(req, source_format)
    storage = get_storage()
    prefix = f"{job.prefix}a{attempt}/"
    result = {"format": fmt, "width": w, "height": h, "detections_count": len(found),
              "attempt": attempt, "media_key": f"{prefix}image.{_EXT[fmt]}",
              "detections_key": f"{prefix}detections.json",
              "mask_key": None, "instance_mask_key": None}
    storage.put(result["media_key"],
                encode_picture_bytes(picture, fmt, _settings().jpeg_quality),
                _CONTENT_TYPES[fmt])
    detections = {"job_id": str(job.id), "width": w, "height": h,
                  "detections": [d.to_dict() for d in found]}
    storage.put(result["detections_key"], json.dumps(detections).encode(),
                "application/json")
    if req.masks:
        for name, array in (("mask", mask), ("instance_mask", instances)):
            result[f"{name}_key"] = f"{prefix}{name}.png"
            storage.put(result[f"{name}_key"], encode_mask(array, "PNG"), "image/png")
    progress(0.95)
    return result


def _video_detector(req):
    """``detector(rgb) -> [Detected]`` for the video engine from the job's options: faces
    (the video detector at ``face_threshold``), people, the included / excluded areas."""
    from algorithms.video import face_detector
    from rasterisation.services.anonymisation import MAX_PEOPLE, _inside

    faces = face_detector(req.face_threshold) if req.faces else None

    def detect(rgb):
        found = list(faces(rgb)) if faces is not None else []
        if req.people:
            from algorithms.detect.persons import detect_persons
            from algorithms.face.roi import Pyramid

            found += detect_persons(Pyramid(rgb), confidence=req.person_threshold,
                                    max_persons=MAX_PEOPLE)
        size = (rgb.shape[1], rgb.shape[0])
        if req.included:
            found = [d for d in found if _inside(d, req.included, size)]
        if req.excluded:
            found = [d for d in found if not _inside(d, req.excluded, size)]
        return found

    return detect


def _run_video(job: AnonymisationJob, attempt: int, req, beat: _Heartbeat,
               token: str) -> dict:
    """One attempt of a video job (see the module docstring)."""
    from algorithms.video import VideoError, anonymise_video
    from rasterisation.storage import ObjectNotFound

    settings = _settings()
    storage = get_storage()
    last = {"at": 0.0}

    def progress(stage: str, done: int, total: int) -> None:
        if beat.lost:
            raise _Lost()
        now = time.monotonic()
        if done < total and now - last["at"] < _PROGRESS_EVERY:
            return
        last["at"] = now
        start, share = _PASSES[stage]
        value = round(start + share * done / max(total, 1), 4)
        detail = {"stage": stage, "frames_done": done, "frames_total": total}
        if not _guarded(job.id, token, progress=value, result={"progress": detail}):
            raise _Lost()

    work = Path(tempfile.mkdtemp(dir=temp_dir(), prefix=f"job-{job.id}-a{attempt}-"))
    try:
        src = work / "input"
        try:
            storage.get_file(job.input_key, src)
        except ObjectNotFound:
            raise JobInputError("file", "the uploaded file is gone") from None
        out = work / "video.mp4"
        try:
            video = anonymise_video(
                src, out, options=req.options, detector=_video_detector(req),
                progress=progress, max_bytes=settings.video_max_bytes,
                max_seconds=settings.video_max_seconds)
        except VideoError as exc:
            raise JobInputError("file", f"{exc.reason}: {exc.message}") from None
        prefix = f"{job.prefix}a{attempt}/"
        result = {"kind": "video", "format": "mp4", "width": video.width,
                  "height": video.height, "detections_count": video.tracks,
                  "frames": video.frames, "fps": float(video.info.fps),
                  "duration": round(video.duration, 3), "audio": video.audio,
                  "frames_with_masks": video.frames_with_masks, "attempt": attempt,
                  "media_key": f"{prefix}video.mp4",
                  "detections_key": f"{prefix}detections.json",
                  "mask_key": None, "instance_mask_key": None,
                  "progress": {"stage": "done", "frames_done": video.frames,
                               "frames_total": video.frames}}
        storage.put_file(result["media_key"], out, "video/mp4")
        document = {"job_id": str(job.id), **video.detections_json()}
        storage.put(result["detections_key"],
                    json.dumps(document, separators=(",", ":")).encode(),
                    "application/json")
        if beat.lost or not _guarded(job.id, token, progress=0.99):
            raise _Lost()
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _after_terminal(job_id, company_id, input_key, webhook: bool) -> None:
    if input_key:
        try:
            get_storage().delete_prefix(input_key.rsplit("/", 1)[0] + "/")
        except StorageError:
            log.warning("could not remove the input of job %s", job_id)
    if webhook:
        from rasterisation.queue import enqueue_webhook

        try:
            enqueue_webhook(job_id, 1)
        except Exception:  # noqa: BLE001 - the maintenance loop re-sends pending webhooks
            log.exception("could not queue the webhook of job %s", job_id)


def _terminal_values(status: str, *, error: str | None, webhook: bool, **extra) -> dict:
    now = utcnow()
    return dict(status=status, error=error, finished_at=now, lease_token=None,
                heartbeat_at=now, input_key=None,
                expires_at=now + timedelta(seconds=_settings().job_ttl),
                webhook_state="pending" if webhook else None, **extra)


def process_job(job_id) -> str:
    """Run one attempt of the job (the queue's task); what happened, for logs and tests:
    ``skipped`` (not queued: a duplicate or stale message), ``lost``, ``succeeded``,
    ``failed`` or ``retry``."""
    claimed = _claim(job_id)
    if claimed is None:
        return "skipped"
    token, attempt = claimed
    job = db.session.get(AnonymisationJob, job_id)
    if job is None:  # deleted right after the claim
        return "lost"
    db.session.expunge(job)  # a snapshot: commits below must not reload (or lose) it
    company_id, input_key, webhook = job.company_id, job.input_key, bool(job.webhook_url)
    attempt_prefix = f"{job.prefix}a{attempt}/"
    settings = _settings()
    app = current_app._get_current_object()
    try:
        with _Heartbeat(app, job_id, token, max(0.5, settings.job_lease / 4)) as beat:
            result = _run(job, attempt, beat, token)
            if beat.lost:
                raise _Lost()
        if not _guarded(job_id, token, progress=1.0, result=result,
                        **_terminal_values("succeeded", error=None, webhook=webhook)):
            raise _Lost()
    except _Lost:
        db.session.rollback()
        log.info("job %s attempt %s lost its lease (retried elsewhere or deleted)", job_id,
                 attempt)
        _remove_prefix(attempt_prefix)
        return "lost"
    except JobInputError as exc:
        db.session.rollback()
        _remove_prefix(attempt_prefix)
        if _guarded(job_id, token, **_terminal_values("failed", error=str(exc),
                                                      webhook=webhook)):
            _after_terminal(job_id, company_id, input_key, webhook)
        return "failed"
    except Exception as exc:  # noqa: BLE001 - any other error: retry, then fail
        db.session.rollback()
        log.exception("job %s attempt %s failed", job_id, attempt)
        _remove_prefix(attempt_prefix)
        reason = f"{type(exc).__name__}: {str(exc)[:300]}"
        if attempt >= settings.job_attempts:
            if _guarded(job_id, token, **_terminal_values(
                    "failed", error=f"failed {attempt} times; last error: {reason}",
                    webhook=webhook)):
                _after_terminal(job_id, company_id, input_key, webhook)
            return "failed"
        if _guarded(job_id, token, status="queued", lease_token=None, heartbeat_at=utcnow(),
                    error=f"attempt {attempt} failed ({reason}); retrying"):
            from rasterisation.queue import enqueue_job

            enqueue_job(job_id, delay=min(60, 2 ** attempt))
        return "retry"
    _after_terminal(job_id, company_id, input_key, webhook)
    return "succeeded"


# ------------------------------------------------------------------ maintenance
def maintain(now=None) -> dict:
    """One pass of the maintenance loop every worker runs; counts of what it did.

    * ``reaped``: processing jobs whose lease lapsed, re-queued (or failed: no attempts left);
    * ``resent``: queued jobs whose message may be lost (not claimed for 10 leases), re-sent
      (a duplicate message is dropped by the claim);
    * ``webhooks``: terminal jobs whose webhook never started (its message lost), sent;
    * ``expired``: jobs past ``expires_at`` (JOB_TTL after they ended) and deletes that
      stopped half-way, removed with their files.
    """
    from rasterisation.queue import enqueue_job, enqueue_webhook

    settings = _settings()
    now = now or utcnow()
    lease = timedelta(seconds=settings.job_lease)
    counts = {"reaped": 0, "resent": 0, "webhooks": 0, "expired": 0}
    J = AnonymisationJob

    lapsed = db.session.execute(
        sa.select(J.id, J.company_id, J.attempts, J.lease_token, J.input_key, J.webhook_url)
        .where(J.status == "processing", _alive(), J.heartbeat_at < now - lease)).all()
    db.session.commit()
    for job_id, company_id, attempts, token, input_key, webhook_url in lapsed:
        reason = (f"attempt {attempts}: its worker stopped sending heartbeats for "
                  f"{settings.job_lease} s (crashed, killed or cut off)")
        still_lapsed = (J.heartbeat_at < now - lease,)
        if attempts >= settings.job_attempts:
            ok = _guarded(job_id, token, where=still_lapsed, **_terminal_values(
                "failed", error=f"{reason}; no attempts left ({attempts} of "
                                f"{settings.job_attempts})", webhook=bool(webhook_url)))
            if ok:
                _after_terminal(job_id, company_id, input_key, bool(webhook_url))
        else:
            ok = _guarded(job_id, token, where=still_lapsed, status="queued",
                          lease_token=None, heartbeat_at=now, error=f"{reason}; retrying")
            if ok:
                enqueue_job(job_id)
        if ok:
            counts["reaped"] += 1
            log.warning("job %s: %s", job_id, reason)
            _remove_prefix(f"{job_prefix(company_id, job_id)}a{attempts}/")

    stale = db.session.scalars(
        sa.select(J.id).where(J.status == "queued", _alive(),
                              J.heartbeat_at < now - 10 * lease)).all()
    for job_id in stale:
        result = db.session.execute(
            sa.update(J).where(J.id == job_id, J.status == "queued",
                               J.heartbeat_at < now - 10 * lease)
            .values(heartbeat_at=now).execution_options(synchronize_session=False))
        db.session.commit()
        if result.rowcount == 1:
            enqueue_job(job_id)
            counts["resent"] += 1

    from rasterisation.models import WebhookAttempt

    unsent = db.session.scalars(
        sa.select(J.id).where(J.webhook_state == "pending", _alive(),
                              J.finished_at < now - 10 * lease,
                              ~sa.exists().where(WebhookAttempt.job_id == J.id))).all()
    db.session.commit()
    for job_id in unsent:
        enqueue_webhook(job_id, 1)  # attempt 1 is unique per job: a duplicate is dropped
        counts["webhooks"] += 1

    gone = db.session.execute(
        sa.select(J.id, J.company_id).where(sa.or_(
            J.expires_at < now, J.deleted_at < now - timedelta(minutes=10)))).all()
    db.session.commit()
    for job_id, company_id in gone:
        try:
            db.session.execute(sa.update(J).where(J.id == job_id, _alive())
                               .values(deleted_at=now)
                               .execution_options(synchronize_session=False))
            db.session.commit()
            _remove(job_id, company_id)
            counts["expired"] += 1
        except StorageError as exc:
            db.session.rollback()
            log.warning("expired job %s: files not removed yet (%s)", job_id, exc)
    return counts
