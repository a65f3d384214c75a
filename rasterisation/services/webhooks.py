"""Signed webhooks of the anonymisation jobs.

A job with a ``webhook_url`` gets one POST when it ends (succeeded or failed)::

    X-Rasterisation-Timestamp: 1767225600
    X-Rasterisation-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">
    {"event": "anonymisation_job.succeeded", "job_id": ..., "status": ..., "metadata": ...,
     "results": {...} | null, "error": ...}

keyed with the company's webhook secret (``POST .../webhook_secret``). Up to
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

import hashlib
import hmac
import json
import logging
import secrets
import time

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from rasterisation import net
from rasterisation.extensions import db
from rasterisation.models import AnonymisationJob, WebhookAttempt, WebhookSecret, utcnow

__all__ = ["create_secret", "secret_info", "sign", "verify", "deliver", "payload",
           "MAX_ATTEMPTS", "INLINE_WAIT"]

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
INLINE_WAIT = 2.0   # waits up to this many seconds are slept, longer ones scheduled


def create_secret(company_id) -> tuple[WebhookSecret, bool]:
    """A new secret for the company (replacing any); (row, whether one existed)."""
    row = db.session.get(WebhookSecret, company_id)
    rotated = row is not None
    value = "whsec_" + secrets.token_urlsafe(32)
    if row is None:
        row = WebhookSecret(company_id=company_id, secret=value, created_at=utcnow())
        db.session.add(row)
    else:
        row.secret, row.created_at = value, utcnow()
    db.session.commit()
    return row, rotated


def secret_info(company_id) -> WebhookSecret | None:
    return db.session.get(WebhookSecret, company_id)


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
    body = json.dumps(payload(job), separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {"X-Rasterisation-Timestamp": timestamp,
               "X-Rasterisation-Signature": sign(secret.secret, timestamp, body),
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
