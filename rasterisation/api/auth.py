"""/api/v1/auth/: sign in, refresh, sign out, set an invited user's password, who am I.

Field names follow the anchor APIs: ``{email, password}`` -> ``{token, refreshToken,
expires_in}``; ``{refreshToken}`` -> a new pair.
"""
from __future__ import annotations

import marshmallow as ma
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import validate

from rasterisation.auth import current_company, current_token, current_user, public
from rasterisation.services import sessions
from rasterisation.services import users as user_service
from rasterisation.services.tokens import InvalidToken

__all__ = ["blp"]

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth",
                description="People sign in with email and password: a short-lived access "
                            "token (a JWT, used as the bearer token exactly like an API "
                            "token) and a single-use refresh token that is rotated on each "
                            "use.")

_NO_AUTH = []  # these operations need no bearer token


class LoginSchema(ma.Schema):
    email = ma.fields.String(required=True, validate=validate.Length(1, 320))
    password = ma.fields.String(required=True, validate=validate.Length(
        1, user_service.MAX_PASSWORD_LENGTH))


class RefreshSchema(ma.Schema):
    refreshToken = ma.fields.String(required=True, validate=validate.Length(1, 200))


class LogoutSchema(ma.Schema):
    refreshToken = ma.fields.String(validate=validate.Length(1, 200), metadata={
        "description": "the sign-in to end; omitted: the sign-in of the bearer access token"})


class SetPasswordSchema(ma.Schema):
    inviteToken = ma.fields.String(required=True, validate=validate.Length(1, 200))
    password = ma.fields.String(required=True)


class UserInfoSchema(ma.Schema):
    id = ma.fields.String()
    email = ma.fields.String()
    role = ma.fields.String()
    company_id = ma.fields.String()


class TokenPairSchema(ma.Schema):
    token = ma.fields.String(metadata={"description": "access token (JWT): "
                                                     "`Authorization: Bearer <token>`"})
    refreshToken = ma.fields.String(metadata={"description": "single use; store it safely"})
    expires_in = ma.fields.Integer(metadata={"description": "seconds the access token lives "
                                                            "(RASTERISATION_ACCESS_TOKEN_TTL)"})
    token_type = ma.fields.String()
    user = ma.fields.Nested(UserInfoSchema)


class WhoAmISchema(ma.Schema):
    kind = ma.fields.String(metadata={"enum": ["user", "api_token"]})
    company_id = ma.fields.String()
    user = ma.fields.Nested(UserInfoSchema, allow_none=True)
    token_id = ma.fields.String(allow_none=True)


def _client_address() -> str | None:
    return request.remote_addr


@blp.route("/login")
@public
class Login(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, description="wrong email or password (one answer for both)")
    @blp.alt_response(403, description="right password, disabled account")
    @blp.alt_response(429, description="locked after 5 failures (per account and per "
                                       "address); Retry-After says how long")
    @blp.doc(security=_NO_AUTH)
    def post(self, body):
        """Sign in: an access token and a refresh token."""
        try:
            pair = sessions.login(body["email"], body["password"], address=_client_address())
        except sessions.LockedOut as exc:
            abort(429, message=str(exc), headers={"Retry-After": str(exc.retry_after)})
        except sessions.LoginFailed as exc:
            abort(401, message=str(exc))
        except sessions.AccountDisabled as exc:
            abort(403, message=str(exc))
        return pair.as_json()


@blp.route("/token")
@public
class Refresh(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, description="unknown, used, expired or revoked refresh token; "
                                       "a used one revokes its whole sign-in")
    @blp.doc(security=_NO_AUTH)
    def post(self, body):
        """A new pair for a refresh token (single use; the access token may be expired)."""
        try:
            return sessions.refresh(body["refreshToken"]).as_json()
        except InvalidToken as exc:
            abort(401, message=exc.reason)


@blp.route("/logout")
@public
class Logout(MethodView):
    @blp.arguments(LogoutSchema)
    @blp.response(204)
    @blp.alt_response(401, description="no refresh token and no valid access token")
    @blp.doc(security=[{"bearerAuth": []}, {}])
    def post(self, body):
        """Sign out: revoke the refresh-token family (every refresh and access token of this
        sign-in). Idempotent; an unknown refresh token answers 204 too."""
        if body.get("refreshToken"):
            sessions.logout(body["refreshToken"])
            return None
        from rasterisation.auth import parse_authorization

        try:
            token = parse_authorization(request.headers.get("Authorization"))
            if token is None or not sessions.looks_like_jwt(token):
                raise InvalidToken("send {\"refreshToken\": ...} or a user's access token")
            _user, session = sessions.authenticate_access_token(token)
        except InvalidToken as exc:
            abort(401, message=exc.reason)
        sessions.logout_session(session.id)
        return None


@blp.route("/set_password")
@public
class SetPassword(MethodView):
    @blp.arguments(SetPasswordSchema)
    @blp.response(204)
    @blp.alt_response(422, description="unknown, used or expired invitation; weak password")
    @blp.doc(security=_NO_AUTH)
    def post(self, body):
        """Set the password of an invited user with the one-time invitation token."""
        try:
            user_service.set_password(body["inviteToken"], body["password"])
        except user_service.UserError as exc:
            abort(422, message=str(exc), errors={"json": {exc.field: [str(exc)]}})
        return None


@blp.route("/me")
class WhoAmI(MethodView):
    @blp.response(200, WhoAmISchema)
    @blp.alt_response(401, description="missing or invalid token")
    def get(self):
        """Who the bearer token is: a user (with role) or an API token, and its company."""
        user, token = current_user(), current_token()
        return {"kind": "user" if user is not None else "api_token",
                "company_id": str(current_company()),
                "user": None if user is None else {
                    "id": str(user.id), "email": user.email, "role": user.role,
                    "company_id": str(user.company_id)},
                "token_id": None if token is None else str(token.id)}
