"""Database models: companies, their API tokens and their images.

Every row that belongs to a company carries ``company_id``; queries go through the services,
which always filter on it (see ``rasterisation.services``). Types are portable: ``Uuid`` is
native on PostgreSQL and CHAR(32) on SQLite; datetimes are stored in UTC and always come back
timezone-aware (SQLite forgets the zone, ``UTCDateTime`` restores it).

Example
-------
>>> Company(name="Acme").name
'Acme'
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rasterisation.extensions import db

__all__ = ["Company", "ApiToken", "Image", "UTCDateTime", "utcnow", "image_prefix"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(sa.types.TypeDecorator):
    """``DateTime(timezone=True)`` that never hands back a naive datetime."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Company(db.Model):
    __tablename__ = "companies"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    tokens = relationship("ApiToken", back_populates="company", passive_deletes=True)

    def __repr__(self):
        return f"<Company {self.id} {self.name!r}>"


class ApiToken(db.Model):
    """A long-lived private token. Only its SHA-256 is stored; ``prefix`` is for display."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("companies.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # the token that minted this one through the API (None: made with the CLI); revoking a
    # token revokes every token it minted, and a minted token never outlives its parent
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey("api_tokens.id", ondelete="SET NULL"), nullable=True,
        index=True)

    company = relationship("Company", back_populates="tokens")

    def state(self, *, now: datetime | None = None) -> str:
        """``active``, ``expired`` or ``revoked``."""
        now = now or utcnow()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


class User(db.Model):
    """A person who signs in to the API and the dashboard, in one company.

    ``email`` is stored lower-cased and is unique across companies (sign-in names no company).
    ``password_hash`` is an argon2id hash, None until an invited user sets a password.
    ``invite_token_hash`` is the SHA-256 of the one-time set-password token.
    """

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("companies.id", ondelete="CASCADE"), nullable=False, index=True)
    email: Mapped[str] = mapped_column(sa.String(320), nullable=False, unique=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    role: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="member")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    invite_token_hash: Mapped[str | None] = mapped_column(sa.String(64), nullable=True,
                                                          unique=True)
    invite_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    def state(self) -> str:
        """``active``, ``invited`` (no password yet) or ``disabled``."""
        if self.disabled_at is not None:
            return "disabled"
        return "invited" if self.password_hash is None else "active"


class UserSession(db.Model):
    """One sign-in: the family of its rotated refresh tokens. Revoking it (logout, reuse of an
    old refresh token, the user disabled) ends every refresh token and access token of it."""

    __tablename__ = "user_sessions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)


class RefreshToken(db.Model):
    """An opaque, single-use refresh token; only its SHA-256 is stored."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("user_sessions.id", ondelete="CASCADE"), nullable=False,
        index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LoginThrottle(db.Model):
    """Failed sign-ins of one account (``account:<sha256 of the email>``, known or not) or one
    client address (``address:<ip>``), and the lockout they earned."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


__all__ += ["User", "UserSession", "RefreshToken", "LoginThrottle", "USER_ROLES"]
USER_ROLES = ("admin", "member")


class Image(db.Model):
    """An uploaded photo, stored re-encoded (orientation applied, metadata dropped)."""

    __tablename__ = "images"
    __table_args__ = (sa.Index("ix_images_company_id_created_at", "company_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("companies.id", ondelete="CASCADE"), nullable=False)
    original_filename: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    upload_format: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    upload_size_bytes: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    format: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    content_type: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    width: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    height: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    storage_key: Mapped[str] = mapped_column(sa.String(512), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    # set (and committed) first by a delete; every lookup ignores such rows, and the
    # sweeper finishes a delete that a crash or a storage outage interrupted
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True,
                                                        index=True)

    @property
    def prefix(self) -> str:
        """Storage prefix of everything stored for this image (original and derived)."""
        return image_prefix(self.company_id, self.id)


def image_prefix(company_id, image_id) -> str:
    """Every object of an image lives under this prefix (a delete removes the prefix).

    The layout, in one place: ``original.<ext>`` (the upload, re-encoded),
    ``restored.png`` (the face, cropped and upright), ``renders/<image_type>/<tech_name>-
    <version>-<style key>.<ext>`` (mask pictures, keyed like their cache rows).
    """
    return f"companies/{company_id}/images/{image_id}/"


def original_key(company_id, image_id, extension: str) -> str:
    return f"{image_prefix(company_id, image_id)}original.{extension}"


def restored_key(company_id, image_id) -> str:
    return f"{image_prefix(company_id, image_id)}restored.png"


def render_key(company_id, image_id, *, image_type: str, tech_name: str, version: str,
               style_key: str, extension: str) -> str:
    """The object key of one mask picture.

    >>> render_key("c", "i", image_type="original", tech_name="pores", version="2",
    ...            style_key="abc", extension="jpg")
    'companies/c/images/i/renders/original/pores-2-abc.jpg'
    """
    return (f"{image_prefix(company_id, image_id)}renders/{image_type}/{tech_name}-{version}-"
            f"{style_key}.{extension}")


# ------------------------------------------------------------------ analysis caches
# Everything below is derived from an image and can be recomputed; rows cascade with the
# image and their objects live under the image's storage prefix.
__all__ += ["ImageFace", "AnalysisRecord", "RenderRecord", "original_key", "restored_key",
            "render_key"]


class ImageFace(db.Model):
    """The face found in an image (or that none was), and its stored restored image."""

    __tablename__ = "image_faces"

    image_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    has_face: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    data: Mapped[dict | None] = mapped_column(sa.JSON, nullable=True)
    restored_key: Mapped[str | None] = mapped_column(sa.String(512), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class AnalysisRecord(db.Model):
    """One algorithm's result on one image, in one coordinate space.

    ``summary`` is the result without its geometry (metrics, areas, feedback) and ``masks``
    the geometry alone: a cached masks request reads only the small ``summary``.
    """

    __tablename__ = "analyses"
    __table_args__ = (sa.UniqueConstraint("image_id", "tech_name", "version", "image_type",
                                          name="uq_analyses_key"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    image_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("images.id", ondelete="CASCADE"), nullable=False)
    tech_name: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    version: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    image_type: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    summary: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    masks: Mapped[list] = mapped_column(sa.JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class RenderRecord(db.Model):
    """A stored mask picture: the render cache of the masks endpoints."""

    __tablename__ = "renders"
    __table_args__ = (sa.UniqueConstraint("image_id", "image_type", "tech_name", "version",
                                          "style_key", "format", name="uq_renders_key"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    image_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("images.id", ondelete="CASCADE"), nullable=False)
    image_type: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    tech_name: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    version: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    style_key: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    format: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    storage_key: Mapped[str] = mapped_column(sa.String(512), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


# ------------------------------------------------------------------ anonymisation jobs
__all__ += ["AnonymisationJob", "WebhookSecret", "WebhookAttempt", "JOB_STATUSES",
            "job_prefix"]

JOB_STATUSES = ("queued", "processing", "succeeded", "failed")


def job_prefix(company_id, job_id) -> str:
    """Storage prefix of everything stored for one job (its input and every attempt's
    results)."""
    return f"companies/{company_id}/jobs/{job_id}/"


class AnonymisationJob(db.Model):
    """One asynchronous anonymisation (see ``rasterisation.services.jobs``).

    Every status change is a guarded ``UPDATE ... WHERE status = <expected> AND
    lease_token = <the attempt's token>``: only one worker claims a queued job, and a worker
    whose attempt was taken away (its lease lapsed, the job was deleted) can neither finish
    nor fail it.
    """

    __tablename__ = "anonymisation_jobs"
    __table_args__ = (sa.Index("ix_anonymisation_jobs_company_id_created_at", "company_id",
                               "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("companies.id", ondelete="CASCADE"), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="queued",
                                        index=True)
    progress: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.0)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    options: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    client_metadata: Mapped[str | None] = mapped_column("metadata", sa.Text, nullable=True)
    image_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    input_key: Mapped[str | None] = mapped_column(sa.String(512), nullable=True)
    input_filename: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    result: Mapped[dict | None] = mapped_column(sa.JSON, nullable=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    lease_token: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    base_url: Mapped[str | None] = mapped_column(sa.String(512), nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(sa.String(2048), nullable=True)
    webhook_state: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True,
                                                        index=True)
    # set (and committed) first by a delete: every lookup and every guarded update ignores
    # such rows; the files go next, then the row
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    webhook_attempts = relationship("WebhookAttempt", passive_deletes=True,
                                    order_by="WebhookAttempt.attempt")

    @property
    def prefix(self) -> str:
        return job_prefix(self.company_id, self.id)


class WebhookSecret(db.Model):
    """A company's webhook signing secret, shown once. Stored encrypted (AES-256-GCM with a
    key derived from the service's SECRET_KEY, bound to the company:
    ``rasterisation.services.webhooks.seal``), never in plaintext; HMAC signing decrypts
    it for each delivery."""

    __tablename__ = "webhook_secrets"

    company_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True)
    secret_encrypted: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class WebhookAttempt(db.Model):
    """One delivery attempt of a job's webhook; (job, attempt) is unique, so one attempt
    number is never sent twice."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (sa.UniqueConstraint("job_id", "attempt", name="uq_webhook_attempts_job"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("anonymisation_jobs.id", ondelete="CASCADE"), nullable=False)
    attempt: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    event: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    url: Mapped[str] = mapped_column(sa.String(2048), nullable=False)
    ok: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    status_code: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


