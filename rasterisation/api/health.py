"""GET /health: liveness, no token."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from rasterisation.auth import public

__all__ = ["blp"]

blp = Blueprint("health", __name__, description="Liveness check (no token needed).")


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
