"""People of a company: create, invite (one-time set-password token), set a password, list,
disable.

Passwords are hashed with argon2id (argon2-cffi's defaults: 64 MiB, 3 passes), re-hashed on
the next sign-in when those parameters change. Emails are compared lower-cased and are unique
across companies, since signing in names no company.

Example
-------
>>> normalise_email("  Ana@Example.COM ")
'ana@example.com'
"""
from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from rasterisation.extensions import db
from rasterisation.models import USER_ROLES, Company, User, UserSession, utcnow

__all__ = [
    "UserError", "normalise_email", "check_password_policy", "hash_password",
    "verify_password", "verify_dummy", "create_user", "invite_user", "set_password",
    "list_users", "count_users", "get_user", "disable_user", "INVITE_TTL",
    "MIN_PASSWORD_LENGTH", "MAX_PASSWORD_LENGTH", "INVITE_PREFIX",
]

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a bound keeps one request cheap
INVITE_TTL = timedelta(days=7)
INVITE_PREFIX = "rsi_"
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_HASHER = PasswordHasher()


class UserError(ValueError):
    """A request about a user that cannot be done; ``field`` names the culprit (or None)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def check_password_policy(password: str, email: str = "") -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters",
                        "password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"a password has at most {MAX_PASSWORD_LENGTH} characters", "password")
    if email and password.strip().lower() == normalise_email(email):
        raise UserError("the password must not be the email address", "password")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing hash costs the same time as a real one."""
    if password_hash is None:
        verify_dummy(password)
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def verify_dummy(password: str) -> None:
    """Spend the time of one verification, for an unknown email (answers alike)."""
    try:
        _HASHER.verify(_dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        pass


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def _hash_invite(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_new_user(company_id, email: str, role: str) -> str:
    email = normalise_email(email)
    if not _EMAIL.fullmatch(email) or len(email) > 320:
        raise UserError(f"{email!r} is not an email address", "email")
    if role not in USER_ROLES:
        raise UserError(f"role must be one of {', '.join(USER_ROLES)}", "role")
    if db.session.get(Company, company_id) is None:
        raise LookupError(f"no company {company_id}")
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise UserError(f"a user with the email {email} already exists", "email")
    return email


def create_user(*, company_id, email: str, password: str, role: str = "member") -> User:
    """A user who can sign in now. ``LookupError`` for an unknown company, ``UserError`` for
    a bad or taken email, a weak password or an unknown role."""
    email = _check_new_user(company_id, email, role)
    check_password_policy(password, email)
    user = User(id=uuid.uuid4(), company_id=company_id, email=email, role=role,
                password_hash=hash_password(password), created_at=utcnow())
    db.session.add(user)
    db.session.commit()
    return user


def invite_user(*, company_id, email: str, role: str = "member",
                now: datetime | None = None) -> tuple[User, str]:
    """A user without a password, and the one-time token that sets it (shown once)."""
    email = _check_new_user(company_id, email, role)
    now = now or utcnow()
    token = INVITE_PREFIX + secrets.token_urlsafe(32)
    user = User(id=uuid.uuid4(), company_id=company_id, email=email, role=role,
                created_at=now, invite_token_hash=_hash_invite(token),
                invite_expires_at=now + INVITE_TTL)
    db.session.add(user)
    db.session.commit()
    return user, token


def set_password(invite_token: str, password: str, *, now: datetime | None = None) -> User:
    """Consume an invitation: set the password. ``UserError`` for an unknown, used or expired
    token (one message for all three) or a weak password."""
    now = now or utcnow()
    user = db.session.scalar(sa.select(User).where(
        User.invite_token_hash == _hash_invite(invite_token or "")))
    if user is None or user.disabled_at is not None or user.invite_expires_at is None \
            or user.invite_expires_at <= now:
        raise UserError("this invitation is unknown, used or expired; ask an admin for a "
                        "new one", "inviteToken")
    check_password_policy(password, user.email)
    # guarded: two concurrent uses of one invitation set one password
    result = db.session.execute(
        sa.update(User).where(User.id == user.id,
                              User.invite_token_hash == _hash_invite(invite_token))
        .values(password_hash=hash_password(password), invite_token_hash=None,
                invite_expires_at=None)
        .execution_options(synchronize_session=False))
    db.session.commit()
    if result.rowcount != 1:
        raise UserError("this invitation is unknown, used or expired; ask an admin for a "
                        "new one", "inviteToken")
    db.session.refresh(user)
    return user


def _company_users(company_id):
    return sa.select(User).where(User.company_id == company_id)


def list_users(company_id, *, page: int = 1, page_size: int = 20) -> list[User]:
    query = (_company_users(company_id).order_by(User.created_at.desc(), User.id)
             .limit(page_size).offset((page - 1) * page_size))
    return list(db.session.scalars(query))


def count_users(company_id) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(
        _company_users(company_id).subquery()))


def get_user(company_id, user_id) -> User | None:
    user = db.session.get(User, user_id)
    return user if user is not None and user.company_id == company_id else None


def disable_user(*, company_id, user_id, now: datetime | None = None) -> User | None:
    """Disable a user of ``company_id`` (idempotent) and end every sign-in of theirs: their
    refresh tokens and access tokens stop working now. None if not theirs."""
    user = get_user(company_id, user_id)
    if user is None:
        return None
    now = now or utcnow()
    if user.disabled_at is None:
        user.disabled_at = now
        user.invite_token_hash = None
        user.invite_expires_at = None
    db.session.execute(
        sa.update(UserSession).where(UserSession.user_id == user.id,
                                     UserSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason="user_disabled")
        .execution_options(synchronize_session=False))
    db.session.commit()
    return user
