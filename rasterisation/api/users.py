"""/api/v1/companies/{company_id}/users/: the people of a company (admins and API tokens)."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import validate

from rasterisation.api.blueprint import Blueprint
from rasterisation.api.schemas import PageArgsSchema, page_of
from rasterisation.auth import current_user, require_admin
from rasterisation.models import USER_ROLES
from rasterisation.services import users as user_service

__all__ = ["blp"]

blp = Blueprint("users", __name__, url_prefix="/api/v1/companies/<uuid:company_id>/users",
                description="People who sign in (email and password) for the company. Only "
                            "admins (and API tokens) may list, invite or disable them.")


class UserSchema(ma.Schema):
    id = ma.fields.UUID()
    company_id = ma.fields.UUID()
    email = ma.fields.String()
    role = ma.fields.String(metadata={"enum": list(USER_ROLES)})
    state = ma.fields.Function(lambda user: user.state(),
                               metadata={"enum": ["active", "invited", "disabled"]})
    created_at = ma.fields.DateTime()
    last_login_at = ma.fields.DateTime(allow_none=True)
    disabled_at = ma.fields.DateTime(allow_none=True)


class InvitedUserSchema(UserSchema):
    invite_token = ma.fields.String(metadata={
        "description": "one-time token for POST /api/v1/auth/set_password; shown only this "
                       "once"})
    invite_expires_at = ma.fields.DateTime()


class InviteSchema(ma.Schema):
    email = ma.fields.String(required=True, validate=validate.Length(3, 320))
    role = ma.fields.String(load_default="member", validate=validate.OneOf(USER_ROLES))


UserPageSchema = page_of(UserSchema, "UserPageSchema")
_NOT_ADMIN = "another company, or a user who is not an admin"


@blp.route("/")
class Users(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, UserPageSchema)
    @blp.company_scoped(forbidden=_NOT_ADMIN)
    def get(self, args, company_id):
        """List the company's users, newest first."""
        require_admin("list users")
        return {"items": user_service.list_users(company_id, **args),
                "total": user_service.count_users(company_id), **args}

    @blp.arguments(InviteSchema)
    @blp.response(201, InvitedUserSchema)
    @blp.alt_response(409, description="the email is taken")
    @blp.company_scoped(forbidden=_NOT_ADMIN)
    def post(self, body, company_id):
        """Invite a user: the answer holds a one-time set-password token (valid 7 days)."""
        require_admin("invite users")
        try:
            user, token = user_service.invite_user(company_id=company_id, **body)
        except user_service.UserError as exc:
            status = 409 if "already exists" in str(exc) else 422
            abort(status, message=str(exc), errors={"json": {exc.field: [str(exc)]}})
        user.invite_token = token
        return user


@blp.route("/<uuid:user_id>/disable")
class DisableUser(MethodView):
    @blp.response(200, UserSchema)
    @blp.company_scoped(forbidden="another company, a user who is not an admin, or oneself",
                        not_found="no such user in the company")
    def post(self, company_id, user_id):
        """Disable a user (idempotent): they can no longer sign in, and every sign-in of
        theirs ends now."""
        require_admin("disable users")
        me = current_user()
        if me is not None and me.id == user_id:
            abort(403, message="you cannot disable yourself; ask another admin")
        user = user_service.disable_user(company_id=company_id, user_id=user_id)
        if user is None:
            abort(404, message=f"no user {user_id} in your company")
        return user
