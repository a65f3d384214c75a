"""/api/v1/auth/private_tokens/: the caller's company's long-lived tokens."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import validate

from rasterisation.api.fields import StrictInteger
from rasterisation.api.schemas import PageArgsSchema, page_of
from rasterisation.auth import current_company, current_token, require_admin
from rasterisation.services import tokens as token_service

__all__ = ["blp"]

blp = Blueprint("private_tokens", __name__, url_prefix="/api/v1/auth/private_tokens",
                description="Long-lived API tokens of the caller's company. The plaintext "
                            "token is shown once, at creation; only its hash is stored.")


class TokenSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    name = ma.fields.String()
    prefix = ma.fields.String(metadata={"description": "first characters, to recognise it"})
    state = ma.fields.Function(lambda row: row.state(),
                               metadata={"enum": list(token_service.TOKEN_STATES)})
    created_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime(allow_none=True)
    last_used_at = ma.fields.DateTime(allow_none=True, metadata={
        "description": "recorded at most once a minute"})
    revoked_at = ma.fields.DateTime(allow_none=True)
    parent_id = ma.fields.UUID(allow_none=True, metadata={
        "description": "the token that created this one (null: made with the CLI); revoking "
                       "it revokes this one too"})


class CreatedTokenSchema(TokenSchema):
    token = ma.fields.String(metadata={"description": "the secret; shown only this once"})


class CreateTokenSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=[
        validate.Length(min=1, max=200),
        validate.Predicate("strip", error="a token name must not be only spaces")])
    expires_in_days = StrictInteger(
        load_default=None, allow_none=True,
        validate=validate.Range(min=1, max=token_service.MAX_EXPIRES_IN_DAYS),
        metadata={"description": "days until it expires, at most until the calling token "
                                 "expires; omit or null: never, or when the calling token "
                                 "expires if it does"})


TokenPageSchema = page_of(TokenSchema, "TokenPageSchema")


@blp.route("/")
class Tokens(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, TokenPageSchema)
    @blp.alt_response(401, description="missing or invalid token")
    def get(self, args):
        """List the company's tokens (never their secrets), newest first."""
        company_id = current_company()
        return {"items": token_service.list_tokens(company_id, **args),
                "total": token_service.count_tokens(company_id), **args}

    @blp.arguments(CreateTokenSchema)
    @blp.response(201, CreatedTokenSchema)
    @blp.alt_response(401, description="missing or invalid token")
    @blp.alt_response(403, description="a signed-in user who is not an admin")
    @blp.alt_response(422, description="invalid body; an expiry later than the calling "
                                       "token's")
    def post(self, body):
        """Create a token for the caller's company; the answer holds the secret once.

        The new token expires no later than the calling token, and revoking the calling
        token revokes it too. Rate-limited per token (RASTERISATION_TOKEN_RATE_LIMIT).
        A signed-in user must be an admin."""
        require_admin("create API tokens")
        try:
            row, plaintext = token_service.issue_token(company_id=current_company(),
                                                       parent=current_token(), **body)
        except token_service.TokenFieldError as exc:
            abort(422, message=f"invalid request: {exc.field}: {exc}",
                  errors={"json": {exc.field: [str(exc)]}})
        except token_service.InvalidToken as exc:  # revoked while this one was made
            abort(401, message=exc.reason)
        row.token = plaintext
        return row


@blp.route("/<uuid:token_id>")
class TokenItem(MethodView):
    @blp.response(204)
    @blp.alt_response(401, description="missing or invalid token")
    @blp.alt_response(403, description="a signed-in user who is not an admin")
    @blp.alt_response(404, description="no such token in the caller's company")
    def delete(self, token_id):
        """Revoke a token (idempotent), and every token created with it. They stop working
        immediately. A signed-in user must be an admin."""
        require_admin("revoke API tokens")
        if token_service.revoke_token(company_id=current_company(), token_id=token_id) is None:
            abort(404, message=f"no token {token_id} in your company")
        return None
