"""GET /health: liveness; GET /health/ready: readiness (database and storage). No token."""
from __future__ import annotations

import logging
import os

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from rasterisation.auth import public

__all__ = ["blp"]

blp = Blueprint("health", __name__, description="Liveness and readiness checks (no token "
                                                "needed).")
log = logging.getLogger(__name__)
READY_RETRY_AFTER = 5


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"example": "ok"})


@blp.route("/health")
@public
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema)
    def get(self):
        """The service answers."""
        return {"status": "ok"}


class ReadySchema(HealthSchema):
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), metadata={
        "example": {"database": "ok", "storage": "ok"}})


def _check_database() -> None:
    import sqlalchemy as sa

    from rasterisation.extensions import db

    try:
        db.session.execute(sa.text("SELECT 1"))
    finally:
        db.session.rollback()


def _check_storage() -> None:
    from rasterisation.storage import get_storage
    from rasterisation.storage.base import StorageError
    from rasterisation.storage.local import LocalStorage

    storage = get_storage()
    if isinstance(storage, LocalStorage):
        storage.root.mkdir(parents=True, exist_ok=True)
        if not os.access(storage.root, os.R_OK | os.W_OK | os.X_OK):
            raise StorageError(f"{storage.root} is not readable and writable")
        return
    storage.exists("health/ready")  # one round trip; StorageError when unreachable


@blp.route("/health/ready")
@public
class Ready(MethodView):
    @blp.doc(security=[])
    @blp.response(200, ReadySchema)
    @blp.alt_response(503, description="the database or the object storage is unavailable; "
                                       "`errors` says which")
    def get(self):
        """Ready to serve: the database answers and the object storage is reachable."""
        checks, failures = {}, {}
        for name, check in (("database", _check_database), ("storage", _check_storage)):
            try:
                check()
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means not ready
                log.warning("readiness: %s unavailable: %s", name, exc)
                checks[name] = "unavailable"
                failures[name] = [f"{name} unavailable ({type(exc).__name__})"]
        if failures:
            abort(503, message="not ready: " + ", ".join(sorted(failures)) + " unavailable",
                  errors=failures, headers={"Retry-After": str(READY_RETRY_AFTER)})
        return {"status": "ok", "checks": checks}