# ------------------------------------------------------------------ results that expire
__all__ += ["MaskingTaskRecord", "AnonymiseResult", "anonymised_prefix"]


def anonymised_prefix(company_id, result_id) -> str:
    """Storage prefix of one synchronous anonymisation's files (picture, masks)."""
    return f"companies/{company_id}/anonymised/{result_id}/"


class MaskingTaskRecord(db.Model):
    """A masking task's answer, kept for its taskUUID (a repeat answers it) until
    ``expires_at`` (RESULT_TTL); the storage sweeper then removes its mask and the row.

    No foreign key on ``image_id``: deleting the image deletes the mask with the image's
    prefix, and a repeat of the task then answers 404 (the row goes at its expiry).
    """

    __tablename__ = "masking_tasks"

    company_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True)
    task_uuid: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    image_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    record: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    mask_prefix: Mapped[str] = mapped_column(sa.String(512), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)


class AnonymiseResult(db.Model):
    """The stored files of one synchronous anonymisation (``POST .../anonymise``), under
    :func:`anonymised_prefix`, until ``expires_at`` (RESULT_TTL); the storage sweeper then
    removes the files and the row. The row is written before the files, so every stored
    file has a row that expires."""

    __tablename__ = "anonymise_results"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("companies.id", ondelete="CASCADE"), nullable=False, index=True)
    image_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)

    @property
    def prefix(self) -> str:
        return anonymised_prefix(self.company_id, self.id)
