"""Anonymisation jobs (asynchronous, with signed webhooks) and the company's webhook secret.

``POST /api/v1/companies/{company_id}/anonymisation_jobs/`` takes the options of the
synchronous ``/anonymise`` (the same schema, the same engine) plus ``metadata`` and
``webhook_url``, checks the photo and the options now (a JSON 4xx naming the field), stores
the upload and answers 202; a worker (``rasterisation worker``, or the one
``rasterisation serve`` starts) runs it.

The upload may also be a video (MP4, MOV, AVI, MKV or WEBM, recognised from its first bytes by
:func:`algorithms.video.sniff`, never from its name): the body may then be as large as
``RASTERISATION_VIDEO_MAX_BYTES`` (``rasterisation.limits``); the file is spooled to disk,
its size, duration and frame size checked from the container header
(:func:`algorithms.video.probe`, nothing decoded) and it is stored as the job's input
``input/video``; the worker runs :func:`algorithms.video.anonymise_video`.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.fields import Upload
from marshmallow import validate

from rasterisation import net
from rasterisation.api.anonymise import AnonymiseFormSchema, build_request, read_upload
from rasterisation.api.blueprint import Blueprint
from rasterisation.api.masking_tasks import DetectionSchema  # noqa: F401 - spec components
from rasterisation.api.schemas import PageArgsSchema, page_of
from rasterisation.models import JOB_STATUSES
from rasterisation.services import images as image_service
from rasterisation.services import jobs as job_service
from rasterisation.services import webhooks
from rasterisation.services.imaging import ImageRejected

__all__ = ["blp", "webhook_blp"]

blp = Blueprint("anonymisation_jobs", __name__,
                url_prefix="/api/v1/companies/<uuid:company_id>/anonymisation_jobs",
                description="Anonymisation as jobs: queued, run by a worker, retried when a "
                            "worker dies, results as signed URLs, a signed webhook when done; "
                            "deleting a job deletes its files.")
webhook_blp = Blueprint("webhook_secret", __name__,
                        url_prefix="/api/v1/companies/<uuid:company_id>/webhook_secret",
                        description="The company's webhook signing secret (HMAC-SHA256 of "
                                    "\"<timestamp>.<body>\").")


def _fail(status: int, field: str, message: str):
    abort(status, message=f"{field}: {message}", errors={"form": {field: [message]}})


class JobFormSchema(AnonymiseFormSchema):
    masks = ma.fields.Boolean(load_default=True, metadata={
        "description": "also store the binary mask and the instance mask (pixel = detection "
                       "index + 1); default true for jobs"})
    metadata = ma.fields.String(validate=validate.Length(max=4096), metadata={
        "description": "any string (<= 4096 characters), echoed in the job and its webhook"})
    webhook_url = ma.fields.String(validate=validate.Length(max=2048), metadata={
        "description": "http(s) URL POSTed a signed JSON when the job ends (public addresses "
                       "only); needs a webhook secret (POST .../webhook_secret)"})


class JobFileSchema(ma.Schema):
    file = Upload(metadata={
        "description": "a JPEG, PNG or WEBP photo (<= RASTERISATION_MAX_UPLOAD_BYTES) or an "
                       "MP4, MOV, AVI, MKV or WEBM video (<= RASTERISATION_VIDEO_MAX_BYTES and "
                       "RASTERISATION_VIDEO_MAX_SECONDS), recognised by content; kept until "
                       "the job ends"})


class AnonymisationJobArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=validate.OneOf(JOB_STATUSES), metadata={
        "description": "only jobs with this status"})


class AnonymisationJobResultsSchema(ma.Schema):
    kind = ma.fields.String(metadata={"enum": ["photo", "video"]})
    media_url = ma.fields.String(metadata={"description": "signed URL of the anonymised "
                                                          "photo, or of the video (H.264 MP4)"})
    detections_url = ma.fields.String(metadata={
        "description": "signed URL of a JSON: photos {job_id, width, height, detections}; "
                       "videos {job_id, width, height, fps, frames, duration, tracks, "
                       "per_frame: [{frame, detections: [{track_id, label, x_min, y_min, "
                       "x_max, y_max, confidence, source}]}]}"})
    mask_url = ma.fields.String(allow_none=True, metadata={"description": "binary mask PNG"})
    instance_mask_url = ma.fields.String(allow_none=True, metadata={
        "description": "instance mask PNG (pixel = detection index + 1)"})
    url_expires_at = ma.fields.DateTime()
    format = ma.fields.String()
    width = ma.fields.Integer()
    height = ma.fields.Integer()
    detections_count = ma.fields.Integer(metadata={
        "description": "photos: detections; videos: tracks (faces / people followed)"})
    frames = ma.fields.Integer(allow_none=True, metadata={"description": "videos: frames"})
    fps = ma.fields.Float(allow_none=True, metadata={"description": "videos: frame rate"})
    duration = ma.fields.Float(allow_none=True, metadata={"description": "videos: seconds"})
    frames_with_masks = ma.fields.Integer(allow_none=True, metadata={
        "description": "videos: frames in which something was hidden"})
    audio = ma.fields.String(allow_none=True, metadata={
        "description": "videos: `copy` (the source's audio packets, unchanged), `aac` "
                       "(re-encoded: a codec MP4 cannot carry) or null (no audio)"})


class ProgressDetailSchema(ma.Schema):
    stage = ma.fields.String(metadata={"enum": ["detect", "encode", "done"], "description":
                                       "videos: `detect` (first pass), `encode` (second "
                                       "pass), `done`"})
    frames_done = ma.fields.Integer()
    frames_total = ma.fields.Integer(metadata={"description": "from the container header "
                                                              "(exact once decoded)"})


class WebhookAttemptSchema(ma.Schema):
    attempt = ma.fields.Integer()
    event = ma.fields.String()
    started_at = ma.fields.DateTime()
    ok = ma.fields.Boolean()
    status_code = ma.fields.Integer(allow_none=True)
    error = ma.fields.String(allow_none=True)
    duration_ms = ma.fields.Integer(allow_none=True)


class AnonymisationJobWebhookSchema(ma.Schema):
    url = ma.fields.String()
    state = ma.fields.String(allow_none=True, metadata={
        "description": "null until the job ends; pending, delivered or failed"})
    attempts = ma.fields.List(ma.fields.Nested(WebhookAttemptSchema))


class AnonymisationJobSchema(ma.Schema):
    id = ma.fields.UUID()
    job_id = ma.fields.UUID(metadata={"description": "the same as id"})
    status = ma.fields.String(metadata={"enum": list(JOB_STATUSES)})
    progress = ma.fields.Float(metadata={"description": "0-1"})
    progress_detail = ma.fields.Nested(ProgressDetailSchema, allow_none=True, metadata={
        "description": "videos: frames done of the total in the current pass; null for "
                       "photos"})
    error = ma.fields.String(allow_none=True, metadata={
        "description": "why it failed; while queued again, why the last attempt did not "
                       "finish"})
    attempts = ma.fields.Integer(metadata={"description": "attempts started so far"})
    metadata = ma.fields.String(allow_none=True)
    image_id = ma.fields.UUID(allow_none=True)
    filename = ma.fields.String(allow_none=True)
    options = ma.fields.Dict()
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    expires_at = ma.fields.DateTime(allow_none=True, metadata={
        "description": "when the job and its files are deleted (RASTERISATION_JOB_TTL after "
                       "it ended)"})
    results = ma.fields.Nested(AnonymisationJobResultsSchema, allow_none=True)
    webhook = ma.fields.Nested(AnonymisationJobWebhookSchema, allow_none=True)


JobPageSchema = page_of(AnonymisationJobSchema, "AnonymisationJobPageSchema")


class WebhookSecretSchema(ma.Schema):
    exists = ma.fields.Boolean()
    created_at = ma.fields.DateTime(allow_none=True)
    secret = ma.fields.String(metadata={"description": "shown once, on POST only"})
    rotated = ma.fields.Boolean(metadata={"description": "POST: an earlier secret was "
                                                         "replaced"})


def job_dict(job, *, with_attempts: bool = True) -> dict:
    webhook = None
    if job.webhook_url:
        webhook = {"url": job.webhook_url, "state": job.webhook_state,
                   "attempts": list(job.webhook_attempts) if with_attempts else []}
    return {"id": job.id, "job_id": job.id, "status": job.status, "progress": job.progress,
            "progress_detail": job_service.progress_detail_of(job),
            "error": job.error, "attempts": job.attempts, "metadata": job.client_metadata,
            "image_id": job.image_id, "filename": job.input_filename, "options": job.options,
            "created_at": job.created_at, "started_at": job.started_at,
            "finished_at": job.finished_at, "expires_at": job.expires_at,
            "results": job_service.results_of(job), "webhook": webhook}


def _check_upload(data: bytes) -> None:
    """Reject a bad photo now (415 / 413 / 422 naming ``file``): format from the content,
    pixel count from the header, and a decode (JPEG at 1/8 scale: ~10x cheaper) that finds
    truncated or corrupt data."""
    from rasterisation.services.imaging import _open

    limit = image_service.settings().max_image_pixels
    try:
        if not data:
            raise ImageRejected(422, "the file is empty")
        im = _open(data)
        w, h = im.size
        if w * h > limit:
            raise ImageRejected(413, f"the image is {w} x {h} = {w * h} pixels; the limit is "
                                     f"{limit} (RASTERISATION_MAX_IMAGE_PIXELS)")
        if im.format == "JPEG":
            im.draft("RGB", (max(1, w // 8), max(1, h // 8)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                im.load()
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                raise ImageRejected(422, f"the {im.format} image is truncated or corrupt: "
                                         f"{exc}") from None
    except ImageRejected as exc:
        if exc.status == 415:
            _fail(415, "file", "the file is neither a JPEG, PNG or WEBP image nor an MP4, MOV, "
                               "AVI, MKV or WEBM video (the format is read from the content, "
                               "not the file name)")
        _fail(exc.status, "file", exc.message)


_VIDEO_STATUS = {"too_large": 413, "too_long": 413, "too_many_pixels": 413,
                 "unsupported_format": 415}


def _sniff_upload(upload) -> str | None:
    """The video container of the upload from its first bytes (None: not a video); the
    stream is rewound."""
    from algorithms.video import sniff

    stream = upload.stream
    head = stream.read(64)
    stream.seek(0)
    return sniff(head)


def _spool_video(upload, form: dict) -> Path:
    """Save the video upload to a temporary file and check it against the limits from its
    size and header (nothing decoded); its path. A JSON 4xx naming ``file`` (413 over a
    limit, 422 unreadable) or ``output_format`` (422)."""
    from algorithms.video import VideoError, probe

    if form.get("image_id") is not None:
        _fail(422, "file", "send exactly one of `file` (multipart) or `image_id`")
    if form.get("output_format"):
        _fail(422, "output_format", "videos are always encoded as H.264 MP4; leave "
                                    "output_format out")
    settings = image_service.settings()
    folder = job_service.temp_dir()
    fd, name = tempfile.mkstemp(dir=folder, prefix="upload-", suffix=".video")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            upload.save(fh)
        try:
            probe(path, max_bytes=settings.video_max_bytes,
                  max_seconds=settings.video_max_seconds)
        except VideoError as exc:
            variable = {"too_large": " (RASTERISATION_VIDEO_MAX_BYTES)",
                        "too_long": " (RASTERISATION_VIDEO_MAX_SECONDS)"}.get(exc.reason, "")
            _fail(_VIDEO_STATUS.get(exc.reason, 422), "file",
                  f"{exc.message}{variable} [{exc.reason}]")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _options(form: dict, request) -> dict:
    keys = ("faces", "people", "method", "shape", "blur_strength", "pixel_size", "fill_color",
            "edge_softness", "padding", "face_threshold", "person_threshold", "masks",
            "output_format")
    options = {k: form[k] for k in keys if form.get(k) is not None}
    options["included"] = [list(r) for r in request.included]
    options["excluded"] = [list(r) for r in request.excluded]
    return options


@blp.route("/")
class Jobs(MethodView):
    @blp.arguments(JobFormSchema, location="form")
    @blp.arguments(JobFileSchema, location="files")
    @blp.response(202, AnonymisationJobSchema)
    @blp.alt_response(413, description="upload or pixel count over the limit; a video over "
                                       "RASTERISATION_VIDEO_MAX_BYTES, "
                                       "RASTERISATION_VIDEO_MAX_SECONDS or 3840 x 2160")
    @blp.alt_response(415, description="neither a JPEG, PNG or WEBP image nor an MP4, MOV, "
                                       "AVI, MKV or WEBM video")
    @blp.alt_response(422, description="bad option, corrupt photo or video header, no file "
                                       "or both forms, plates=true, output_format with a "
                                       "video, webhook_url refused by the SSRF guard or no "
                                       "webhook secret; the message names the field")
    @blp.alt_response(503, description="object storage or the queue unavailable; nothing "
                                       "kept")
    @blp.company_scoped(not_found="image_id names no image of this company")
    def post(self, form, files, company_id):
        """Queue the anonymisation of one photo or video (the options of /anonymise, plus
        `metadata` and `webhook_url`)."""
        request = build_request(form)
        upload = files.get("file")
        video = upload is not None and _sniff_upload(upload) is not None
        data = None if video else read_upload(form, files)
        webhook_url = form.get("webhook_url")
        if webhook_url:
            settings = image_service.settings()
            try:
                net.check_url(webhook_url,
                              allow_networks=net.parse_networks(settings.fetch_allow_networks))
            except net.UnsafeURL as exc:
                _fail(422, "webhook_url", str(exc))
            if webhooks.secret_info(company_id) is None:
                _fail(422, "webhook_url", "the company has no webhook secret yet; create one "
                                          "with POST /api/v1/companies/{company_id}/"
                                          "webhook_secret")
        video_path = None
        if video:
            video_path = _spool_video(upload, form)
        elif data is not None:
            _check_upload(data)
        else:
            image_service.get_image_or_404(company_id, form["image_id"])
        try:
            job = job_service.create_job(
                company_id, options=_options(form, request), data=data,
                video_path=video_path, image_id=form.get("image_id"),
                filename=image_service.sanitise_filename(upload.filename) if upload else None,
                metadata=form.get("metadata"), webhook_url=webhook_url)
        except job_service.QueueUnavailable as exc:
            abort(503, message=f"the job queue is unavailable; nothing was kept ({exc})")
        finally:
            if video_path is not None:
                video_path.unlink(missing_ok=True)
        return job_dict(job, with_attempts=False)

    @blp.arguments(AnonymisationJobArgsSchema, location="query")
    @blp.response(200, JobPageSchema)
    @blp.company_scoped()
    def get(self, args, company_id):
        """List the company's jobs, newest first (optionally one status)."""
        status = args.pop("status", None)
        items = job_service.list_jobs(company_id, status=status, **args)
        return {"items": [job_dict(j) for j in items],
                "total": job_service.count_jobs(company_id, status=status), **args}


