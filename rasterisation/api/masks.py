"""The anchor API's mask calls: v4 (raster pictures) and v5 (SVG)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort

from rasterisation.api.analysis_schemas import (
    CompanyArgsSchema, MaskItemSchema, MasksRequestSchema, SvgMasksRequestSchema,
)
from algorithms.render import Style, default_style
from rasterisation.api.blueprint import Blueprint
from rasterisation.auth import current_company
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


def _image(body: dict):
    # the company was checked by @company_scoped: it is the caller's
    return image_service.get_image_or_404(current_company(), body["image_id"])


def _documented(body_schema):
    """The arguments and answers both mask calls share."""
    def decorate(view):
        for decorator in reversed((
                blp.arguments(CompanyArgsSchema, location="query"),
                blp.arguments(body_schema),
                blp.response(200, MaskItemSchema(many=True)),
                blp.alt_response(422, description="malformed body; the message names the "
                                                  "field"),
                blp.company_scoped(not_found="no such image in this company",
                                   company_id_in="query"))):
            view = decorator(view)
        return view
    return decorate


@blp.route("/v4/masks/")
class MasksV4(MethodView):
    @_documented(MasksRequestSchema)
    def post(self, query, body):
        """One picture per mask (JPEG by default), in request order, with scores."""
        image = _image(body)
        return make_masks(image, image_type=body["image_type"], specs=_specs(body["masks"]),
                          fmt=body["output_format"])


@blp.route("/v5/svg_masks/")
class SvgMasksV5(MethodView):
    @_documented(SvgMasksRequestSchema)
    def post(self, query, body):
        """One SVG per mask, the photo under it when `mask_over_image` (default true)."""
        image = _image(body)
        return make_masks(image, image_type=body["image_type"], specs=_specs(body["masks"]),
                          fmt=SVG, mask_over_image=body["mask_over_image"])
