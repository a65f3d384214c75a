"""HMAC-SHA256 signatures of (key, expiry) for the URLs of local storage.

The app checks them itself (``GET /files/<key>?expires=&signature=``): a tampered key, expiry
or signature, or a past expiry, is refused.

Example
-------
>>> sig = sign("secret", "a/b.jpg", 2000000000)
>>> verify("secret", "a/b.jpg", 2000000000, sig, now=1700000000)
'ok'
>>> verify("secret", "a/c.jpg", 2000000000, sig, now=1700000000)
'invalid'
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

__all__ = ["sign", "verify", "VERDICTS"]

VERDICTS = ("ok", "invalid", "expired")
_PURPOSE = b"rasterisation/signed-file-url/v1"


def _signing_key(secret: str) -> bytes:
    # derived, so the same SECRET_KEY used elsewhere never signs file URLs directly
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def sign(secret: str, key: str, expires: int) -> str:
    """URL-safe base64 (no padding) HMAC-SHA256 of ``key`` and ``expires``."""
    mac = hmac.new(_signing_key(secret), f"{key}\n{int(expires)}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def verify(secret: str, key: str, expires, signature, *, now: float | None = None) -> str:
    """One of ``VERDICTS``. The signature is compared in constant time before the expiry,
    so an expired-but-forged URL is reported as invalid."""
    try:
        expires_int = int(expires)
    except (TypeError, ValueError):
        return "invalid"
    if not isinstance(signature, str) or not signature:
        return "invalid"
    expected = sign(secret, key, expires_int)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return "invalid"
    if (time.time() if now is None else now) > expires_int:
        return "expired"
    return "ok"
