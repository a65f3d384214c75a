"""Sign-in: access tokens (short-lived JWTs), rotated single-use refresh tokens, lockout.

* ``login(email, password, address)`` -> a new session (the refresh-token family) and a pair.
  A wrong password, an unknown email, an invited user without a password and a disabled
  user all raise the same ``LoginFailed`` (an unknown email verifies a dummy argon2 hash, so
  the time is alike too). Only a caller who knows the right password learns that the
  account is disabled.
* Failures are counted per account (the SHA-256 of the email, whether or not it exists, so
  a lockout says nothing about existence) and per client address. From the
  ``MAX_FAILURES``-th failure on, the key is locked for ``LOCKOUT_BASE`` seconds, doubling
  with each further failure up to ``LOCKOUT_MAX``; a locked key answers ``LockedOut`` (429)
  even with the right password. Counts restart after ``FAILURE_WINDOW`` without failures; a
  successful sign-in clears the account's count (not the address's: a valid account must not
  launder an address's guesses).
* ``refresh(token)``: the refresh token is marked used with one guarded UPDATE (exactly one
  concurrent caller wins) and a new pair is issued in the same session. Presenting a used
  token again is taken as theft: the whole session is revoked.
* An access token is an HS256 JWT signed with a key derived from the service's secret key,
  carrying the user (``sub``), the company (``cid``) and the session (``sid``); each request
  also checks in the database that the user is enabled and the session not revoked, so
  logout and disabling take effect at once, not after 15 minutes.

Example
-------
>>> looks_like_jwt("a.b.c"), looks_like_jwt("rst_abc")
(True, False)
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
import sqlalchemy as sa
from flask import current_app

from rasterisation.extensions import db
from rasterisation.models import LoginThrottle, RefreshToken, User, UserSession, utcnow
from rasterisation.services import users as user_service
from rasterisation.services.tokens import InvalidToken

__all__ = [
    "LoginFailed", "LockedOut", "AccountDisabled", "TokenPair", "login", "refresh",
    "logout", "logout_session", "issue_access_token", "authenticate_access_token",
    "looks_like_jwt", "MAX_FAILURES", "LOCKOUT_BASE", "LOCKOUT_MAX", "FAILURE_WINDOW",
    "REFRESH_PREFIX",
]

MAX_FAILURES = 5
LOCKOUT_BASE = 30  # seconds, doubled per failure past MAX_FAILURES
LOCKOUT_MAX = 3600
FAILURE_WINDOW = timedelta(minutes=15)
REFRESH_PREFIX = "rsr_"
ISSUER = "rasterisation"
ALGORITHM = "HS256"
LOGIN_FAILED_MESSAGE = "wrong email or password"


class LoginFailed(Exception):
    """Wrong email or password (one message for both)."""


class LockedOut(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"too many failed sign-ins; try again in {retry_after} seconds")
        self.retry_after = retry_after


class AccountDisabled(Exception):
    """The password was right but the account is disabled."""


@dataclass
class TokenPair:
    token: str
    refresh_token: str
    expires_in: int
    user: User

    def as_json(self) -> dict:
        return {"token": self.token, "refreshToken": self.refresh_token,
                "expires_in": self.expires_in, "token_type": "Bearer",
                "user": {"id": str(self.user.id), "email": self.user.email,
                         "role": self.user.role, "company_id": str(self.user.company_id)}}


def _settings():
    return current_app.config["RASTERISATION"]


def _access_ttl() -> int:
    return int(getattr(_settings(), "access_token_ttl", 900))


def _refresh_ttl() -> int:
    return int(getattr(_settings(), "refresh_token_ttl", 30 * 24 * 3600))


def _signing_key() -> bytes:
    """A key for JWTs only, derived from the secret key (which also signs file URLs)."""
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"rasterisation access tokens",
                    hashlib.sha256).digest()


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ------------------------------------------------------------------ throttling
def _keys(email: str, address: str | None) -> list[str]:
    keys = ["account:" + _hash(user_service.normalise_email(email))]
    if address:
        keys.append("address:" + address[:100])
    return keys


def _check_locks(keys, now) -> None:
    rows = db.session.scalars(sa.select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    waits = [int((row.locked_until - now).total_seconds()) + 1 for row in rows
             if row.locked_until is not None and row.locked_until > now]
    if waits:
        raise LockedOut(max(waits))


def _record_failure(keys, now) -> None:
    for key in keys:
        row = db.session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0)
            db.session.add(row)
        if row.last_failure_at is not None and now - row.last_failure_at > FAILURE_WINDOW \
                and (row.locked_until is None or row.locked_until <= now):
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        if row.failures >= MAX_FAILURES:
            seconds = min(LOCKOUT_MAX, LOCKOUT_BASE * 2 ** (row.failures - MAX_FAILURES))
            row.locked_until = now + timedelta(seconds=seconds)
    try:
        db.session.commit()
    except sa.exc.IntegrityError:  # a concurrent first failure of the same key
        db.session.rollback()


def _clear(key) -> None:
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == key))


# ------------------------------------------------------------------ tokens
def issue_access_token(user: User, session: UserSession, *, now: datetime | None = None) -> str:
    now = now or utcnow()
    claims = {"iss": ISSUER, "sub": str(user.id), "cid": str(user.company_id),
              "sid": str(session.id), "role": user.role, "typ": "access",
              "iat": int(now.timestamp()), "exp": int(now.timestamp()) + _access_ttl(),
              "jti": uuid.uuid4().hex}
    return jwt.encode(claims, _signing_key(), algorithm=ALGORITHM)


def _new_refresh(session: UserSession, now: datetime) -> str:
    plaintext = REFRESH_PREFIX + secrets.token_urlsafe(32)
    db.session.add(RefreshToken(id=uuid.uuid4(), session_id=session.id,
                                token_hash=_hash(plaintext), created_at=now,
                                expires_at=now + timedelta(seconds=_refresh_ttl())))
    return plaintext


def _pair(user: User, session: UserSession, now: datetime) -> TokenPair:
    refresh_token = _new_refresh(session, now)
    db.session.commit()
    return TokenPair(token=issue_access_token(user, session, now=now),
                     refresh_token=refresh_token, expires_in=_access_ttl(), user=user)


def login(email: str, password: str, *, address: str | None = None,
          now: datetime | None = None) -> TokenPair:
    """Raises ``LockedOut``, ``LoginFailed`` or ``AccountDisabled``."""
    now = now or utcnow()
    keys = _keys(email, address)
    _check_locks(keys, now)
    user = db.session.scalar(sa.select(User).where(
        User.email == user_service.normalise_email(email)))
    if user is None:
        user_service.verify_dummy(password or "")
        ok = False
    else:
        ok = user_service.verify_password(user.password_hash, password or "")
    if not ok:
        _record_failure(keys, now)
        raise LoginFailed(LOGIN_FAILED_MESSAGE)
    if user.disabled_at is not None:
        raise AccountDisabled("this account is disabled; ask an admin of your company")
    if user_service.needs_rehash(user.password_hash):
        user.password_hash = user_service.hash_password(password)
    _clear(keys[0])
    user.last_login_at = now
    session = UserSession(id=uuid.uuid4(), user_id=user.id, created_at=now)
    db.session.add(session)
    db.session.flush()  # the session row before its token's (no ORM relationship)
    return _pair(user, session, now)


def _revoke_session(session_id, reason: str, now: datetime) -> None:
    db.session.execute(
        sa.update(UserSession).where(UserSession.id == session_id,
                                     UserSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False))
    db.session.commit()


def refresh(refresh_token: str, *, now: datetime | None = None) -> TokenPair:
    """A new pair for a valid, unused refresh token; ``InvalidToken`` otherwise. A used one
    revokes its whole session (reuse means it was copied)."""
    now = now or utcnow()
    row = db.session.scalar(sa.select(RefreshToken).where(
        RefreshToken.token_hash == _hash(refresh_token or "")))
    if row is None:
        raise InvalidToken("unknown refresh token; sign in again")
    session = db.session.get(UserSession, row.session_id)
    user = db.session.get(User, session.user_id)
    if row.used_at is not None:
        _revoke_session(session.id, "refresh_token_reused", now)
        raise InvalidToken("this refresh token was already used: every token of this sign-in "
                           "is now revoked; sign in again")
    if session.revoked_at is not None:
        raise InvalidToken("this sign-in has ended (logged out or revoked); sign in again")
    if user.disabled_at is not None:
        raise InvalidToken("this account is disabled")
    if row.expires_at <= now:
        raise InvalidToken("this refresh token has expired; sign in again")
    claimed = db.session.execute(
        sa.update(RefreshToken).where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:  # a concurrent caller used it first: treat as reuse
        db.session.rollback()
        _revoke_session(session.id, "refresh_token_reused", now)
        raise InvalidToken("this refresh token was already used: every token of this sign-in "
                           "is now revoked; sign in again")
    return _pair(user, session, now)


def logout(refresh_token: str, *, now: datetime | None = None) -> bool:
    """Revoke the session (family) of ``refresh_token``; False if unknown."""
    row = db.session.scalar(sa.select(RefreshToken).where(
        RefreshToken.token_hash == _hash(refresh_token or "")))
    if row is None:
        return False
    _revoke_session(row.session_id, "logout", now or utcnow())
    return True


def logout_session(session_id, *, now: datetime | None = None) -> None:
    _revoke_session(session_id, "logout", now or utcnow())


def authenticate_access_token(token: str) -> tuple[User, UserSession]:
    """The enabled user and live session of a valid access token, or ``InvalidToken``."""
    try:
        claims = jwt.decode(token, _signing_key(), algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "sid", "cid", "typ"]})
    except jwt.ExpiredSignatureError:
        raise InvalidToken("this access token has expired; get a new one from "
                           "POST /api/v1/auth/token with your refresh token") from None
    except jwt.InvalidTokenError:
        raise InvalidToken("invalid access token") from None
    if claims.get("typ") != "access":
        raise InvalidToken("invalid access token")
    try:
        user_id, session_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
    except (ValueError, TypeError):
        raise InvalidToken("invalid access token") from None
    found = db.session.execute(
        sa.select(User, UserSession).join(UserSession, UserSession.user_id == User.id)
        .where(User.id == user_id, UserSession.id == session_id)).first()
    if found is None:
        raise InvalidToken("invalid access token")
    user, session = found
    if user.disabled_at is not None:
        raise InvalidToken("this account is disabled")
    if session.revoked_at is not None:
        raise InvalidToken("this sign-in has ended (logged out or revoked); sign in again")
    if str(user.company_id) != claims["cid"]:
        raise InvalidToken("invalid access token")
    return user, session
