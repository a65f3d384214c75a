"""Bearer-token authentication and company scoping.

Secure by default: every endpoint needs ``Authorization: Bearer <token>`` unless its view is
marked with :func:`public` (health, the docs, signed file URLs). New endpoints added later are
therefore protected without anyone remembering to protect them.

Two kinds of bearer token, one set of rules: a long-lived API token (``rst_...``, a company
credential) or a user's short-lived access token (a JWT from ``POST /api/v1/auth/login``,
see ``rasterisation.services.sessions``). Either gives the request a company; a user's token
also gives a user and a role (:func:`require_admin`: API tokens count as admins, since only
admins can mint them).

Scoping rules (DESIGN.md section 5):

* a ``company_id`` that is not the token's company -> 403 (:func:`require_company`, which
  views get from ``@blp.company_scoped``, ``rasterisation.api.blueprint``);
* an object of another company -> 404 (services filter on the company id).

Example
-------
>>> parse_authorization("Bearer rst_abc")
'rst_abc'
"""
from __future__ import annotations

import re
import uuid

from flask import Flask, current_app, g, request
from flask_smorest import abort

from rasterisation.models import ApiToken, Company, User
from rasterisation.services.tokens import InvalidToken, authenticate_token, touch_last_used

__all__ = [
    "public", "is_public_endpoint", "parse_authorization", "current_company",
    "current_token", "current_user", "require_company", "require_admin", "init_auth",
    "BEARER_SECURITY",
]

BEARER_SECURITY = [{"bearerAuth": []}]
# RFC 6750 b64token, one space, nothing else; the scheme is case-insensitive (RFC 7235)
_HEADER = re.compile(r"(?i:bearer) ([A-Za-z0-9\-._~+/]+=*)")
_PUBLIC_BLUEPRINTS = {"api-docs"}  # flask-smorest's /openapi.json and /docs


def public(view):
    """Mark a view function or MethodView class as needing no token."""
    view.rasterisation_public = True
    return view


def is_public_endpoint(app: Flask, endpoint: str | None, blueprint: str | None) -> bool:
    if endpoint is None:  # no route matched: let the 404/405 handler answer
        return True
    if blueprint in _PUBLIC_BLUEPRINTS:
        return True
    view = app.view_functions.get(endpoint)
    return bool(getattr(view, "rasterisation_public", False)
                or getattr(getattr(view, "view_class", None), "rasterisation_public", False))


def parse_authorization(header: str | None) -> str | None:
    """The token of a well-formed ``Bearer`` header, None if the header is absent.

    Raises ``InvalidToken`` for any other shape (Basic auth, two spaces, trailing text...).
    """
    if header is None or header == "":
        return None
    match = _HEADER.fullmatch(header)
    if not match:
        raise InvalidToken("the Authorization header must be exactly 'Bearer <token>'")
    return match.group(1)


def _unauthorised(message: str, *, invalid: bool):
    challenge = 'Bearer realm="rasterisation"'
    if invalid:
        challenge += ', error="invalid_token"'
    abort(401, message=message, headers={"WWW-Authenticate": challenge})


def _authenticate():
    if request.method == "OPTIONS":  # CORS preflight carries no credentials
        return None
    if is_public_endpoint(current_app, request.endpoint, request.blueprint):
        return None
    try:
        token = parse_authorization(request.headers.get("Authorization"))
        if token is None:
            _unauthorised("missing bearer token: send 'Authorization: Bearer <token>'",
                          invalid=False)
        if _looks_like_jwt(token):
            from rasterisation.services.sessions import authenticate_access_token

            user, session = authenticate_access_token(token)
            g.rasterisation_token = None
            g.rasterisation_user = user
            g.rasterisation_session_id = session.id
            g.rasterisation_company_id = user.company_id
            return None
        row = authenticate_token(token)
    except InvalidToken as exc:
        _unauthorised(exc.reason, invalid=True)
    touch_last_used(row)
    g.rasterisation_token = row
    g.rasterisation_user = None
    g.rasterisation_company_id = row.company_id
    return None


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def current_token() -> ApiToken | None:
    """The API token of the request; None when a user's access token authenticated it."""
    return g.get("rasterisation_token")


def current_user() -> User | None:
    """The signed-in user of the request; None when an API token authenticated it."""
    return g.get("rasterisation_user")


def require_admin(action: str) -> None:
    """403 unless the caller is an admin user or an API token."""
    user = current_user()
    if user is not None and user.role != "admin":
        abort(403, message=f"only an admin of the company may {action}")


def current_company():
    """The id (uuid.UUID) of the authenticated token's company."""
    return g.rasterisation_company_id


def require_company(company_id) -> Company:
    """403 unless ``company_id`` is the caller's company; return that company.

    Accepts a ``uuid.UUID`` (path converter) or a string (query parameter); a string that is
    not a UUID answers 422.
    """
    if not isinstance(company_id, uuid.UUID):
        try:
            company_id = uuid.UUID(str(company_id))
        except ValueError:
            abort(422, message=f"company_id {company_id!r} is not a valid UUID")
    if company_id != current_company():
        abort(403, message="this token belongs to another company; use your own company_id")
    from rasterisation.extensions import db

    company = db.session.get(Company, company_id)
    if company is None:  # deleted while the token lived
        abort(403, message="this token's company no longer exists")
    return company


def init_auth(app: Flask) -> None:
    app.before_request(_authenticate)
