"""Per-token rate limits (flask-limiter): the expensive endpoints and token creation.

* ``RASTERISATION_RATE_LIMIT`` (default ``120/minute``) for each token on each expensive
  endpoint: uploads (``POST .../images/``), analyses, v4/v5 masks, and the detection and
  anonymisation endpoints (blueprints named in :data:`EXPENSIVE`, looked up by name, so an
  endpoint added later under one of these names is limited too).
* ``RASTERISATION_TOKEN_RATE_LIMIT`` (default ``30/hour``) for each token on
  ``POST /api/v1/auth/private_tokens/``: a leaked token cannot mint thousands.

Counters live in memory (one set per worker process, so N workers allow up to N times the
limit) unless ``RASTERISATION_REDIS_URL`` is set: then every worker and machine shares them.
The limiter runs after authentication (its ``before_request`` hook is registered after
``init_auth``), so the key is the token's id; a request without a valid token is a 401 before
any counter moves. A breach answers 429 in the one error shape, with ``Retry-After`` (seconds
until the window lets one more request through). If Redis is unreachable the limiter lets
requests through and logs it (fail open): a rate limiter outage must not take the API down.

Example
-------
>>> parse_limit("120/minute")
'120/minute'
"""
from __future__ import annotations

import logging

from flask import Flask, g, request

__all__ = ["init_rate_limits", "EXPENSIVE", "TOKEN_CREATION", "parse_limit", "rate_limit_key",
           "LIMITER_KEY", "retry_after_seconds"]

log = logging.getLogger(__name__)
LIMITER_KEY = "rasterisation.limiter"
# blueprint name -> HTTP methods that cost real work
EXPENSIVE = {
    "images": ["POST"],
    "analyses": ["GET"],
    "masks": ["POST"],
    "masking_tasks": ["POST"],
    "anonymise": ["POST"],
    "anonymisation_jobs": ["POST"],
}
TOKEN_CREATION = {"private_tokens": ["POST"]}


def parse_limit(value: str) -> str | None:
    """``value`` if it is a valid limit string (``"120/minute"``, ``"10 per second;1000/day"``),
    None for ``off``; ``ValueError`` otherwise."""
    from limits import parse_many

    value = (value or "").strip()
    if value.lower() in ("off", "0", "none"):
        return None
    try:
        if not parse_many(value):
            raise ValueError
    except ValueError:
        raise ValueError(f"{value!r} is not a rate limit; use e.g. 120/minute or "
                         "10 per second;1000/day, or off") from None
    return value


def rate_limit_key() -> str:
    """The authenticated token's (or user's) id; the client address before authentication."""
    token = getattr(g, "rasterisation_token", None)
    if token is not None:
        return f"token:{token.id}"
    user = getattr(g, "rasterisation_user", None)
    if user is not None:
        return f"user:{user.id}"
    return f"addr:{request.remote_addr}"


def retry_after_seconds() -> int:
    """Seconds until the breached limit of this request lets one more through (>= 1)."""
    import math
    import time

    from flask import current_app

    limiter = current_app.extensions.get(LIMITER_KEY)
    limit = limiter.current_limit if limiter is not None else None
    if limit is None:
        return 1
    return max(1, math.ceil(limit.reset_at - time.time()))


def _message(kind: str, value: str):
    return (f"too many {kind} for this token: at most {value}; retry after the number of "
            "seconds in Retry-After")


def init_rate_limits(app: Flask) -> None:
    """Attach a limiter to ``app`` (one per app). Call after ``init_auth`` and after the
    blueprints are registered."""
    from flask_limiter import Limiter

    settings = app.config["RASTERISATION"]
    limiter = Limiter(
        key_func=rate_limit_key,
        storage_uri=settings.redis_url or "memory://",
        storage_options={"socket_connect_timeout": 1, "socket_timeout": 1}
        if settings.redis_url else {},
        # no X-RateLimit-* / Retry-After on every answer: flask-limiter would also raise a
        # 503's Retry-After to its window's end; a 429 gets Retry-After in errors.py
        headers_enabled=False,
        key_prefix="rasterisation",
        strategy="moving-window",
        swallow_errors=True,  # Redis down: let requests through, log it
    )
    limiter.init_app(app)
    app.extensions[LIMITER_KEY] = limiter
    rules = ((EXPENSIVE, settings.rate_limit, "requests to this endpoint"),
             (TOKEN_CREATION, settings.token_rate_limit, "tokens created"))
    for blueprints, value, kind in rules:
        if value is None:
            continue
        for name, methods in blueprints.items():
            blueprint = app.blueprints.get(name)
            if blueprint is None:
                continue
            limiter.limit(value, methods=methods, key_func=rate_limit_key,
                          error_message=_message(kind, value))(blueprint)
