"""Marshmallow schemas of analysis results and of the masks requests and answers."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app, has_app_context
from marshmallow import validate

from algorithms.types import IMAGE_TYPES, MASK_TYPES, WIDGET_TYPES, check_image_type
from rasterisation.api.fields import CanonicalUUID, StrictBoolean, StrictFloat, StrictInteger

__all__ = [
    "MetricSchema", "AreaResultSchema", "MaskGeometrySchema", "AnalysisSchema",
    "AlgorithmSchema", "ImageTypeArgsSchema", "MaskOptionsSchema", "MasksRequestSchema",
    "SvgMasksRequestSchema", "MaskItemSchema", "CompanyArgsSchema", "ImageType", "MAX_MASKS",
]

MAX_MASKS = 32  # default of RASTERISATION_MAX_MASKS_PER_REQUEST
# png / jpeg / webp: kept here (not imported from the renderer) so the spec stays stable
OUTPUT_FORMATS = ("jpeg", "png", "webp")


class ImageType(ma.fields.String):
    """An ``image_type``, checked by the engine's one rule (``check_image_type``: a 422
    whose message lists the valid ones); the spec shows ``IMAGE_TYPES`` as its enum.

    >>> ImageType().deserialize("restored")
    'restored'
    """

    def __init__(self, **kwargs):
        kwargs["metadata"] = {**kwargs.get("metadata", {}), "enum": list(IMAGE_TYPES)}
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            return check_image_type(value)
        except ValueError as exc:
            raise ma.ValidationError(str(exc)) from None


class MetricSchema(ma.Schema):
    name = ma.fields.String(required=True)
    tech_name = ma.fields.String(required=True)
    value = ma.fields.Raw(required=True, allow_none=True,
                          metadata={"description": "number (0-100 for bad_good_line) or, "
                                                   "for widget_type category, a label"})
    widget_type = ma.fields.String(required=True, validate=validate.OneOf(WIDGET_TYPES))
    unit = ma.fields.String()


class AreaResultSchema(ma.Schema):
    area_name = ma.fields.String(required=True)
    main_metric = ma.fields.Nested(MetricSchema, allow_none=True)
    sub_metrics = ma.fields.List(ma.fields.Nested(MetricSchema))


class MaskGeometrySchema(ma.Schema):
    mask_type = ma.fields.String(required=True, validate=validate.OneOf(MASK_TYPES))
    name = ma.fields.String(required=True)
    geometry = ma.fields.Dict(required=True, metadata={
        "description": "GeoJSON FeatureCollection in the image's pixel coordinates "
                       "(x right, y down)"})


class AnalysisSchema(ma.Schema):
    algorithm_tech_name = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    image_type = ImageType(required=True)
    width = ma.fields.Integer(required=True)
    height = ma.fields.Integer(required=True)
    main_metric = ma.fields.Nested(MetricSchema, allow_none=True)
    sub_metrics = ma.fields.List(ma.fields.Nested(MetricSchema))
    area_results = ma.fields.List(ma.fields.Nested(AreaResultSchema))
    masks = ma.fields.List(ma.fields.Nested(MaskGeometrySchema))
    feedback = ma.fields.Dict()


class MetricSpecSchema(ma.Schema):
    tech_name = ma.fields.String()
    name = ma.fields.String()
    widget_type = ma.fields.String()
    unit = ma.fields.String(allow_none=True)
    description = ma.fields.String()


class AlgorithmSchema(ma.Schema):
    tech_name = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    description = ma.fields.String()
    mask_types = ma.fields.List(ma.fields.String(validate=validate.OneOf(MASK_TYPES)))
    metrics = ma.fields.List(ma.fields.Nested(MetricSpecSchema))
    areas = ma.fields.List(ma.fields.String())


class ImageTypeArgsSchema(ma.Schema):
    image_type = ImageType(load_default="original",
                           metadata={"description": "coordinate space of the geometry"})


class CompanyArgsSchema(ma.Schema):
    company_id = ma.fields.String(required=True, metadata={"description": "your company's id"})


class MaskOptionsSchema(ma.Schema):
    algorithm_tech_name = ma.fields.String(required=True, validate=validate.Length(1, 64))
    fill_override = ma.fields.List(
        StrictInteger(validate=validate.Range(0, 255)), allow_none=True,
        load_default=None, validate=validate.Length(3, 4),
        metadata={"description": "RGB or RGBA, each 0-255; replaces the mask's colour"})
    polyline_line_thickness = StrictFloat(
        allow_none=True, load_default=None,
        validate=validate.Range(min=0, min_inclusive=False, max=1),
        metadata={"description": "line width as a fraction of the image's shorter side "
                                 "(never drawn under 1 px)"})
    main_metric = StrictBoolean(load_default=False,
                                metadata={"description": "answer the main metric"})
    sub_metrics = StrictBoolean(load_default=False,
                                metadata={"description": "answer the sub-metrics"})
    concentric_lines = StrictBoolean(
        load_default=False, metadata={"description": "heatmaps: iso-contour lines of the "
                                                     "levels; polygons: inward offset rings"})


def max_masks() -> int:
    """RASTERISATION_MAX_MASKS_PER_REQUEST of the current app (MAX_MASKS outside one)."""
    if has_app_context() and "RASTERISATION" in current_app.config:
        return current_app.config["RASTERISATION"].max_masks_per_request
    return MAX_MASKS


class _MasksBodySchema(ma.Schema):
    image_id = CanonicalUUID(required=True)
    image_type = ImageType(load_default="original")
    masks = ma.fields.List(ma.fields.Nested(MaskOptionsSchema), required=True,
                           validate=validate.Length(min=1), metadata={
                               "description": f"at most RASTERISATION_MAX_MASKS_PER_REQUEST "
                                              f"items (default {MAX_MASKS})"})

    @ma.pre_load
    def _masks_length_first(self, data, **kwargs):
        """The list's length is checked before any item is validated: a list of millions
        of items must cost nothing."""
        masks = data.get("masks") if isinstance(data, dict) else None
        if isinstance(masks, list) and len(masks) > max_masks():
            raise ma.ValidationError(
                {"masks": [f"at most {max_masks()} masks per request, got {len(masks)} "
                           "(RASTERISATION_MAX_MASKS_PER_REQUEST)"]})
        return data


class MasksRequestSchema(_MasksBodySchema):
    output_format = ma.fields.String(load_default="jpeg", validate=validate.OneOf(OUTPUT_FORMATS),
                                     metadata={"description": "picture format (extension of "
                                                              "the anchor API)"})


class SvgMasksRequestSchema(_MasksBodySchema):
    mask_over_image = StrictBoolean(load_default=True, metadata={
        "description": "embed the photo under the mask in the SVG"})


class MaskItemSchema(ma.Schema):
    algorithm_tech_name = ma.fields.String(required=True)
    masked_image_url = ma.fields.String(allow_none=True, metadata={
        "description": "signed URL of the picture; works without a token until it expires"})
    error = ma.fields.String(allow_none=True)
    main_metric = ma.fields.Nested(MetricSchema, allow_none=True)
    sub_metrics = ma.fields.List(ma.fields.Nested(MetricSchema), allow_none=True)
    feedback = ma.fields.Dict()
