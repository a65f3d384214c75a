"""Long-lived private API tokens: issue (shown once), look up, revoke, touch.

A token is ``rst_`` + 43 URL-safe characters (256 random bits). Only its SHA-256 is stored,
which is enough: the token itself has full entropy, so a slow password hash would add nothing.

Example
-------
>>> token = generate_token()
>>> token.startswith("rst_"), len(token), len(hash_token(token))
(True, 47, 64)
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from rasterisation.extensions import db
from rasterisation.models import ApiToken, Company, utcnow

__all__ = [
    "TOKEN_PREFIX", "TOKEN_PATTERN", "TOKEN_STATES", "InvalidToken", "generate_token",
    "hash_token", "issue_token", "list_tokens", "count_tokens", "revoke_token",
    "authenticate_token", "touch_last_used", "LAST_USED_RESOLUTION", "TokenFieldError",
]

TOKEN_PREFIX = "rst_"
TOKEN_PATTERN = re.compile(r"rst_[A-Za-z0-9_-]{43}")
TOKEN_STATES = ("active", "expired", "revoked")
MAX_EXPIRES_IN_DAYS = 3650
log = logging.getLogger(__name__)
# last_used_at is written at most this often per token, not on every request
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenFieldError(ValueError):
    """A bad value for one field of a token request; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class InvalidToken(Exception):
    """The presented token is unusable; ``reason`` is safe to show to the caller."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(*, company_id, name: str = "default", expires_in_days: int | None = None,
                parent: ApiToken | None = None) -> tuple[ApiToken, str]:
    """Create a token for ``company_id``; return the row and the plaintext (shown once).

    ``parent`` is the token that mints this one (the API's caller): the new token expires no
    later than its parent (omitted ``expires_in_days``: at the parent's expiry), and revoking
    the parent revokes it.

    Raises ``LookupError`` for an unknown company and ``TokenFieldError`` (a ``ValueError``)
    for a bad name or expiry.
    """
    name = (name or "").strip()
    if not 1 <= len(name) <= 200:
        raise TokenFieldError("name", "a token name must be 1 to 200 characters")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRES_IN_DAYS:
        raise TokenFieldError("expires_in_days",
                              f"expires_in_days must be between 1 and {MAX_EXPIRES_IN_DAYS}")
    if db.session.get(Company, company_id) is None:
        raise LookupError(f"no company {company_id}")
    plaintext = generate_token()
    now = utcnow()
    expires_at = now + timedelta(days=expires_in_days) if expires_in_days else None
    if parent is not None and parent.expires_at is not None:
        if expires_at is None:
            expires_at = parent.expires_at
        elif expires_at > parent.expires_at:
            raise TokenFieldError(
                "expires_in_days",
                f"a token cannot outlive the token that creates it: this one expires at "
                f"{parent.expires_at.isoformat()}, so at most "
                f"{max(0, (parent.expires_at - now).days)} days (or omit the field)")
    row = ApiToken(
        id=uuid.uuid4(), company_id=company_id, name=name, token_hash=hash_token(plaintext),
        prefix=plaintext[:12], created_at=now, expires_at=expires_at,
        parent_id=parent.id if parent is not None else None,
    )
    db.session.add(row)
    db.session.commit()
    if parent is not None:
        # the parent may have been revoked while this one was made: its revocation cascades
        # over the children it can see, so look again now that this one is committed
        revoked = db.session.execute(sa.select(ApiToken.revoked_at)
                                     .where(ApiToken.id == parent.id)).scalar()
        if revoked is not None:
            _revoke_descendants([parent.id], now=utcnow())
            raise InvalidToken("this token was revoked")
    return row, plaintext


def _company_tokens(company_id):
    return sa.select(ApiToken).where(ApiToken.company_id == company_id)


def list_tokens(company_id, *, page: int = 1, page_size: int = 20) -> list[ApiToken]:
    query = (_company_tokens(company_id)
             .order_by(ApiToken.created_at.desc(), ApiToken.id)
             .limit(page_size).offset((page - 1) * page_size))
    return list(db.session.scalars(query))


def count_tokens(company_id) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(
        _company_tokens(company_id).subquery()))


def revoke_token(*, company_id, token_id) -> ApiToken | None:
    """Revoke one of ``company_id``'s tokens and every token minted from it, recursively
    (idempotent). None if it is not theirs."""
    row = db.session.get(ApiToken, token_id)
    if row is None or row.company_id != company_id:
        return None
    now = utcnow()
    if row.revoked_at is None:
        row.revoked_at = now
        db.session.commit()  # before the cascade: see issue_token
    _revoke_descendants([row.id], now=now)
    return row


def _revoke_descendants(ids, *, now) -> int:
    """Revoke the tokens minted from ``ids``, their children and so on; how many."""
    count, frontier, seen = 0, list(ids), set(ids)
    while frontier:
        children = [c for c in db.session.scalars(
            sa.select(ApiToken.id).where(ApiToken.parent_id.in_(frontier))) if c not in seen]
        seen.update(children)
        if children:
            count += db.session.execute(
                sa.update(ApiToken).where(ApiToken.id.in_(children),
                                          ApiToken.revoked_at.is_(None))
                .values(revoked_at=now).execution_options(synchronize_session=False)
            ).rowcount
        frontier = children
    db.session.commit()
    return count


def authenticate_token(token: str, *, now: datetime | None = None) -> ApiToken:
    """The active token row for ``token`` or ``InvalidToken``."""
    if not TOKEN_PATTERN.fullmatch(token or ""):
        raise InvalidToken("malformed token: tokens look like rst_ followed by 43 characters")
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        raise InvalidToken("unknown token")
    state = row.state(now=now)
    if state == "revoked":
        raise InvalidToken("this token was revoked")
    if state == "expired":
        raise InvalidToken(f"this token expired at {row.expires_at.isoformat()}")
    return row


def touch_last_used(row: ApiToken, *, now: datetime | None = None) -> bool:
    """Record use, at most once per ``LAST_USED_RESOLUTION``; True if a row was written.

    One conditional UPDATE, so concurrent requests never write more than once either.
    """
    now = now or utcnow()
    if row.last_used_at is not None and now - row.last_used_at < LAST_USED_RESOLUTION:
        return False
    try:
        result = db.session.execute(
            sa.update(ApiToken)
            .where(ApiToken.id == row.id)
            .where(sa.or_(ApiToken.last_used_at.is_(None),
                          ApiToken.last_used_at < now - LAST_USED_RESOLUTION))
            .values(last_used_at=now)
            .execution_options(synchronize_session=False))
        db.session.commit()
    except SQLAlchemyError as exc:
        # bookkeeping only: a busy SQLite file must not fail the caller's request
        db.session.rollback()
        log.warning("could not record token use: %s", exc)
        return False
    return result.rowcount == 1
