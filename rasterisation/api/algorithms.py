"""GET /api/v1/algorithms/: what this service can analyse."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from algorithms import registry
from rasterisation.api.analysis_schemas import AlgorithmSchema

__all__ = ["blp"]

blp = Blueprint("algorithms", __name__, url_prefix="/api/v1/algorithms",
                description="The algorithms this service implements.")


@blp.route("/")
class Algorithms(MethodView):
    @blp.response(200, AlgorithmSchema(many=True))
    @blp.alt_response(401, description="missing or invalid token")
    def get(self):
        """Every algorithm: tech_name, version, mask types, metrics and areas."""
        return [cls.describe() for cls in registry.algorithms().values()]