@blp.route("/<uuid:job_id>")
class JobItem(MethodView):
    @blp.response(200, AnonymisationJobSchema)
    @blp.company_scoped(not_found="no such job in this company (or expired)")
    def get(self, company_id, job_id):
        """A job: status, progress, error, result URLs (signed now), webhook attempts."""
        return job_dict(job_service.get_job_or_404(company_id, job_id))

    @blp.response(204)
    @blp.alt_response(503, description="object storage unavailable: the job is already gone "
                                       "from the API; its files are removed by the job "
                                       "workers' maintenance")
    @blp.company_scoped(not_found="no such job in this company")
    def delete(self, company_id, job_id):
        """Delete a job and every file stored for it (input, results); a running attempt
        stops and keeps nothing."""
        job_service.delete_job(job_service.get_job_or_404(company_id, job_id))
        return None


@webhook_blp.route("")
class WebhookSecretResource(MethodView):
    @webhook_blp.response(201, WebhookSecretSchema)
    @webhook_blp.company_scoped()
    def post(self, company_id):
        """Create or rotate the webhook secret; the secret is shown in this answer only."""
        row, rotated = webhooks.create_secret(company_id)
        return {"exists": True, "created_at": row.created_at, "secret": row.secret,
                "rotated": rotated}

    @webhook_blp.response(200, WebhookSecretSchema)
    @webhook_blp.company_scoped()
    def get(self, company_id):
        """Whether a webhook secret exists and when it was made (never the secret)."""
        row = webhooks.secret_info(company_id)
        return {"exists": row is not None, "created_at": row.created_at if row else None}
