"""Signed webhooks of the anonymisation jobs.

A job with a ``webhook_url`` gets one POST when it ends (succeeded or failed)::

    X-Rasterisation-Timestamp: 1767225600
    X-Rasterisation-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">
    {"event": "anonymisation_job.succeeded", "job_id": ..., "status": ..., "metadata": ...,
     "results": {...} | null, "error": ...}

keyed with the company's webhook secret (``POST .../webhook_secret``: shown once, stored
only encrypted, see :func:`seal`). Up to
:data:`MAX_ATTEMPTS` attempts; the wait before attempt n+1 is ``WEBHOOK_BACKOFF * 2**(n-1)``
seconds (short waits are slept on the worker's thread, longer ones are scheduled on the
queue). Every attempt is a row (``WebhookAttempt``, unique per job and attempt number, so an
attempt is never sent twice) listed on the job. A failing webhook never changes the job.

Example
-------
>>> sign("whsec_test", "1700000000", b'{"a":1}')
'sha256=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789'
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from rasterisation import net
from rasterisation.extensions import db
from rasterisation.models import AnonymisationJob, WebhookAttempt, WebhookSecret, utcnow

__all__ = ["create_secret", "secret_info", "signing_secret", "seal", "unseal", "SecretError",
           "NewSecret", "sign", "verify", "deliver", "payload", "MAX_ATTEMPTS", "INLINE_WAIT"]

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
INLINE_WAIT = 2.0   # waits up to this many seconds are slept, longer ones scheduled


# ------------------------------------------------------------------ the secret at rest
SEAL_VERSION = "v1"
_SEAL_INFO = b"rasterisation webhook secret v1"


class SecretError(Exception):
    """A stored secret that cannot be decrypted (the service's SECRET_KEY changed, or the
    row was altered or moved to another company)."""


def _seal_key(service_key: str) -> bytes:
    """AES-256 key for webhook secrets: HKDF-SHA256 of the service's SECRET_KEY (its own
    ``info``, so it is independent of every other use of that key)."""
    from Crypto.Hash import SHA256
    from Crypto.Protocol.KDF import HKDF

    return HKDF(service_key.encode(), 32, b"", SHA256, context=_SEAL_INFO)


def seal(service_key: str, company_id, secret: str) -> str:
    """``v1.<base64url(nonce | ciphertext | tag)>``: AES-256-GCM under :func:`_seal_key`,
    a random 96-bit nonce, the company's id as associated data (a row copied to another
    company does not decrypt).

    >>> cid = uuid.UUID(int=1)
    >>> unseal("k", cid, seal("k", cid, "whsec_x"))
    'whsec_x'
    """
    from Crypto.Cipher import AES

    nonce = secrets.token_bytes(12)
    cipher = AES.new(_seal_key(service_key), AES.MODE_GCM, nonce=nonce)
    cipher.update(uuid.UUID(str(company_id)).bytes)
    body, tag = cipher.encrypt_and_digest(secret.encode())
    return f"{SEAL_VERSION}." + base64.urlsafe_b64encode(nonce + body + tag).decode()


def unseal(service_key: str, company_id, sealed: str) -> str:
    """The secret :func:`seal` sealed; :class:`SecretError` when it does not decrypt."""
    from Crypto.Cipher import AES

    version, _, data = sealed.partition(".")
    try:
        raw = base64.urlsafe_b64decode(data.encode())
        if version != SEAL_VERSION or len(raw) < 29:
            raise ValueError(f"unknown format {version!r}")
        cipher = AES.new(_seal_key(service_key), AES.MODE_GCM, nonce=raw[:12])
        cipher.update(uuid.UUID(str(company_id)).bytes)
        return cipher.decrypt_and_verify(raw[12:-16], raw[-16:]).decode()
    except (ValueError, KeyError) as exc:
        raise SecretError("the webhook secret cannot be decrypted with this service's "
                          "SECRET_KEY (changed since it was made?); create a new one with "
                          "POST .../webhook_secret") from exc


def _service_key() -> str:
    return current_app.config["RASTERISATION"].secret_key


@dataclass(frozen=True)
class NewSecret:
    """A secret just made: the only time its value is at hand."""

    secret: str
    created_at: datetime


def create_secret(company_id) -> tuple[NewSecret, bool]:
    """A new secret for the company (replacing any); (the secret, whether one existed).
    Only its sealed form is stored."""
    row = db.session.get(WebhookSecret, company_id)
    rotated = row is not None
    value = "whsec_" + secrets.token_urlsafe(32)
    sealed, now = seal(_service_key(), company_id, value), utcnow()
    if row is None:
        row = WebhookSecret(company_id=company_id, secret_encrypted=sealed, created_at=now)
        db.session.add(row)
    else:
        row.secret_encrypted, row.created_at = sealed, now
    db.session.commit()
    return NewSecret(secret=value, created_at=now), rotated


def secret_info(company_id) -> WebhookSecret | None:
    return db.session.get(WebhookSecret, company_id)


def signing_secret(row: WebhookSecret) -> str:
    """The plaintext secret of a stored row (for signing); :class:`SecretError`."""
    return unseal(_service_key(), row.company_id, row.secret_encrypted)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *,
           tolerance: float = 300, now: float | None = None) -> bool:
    """What a receiver does (the README has the same in ten lines)."""
    if abs((now or time.time()) - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def payload(job: AnonymisationJob) -> dict:
    from rasterisation.services.jobs import results_of

    return {"event": f"anonymisation_job.{job.status}", "job_id": str(job.id),
            "status": job.status, "metadata": job.client_metadata,
            "results": _jsonable(results_of(job, base_url=job.base_url)),
            "error": job.error,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None}


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _set_state(job_id, state: str) -> None:
    db.session.execute(sa.update(AnonymisationJob).where(AnonymisationJob.id == job_id)
                       .values(webhook_state=state)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def deliver(job_id, attempt: int) -> str:
    """Send attempt ``attempt`` (and the next ones while their waits are short); the last
    outcome: ``delivered``, ``failed``, ``scheduled`` or ``skipped``."""
    from rasterisation.queue import enqueue_webhook

    settings = current_app.config["RASTERISATION"]
    allow = net.parse_networks(settings.fetch_allow_networks)
    while True:
        job = db.session.scalar(sa.select(AnonymisationJob).where(
            AnonymisationJob.id == job_id, AnonymisationJob.deleted_at.is_(None)))
        if job is None or job.webhook_state != "pending" or not job.webhook_url:
            db.session.commit()
            return "skipped"
        record = WebhookAttempt(job_id=job_id, attempt=attempt, event=f"anonymisation_job."
                                f"{job.status}", url=job.webhook_url, started_at=utcnow())
        try:
            db.session.add(record)
            db.session.commit()
        except IntegrityError:  # this attempt was already made (a duplicate message)
            db.session.rollback()
            return "skipped"
        secret = secret_info(job.company_id)
        outcome, give_up = _send(job, record, secret, allow, settings.fetch_timeout)
        db.session.commit()
        if outcome:
            _set_state(job_id, "delivered")
            return "delivered"
        if give_up or attempt >= MAX_ATTEMPTS:
            _set_state(job_id, "failed")
            return "failed"
        wait = settings.webhook_backoff * 2 ** (attempt - 1)
        attempt += 1
        if wait > INLINE_WAIT:
            enqueue_webhook(job_id, attempt, delay=wait)
            return "scheduled"
        time.sleep(wait)


def _send(job, record, secret, allow, timeout) -> tuple[bool, bool]:
    """One POST; (delivered, give up). Fills ``record``."""
    if secret is None:
        record.error = "the company has no webhook secret (POST .../webhook_secret)"
        return False, True
    try:
        key = signing_secret(secret)
    except SecretError as exc:
        record.error = str(exc)
        return False, True
    body = json.dumps(payload(job), separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {"X-Rasterisation-Timestamp": timestamp,
               "X-Rasterisation-Signature": sign(key, timestamp, body),
               "X-Rasterisation-Event": record.event,
               "X-Rasterisation-Delivery": f"{job.id}/{record.attempt}"}
    started = time.monotonic()
    try:
        status = net.post(job.webhook_url, body, content_type="application/json",
                          headers=headers, timeout=timeout, allow_networks=allow)
    except net.UnsafeURL as exc:
        record.error = f"refused by the SSRF guard: {exc}"
        return False, True
    except net.FetchError as exc:
        record.error = str(exc)[:500]
        return False, False
    finally:
        record.duration_ms = int((time.monotonic() - started) * 1000)
    record.status_code = status
    record.ok = 200 <= status < 300
    if not record.ok:
        record.error = f"HTTP {status}"
    return record.ok, False
