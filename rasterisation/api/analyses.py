"""GET .../images/{image_id}/analyses/{tech_name}: metrics and GeoJSON of one algorithm."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from algorithms import registry
from rasterisation.api.analysis_schemas import AnalysisSchema, ImageTypeArgsSchema
from rasterisation.auth import require_company
from rasterisation.services import images as image_service
from rasterisation.services.analyses import MaskError, StoredPhoto

__all__ = ["blp"]

blp = Blueprint("analyses", __name__,
                url_prefix="/api/v1/companies/<uuid:company_id>/images/<uuid:image_id>/analyses",
                description="One algorithm's result on one image: metrics, per-area results "
                            "and vector geometry, computed once and cached.")


@blp.route("/<string:tech_name>")
class Analysis(MethodView):
    @blp.arguments(ImageTypeArgsSchema, location="query")
    @blp.response(200, AnalysisSchema)
    @blp.alt_response(401, description="missing or invalid token")
    @blp.alt_response(403, description="company_id is not the token's company")
    @blp.alt_response(404, description="no such image in this company, or unknown algorithm")
    @blp.alt_response(422, description="the algorithm needs a face and none was found")
    def get(self, args, company_id, image_id, tech_name):
        """The result of algorithm `tech_name` in `image_type` pixel coordinates."""
        require_company(company_id)
        image = image_service.get_image_or_404(company_id, image_id)
        try:
            algorithm = registry.get(tech_name)  # looked up once; the object goes down
        except registry.UnknownAlgorithm as exc:
            abort(404, message=str(exc))
        photo = StoredPhoto(image)
        try:
            result = photo.result(algorithm, args["image_type"])
        except MaskError as exc:
            photo.save()  # what was learnt (e.g. that there is no face) is kept
            abort(422, message=str(exc))
        photo.save()
        return result.to_dict()
