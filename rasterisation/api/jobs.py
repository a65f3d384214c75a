"""Anonymisation jobs (asynchronous, with signed webhooks) and the company's webhook secret.

``POST /api/v1/companies/{company_id}/anonymisation_jobs/`` takes the options of the
synchronous ``/anonymise`` (the same schema, the same engine) plus ``metadata`` and
``webhook_url``, checks the photo and the options now (a JSON 4xx naming the field), stores
the upload and answers 202; a worker (``rasterisation worker``, or the one
``rasterisation serve`` starts) runs it.
"""
from __future__ import annotations

import warnings

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import validate

from rasterisation import net
from rasterisation.api.anonymise import AnonymiseFormSchema, FileSchema, build_request, read_upload
from rasterisation.api.masking_tasks import DetectionSchema  # noqa: F401 - spec components
from rasterisation.api.schemas import PageArgsSchema, page_of
from rasterisation.auth import require_company
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


class AnonymisationJobArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=validate.OneOf(JOB_STATUSES), metadata={
        "description": "only jobs with this status"})


class AnonymisationJobResultsSchema(ma.Schema):
    media_url = ma.fields.String(metadata={"description": "signed URL of the anonymised "
                                                          "photo"})
    detections_url = ma.fields.String(metadata={
        "description": "signed URL of a JSON {job_id, width, height, detections}"})
    mask_url = ma.fields.String(allow_none=True, metadata={"description": "binary mask PNG"})
    instance_mask_url = ma.fields.String(allow_none=True, metadata={
        "description": "instance mask PNG (pixel = detection index + 1)"})
    url_expires_at = ma.fields.DateTime()
    format = ma.fields.String()
    width = ma.fields.Integer()
    height = ma.fields.Integer()
    detections_count = ma.fields.Integer()


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
        _fail(exc.status, "file", exc.message)


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
    @blp.arguments(FileSchema, location="files")
    @blp.response(202, AnonymisationJobSchema)
    @blp.alt_response(401, description="missing or invalid token")
    @blp.alt_response(403, description="company_id is not the token's company")
    @blp.alt_response(404, description="image_id names no image of this company")
    @blp.alt_response(413, description="upload or pixel count over the limit")
    @blp.alt_response(415, description="not a JPEG, PNG or WEBP image")
    @blp.alt_response(422, description="bad option, corrupt photo, no photo or both forms, "
                                       "plates=true, webhook_url refused by the SSRF guard "
                                       "or no webhook secret; the message names the field")
    @blp.alt_response(503, description="object storage or the queue unavailable; nothing "
                                       "kept")
    def post(self, form, files, company_id):
        """Queue the anonymisation of one photo (the options of /anonymise, plus `metadata`
        and `webhook_url`)."""
        require_company(company_id)
        request = build_request(form)
        data = read_upload(form, files)
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
        if data is not None:
            _check_upload(data)
        else:
            image_service.get_image_or_404(company_id, form["image_id"])
        upload = files.get("file")
        try:
            job = job_service.create_job(
                company_id, options=_options(form, request), data=data,
                image_id=form.get("image_id"),
                filename=image_service.sanitise_filename(upload.filename) if upload else None,
                metadata=form.get("metadata"), webhook_url=webhook_url)
        except job_service.QueueUnavailable as exc:
            abort(503, message=f"the job queue is unavailable; nothing was kept ({exc})")
        return job_dict(job, with_attempts=False)

    @blp.arguments(AnonymisationJobArgsSchema, location="query")
    @blp.response(200, JobPageSchema)
    @blp.alt_response(401, description="missing or invalid token")
    @blp.alt_response(403, description="company_id is not the token's company")
    def get(self, args, company_id):
        """List the company's jobs, newest first (optionally one status)."""
        require_company(company_id)
        status = args.pop("status", None)
        items = job_service.list_jobs(company_id, status=status, **args)
        return {"items": [job_dict(j) for j in items],
                "total": job_service.count_jobs(company_id, status=status), **args}


@blp.route("/<uuid:job_id>")
class JobItem(MethodView):
    @blp.response(200, AnonymisationJobSchema)
    @blp.alt_response(401, description="missing or invalid token")
    @blp.alt_response(403, description="company_id is not the token's company")
    @blp.alt_response(404, description="no such job in this company (or expired)")
    def get(self, company_id, job_id):
        """A job: status, progress, error, result URLs (signed now), webhook attempts."""
        require_company(company_id)
        return job_dict(job_service.get_job_or_404(company_id, job_id))

    @blp.response(204)
    @blp.alt_response(401, description="missing or invalid token")
    @blp.alt_response(403, description="company_id is not the token's company")
    @blp.alt_response(404, description="no such job in this company")
    @blp.alt_response(503, description="object storage unavailable: the job is already gone "
                                       "from the API; its files are removed by the job "
                                       "workers' maintenance")
    def delete(self, company_id, job_id):
        """Delete a job and every file stored for it (input, results); a running attempt
        stops and keeps nothing."""
        require_company(company_id)
        job_service.delete_job(job_service.get_job_or_404(company_id, job_id))
        return None


@webhook_blp.route("")
class WebhookSecretResource(MethodView):
    @webhook_blp.response(201, WebhookSecretSchema)
    @webhook_blp.alt_response(401, description="missing or invalid token")
    @webhook_blp.alt_response(403, description="company_id is not the token's company")
    def post(self, company_id):
        """Create or rotate the webhook secret; the secret is shown in this answer only."""
        require_company(company_id)
        row, rotated = webhooks.create_secret(company_id)
        return {"exists": True, "created_at": row.created_at, "secret": row.secret,
                "rotated": rotated}

    @webhook_blp.response(200, WebhookSecretSchema)
    @webhook_blp.alt_response(401, description="missing or invalid token")
    @webhook_blp.alt_response(403, description="company_id is not the token's company")
    def get(self, company_id):
        """Whether a webhook secret exists and when it was made (never the secret)."""
        require_company(company_id)
        row = webhooks.secret_info(company_id)
        return {"exists": row is not None, "created_at": row.created_at if row else None}
