"""GET .../images/{image_id}/analyses/{tech_name}: metrics and GeoJSON of one algorithm."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort

from algorithms import registry
from rasterisation.api.analysis_schemas import AnalysisSchema, ImageTypeArgsSchema
from rasterisation.api.blueprint import Blueprint
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
    @blp.alt_response(422, description="the algorithm needs a face and none was found")
    @blp.company_scoped(not_found="no such image in this company, or unknown algorithm")
    def get(self, args, company_id, image_id, tech_name):
        """The result of algorithm `tech_name` in `image_type` pixel coordinates."""
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
