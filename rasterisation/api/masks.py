"""The anchor API's mask calls: v4 (raster pictures) and v5 (SVG)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from rasterisation.api.analysis_schemas import (
    CompanyArgsSchema, MaskItemSchema, MasksRequestSchema, SvgMasksRequestSchema,
)
from rasterisation.auth import require_company
from algorithms.render import Style, default_style
from rasterisation.services import images as image_service
from rasterisation.services.masks import SVG, MaskSpec, make_masks

__all__ = ["blp"]

blp = Blueprint("masks", __name__, url_prefix="/service/rasterisation",
                description="Findings drawn over the photo, one picture per mask, with "
                            "scores. Compatible with the anchor API's v4 and v5 calls.")


def _specs(masks: list[dict]) -> list[MaskSpec]:
    specs = []
    for index, m in enumerate(masks):
        try:
            style = Style(fill=m["fill_override"], line_thickness=m["polyline_line_thickness"],
                          concentric_lines=m["concentric_lines"],
                          palette=default_style(m["algorithm_tech_name"]).palette)
        except ValueError as exc:
            abort(422, message=f"masks[{index}]: {exc}",
                  errors={"json": {"masks": {str(index): [str(exc)]}}})
        specs.append(MaskSpec(m["algorithm_tech_name"], style, main_metric=m["main_metric"],
                              sub_metrics=m["sub_metrics"]))
    return specs


def _image(query: dict, body: dict):
    company = require_company(query["company_id"])
    return image_service.get_image_or_404(company.id, body["image_id"])


def _documented(body_schema):
    """The arguments and answers both mask calls share."""
    def decorate(view):
        for decorator in reversed((
                blp.arguments(CompanyArgsSchema, location="query"),
                blp.arguments(body_schema),
                blp.response(200, MaskItemSchema(many=True)),
                blp.alt_response(401, description="missing or invalid token"),
                blp.alt_response(403, description="company_id is not the token's company"),
                blp.alt_response(404, description="no such image in this company"),
                blp.alt_response(422, description="malformed body; the message names the "
                                                  "field"))):
            view = decorator(view)
        return view
    return decorate


@blp.route("/v4/masks/")
class MasksV4(MethodView):
    @_documented(MasksRequestSchema)
    def post(self, query, body):
        """One picture per mask (JPEG by default), in request order, with scores."""
        image = _image(query, body)
        return make_masks(image, image_type=body["image_type"], specs=_specs(body["masks"]),
                          fmt=body["output_format"])


@blp.route("/v5/svg_masks/")
class SvgMasksV5(MethodView):
    @_documented(SvgMasksRequestSchema)
    def post(self, query, body):
        """One SVG per mask, the photo under it when `mask_over_image` (default true)."""
        image = _image(query, body)
        return make_masks(image, image_type=body["image_type"], specs=_specs(body["masks"]),
                          fmt=SVG, mask_over_image=body["mask_over_image"])
