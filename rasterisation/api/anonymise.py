"""POST /api/v1/companies/{company_id}/anonymise: hide the faces (and people) of one photo.

Synchronous, one photo, multipart: ``file`` (an upload, not stored) or ``image_id`` (one of
the company's images), plus the options as form fields.
"""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.fields import Upload
from marshmallow import validate

from algorithms.detect.anonymise import METHODS, SHAPES, AnonymiseOptions, parse_color
from rasterisation.api.blueprint import Blueprint
from rasterisation.api.masking_tasks import DetectionSchema
from rasterisation.services import images as image_service
from rasterisation.services.anonymisation import (
    OUTPUT_FORMATS, AnonymiseRequest, parse_areas, run_anonymise,
)

__all__ = ["blp", "AnonymiseFormSchema", "FileSchema", "build_request", "read_upload"]

blp = Blueprint("anonymise", __name__, url_prefix="/api/v1/companies/<uuid:company_id>",
                description="Anonymisation of one photo, synchronously: faces (and people) "
                            "blurred, pixelated or filled; EXIF, GPS and XMP never in the "
                            "output; pixels outside the feathered masks unchanged.")


def _fraction(description, default, low=0.0, high=1.0):
    return ma.fields.Float(load_default=default, validate=validate.Range(min=low, max=high),
                           metadata={"description": description})


class AnonymiseFormSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    image_id = ma.fields.UUID(metadata={"description": "one of the company's images, instead "
                                                      "of `file`"})
    faces = ma.fields.Boolean(load_default=True, metadata={"description": "hide faces"})
    people = ma.fields.Boolean(load_default=False, metadata={
        "description": "hide people (pose detector + selfie-segmentation silhouette)"})
    plates = ma.fields.Boolean(load_default=False, metadata={
        "description": "licence plates: not available in this build (422 when true)"})
    method = ma.fields.String(load_default="blur", validate=validate.OneOf(METHODS))
    shape = ma.fields.String(load_default="mask", validate=validate.OneOf(SHAPES), metadata={
        "description": "`mask`: the face oval / silhouette with a soft edge; `box`: the box"})
    blur_strength = _fraction("blur sigma as a fraction of a quarter of each detection's "
                              "size", 0.5)
    pixel_size = ma.fields.Integer(validate=validate.Range(min=1, max=1024), metadata={
        "description": "pixelate cell in px (default: an eighth of each detection's size)"})
    fill_color = ma.fields.String(load_default="#000000", metadata={
        "description": "hex colour for method fill"})
    edge_softness = _fraction("feather outside the mask, as a fraction of a quarter of each "
                              "detection's size; 0: a hard edge", 0.3)
    padding = _fraction("growth of each mask, as a fraction of the detection's size "
                        "(negative shrinks)", 0.1, -0.4, 2.0)
    face_threshold = _fraction("face detector score threshold", 0.5)
    person_threshold = _fraction("person detector score threshold", 0.5)
    plate_threshold = _fraction("accepted for compatibility; plates are not available", 0.5)
    included_areas = ma.fields.String(metadata={
        "description": "JSON list of [x0, y0, x1, y1] rectangles in 0-1: only detections "
                       "centred inside one are hidden"})
    excluded_areas = ma.fields.String(metadata={
        "description": "JSON list of rectangles in 0-1: detections centred inside are kept"})
    masks = ma.fields.Boolean(load_default=False, metadata={
        "description": "also store and answer the binary mask and the instance mask "
                       "(pixel = detection index + 1)"})
    output_format = ma.fields.String(validate=validate.OneOf(OUTPUT_FORMATS), metadata={
        "description": "default: jpeg for JPEG sources (q = RASTERISATION_JPEG_QUALITY), png "
                       "otherwise; only png keeps the untouched pixels bit for bit"})


class FileSchema(ma.Schema):
    file = Upload(metadata={"description": "JPEG, PNG or WEBP; not stored"})


class AnonymisedSchema(ma.Schema):
    id = ma.fields.String()
    image_id = ma.fields.String(allow_none=True)
    width = ma.fields.Integer()
    height = ma.fields.Integer()
    method = ma.fields.String()
    shape = ma.fields.String()
    format = ma.fields.String()
    url = ma.fields.String(metadata={"description": "signed URL of the anonymised photo"})
    url_expires_at = ma.fields.DateTime()
    detections = ma.fields.List(ma.fields.Nested(DetectionSchema))
    mask_url = ma.fields.String(allow_none=True)
    instance_mask_url = ma.fields.String(allow_none=True)


@blp.route("/anonymise")
class Anonymise(MethodView):
    @blp.arguments(AnonymiseFormSchema, location="form")
    @blp.arguments(FileSchema, location="files")
    @blp.response(200, AnonymisedSchema)
    @blp.alt_response(413, description="upload or pixel count over the limit")
    @blp.alt_response(415, description="not a JPEG, PNG or WEBP image")
    @blp.alt_response(422, description="bad option, no photo, both photo forms, plates=true; "
                                       "the message names the field")
    @blp.company_scoped(not_found="image_id names no image of this company")
    def post(self, form, files, company_id):
        """Blur, pixelate or fill the faces (and people) of one photo."""
        request = build_request(form)
        data = read_upload(form, files)
        return run_anonymise(company_id, request, data=data, image_id=form.get("image_id"))


def build_request(form: dict) -> AnonymiseRequest:
    """The engine's request from the loaded form; 422 naming the field on a bad option
    (plates, fill_color, areas). Shared with the anonymisation jobs."""
    if form["plates"]:
        abort(422, message="plates: licence-plate anonymisation is not available in this "
                           "build (no plate detector ships offline under a usable "
                           "licence)", errors={"form": {"plates": ["not available"]}})
    try:
        color = parse_color(form["fill_color"])
    except ValueError as exc:
        abort(422, message=f"fill_color: {exc}", errors={"form": {"fill_color": [str(exc)]}})
    options = AnonymiseOptions(
        method=form["method"], shape=form["shape"], blur_strength=form["blur_strength"],
        pixel_size=form.get("pixel_size"), fill_color=color,
        edge_softness=form["edge_softness"], padding=form["padding"])
    return AnonymiseRequest(
        options=options, faces=form["faces"], people=form["people"],
        face_threshold=form["face_threshold"], person_threshold=form["person_threshold"],
        included=parse_areas(form.get("included_areas"), "included_areas"),
        excluded=parse_areas(form.get("excluded_areas"), "excluded_areas"),
        masks=form["masks"], output_format=form.get("output_format"))


def read_upload(form: dict, files: dict) -> bytes | None:
    """The uploaded bytes (None with ``image_id``); 422 unless exactly one of the two, 413
    over the upload limit."""
    upload = files.get("file")
    if (upload is None) == (form.get("image_id") is None):
        abort(422, message="file: send exactly one of `file` (multipart) or `image_id`",
              errors={"form": {"file": ["exactly one of file or image_id"]}})
    if upload is None:
        return None
    limit = image_service.settings().max_upload_bytes
    data = upload.read(limit + 1)
    if len(data) > limit:
        abort(413, message=f"file: larger than {limit} bytes "
                           "(RASTERISATION_MAX_UPLOAD_BYTES)")
    return data
