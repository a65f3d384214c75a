"""/api/v1/companies/{company_id}/masking_tasks/: detection masks for inpainting.

The request and answer use the field names of the inpainting APIs' ``imageMasking`` task
(taskUUID, inputImage, model, confidence, maxDetections, maskPadding, maskBlur, outputType,
outputFormat, uploadEndpoint -> taskType, taskUUID, inputImageUUID, detections,
maskImageUUID, maskImageURL | maskImageBase64Data | maskImageDataURI).
"""
from __future__ import annotations

import uuid

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import validate

from algorithms import detect as detection
from algorithms.detect.raster import MAX_PADDING, SHAPES
from rasterisation.api.blueprint import Blueprint
from rasterisation.services.masking import OUTPUT_FORMATS, OUTPUT_TYPES, MaskTask, run_task

__all__ = ["blp", "MaskingTaskSchema", "MaskingResultSchema"]

blp = Blueprint("masking_tasks", __name__,
                url_prefix="/api/v1/companies/<uuid:company_id>/masking_tasks",
                description="Detection masks for inpainting (the `imageMasking` task): faces, "
                            "face parts, hands or people, as a white-on-black picture at the "
                            "photo's size, with each detection's box.")

MAX_BLUR = 1024


def _model_doc() -> str:
    return "; ".join(f"`{name}`: {spec.description}" for name, spec in detection.MODELS.items())


class StrictFloat(ma.fields.Float):
    """A JSON number only: 0.5 is a number, "0.5" is a client bug (answered 422)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class MaskingTaskSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    taskType = ma.fields.String(validate=validate.OneOf(["imageMasking"]), metadata={
        "description": "optional; `imageMasking` when given"})
    taskUUID = ma.fields.UUID(required=True, metadata={
        "description": "the client's UUID v4 for this task, echoed in the answer; the same "
                       "taskUUID again answers the earlier result (409 if the request "
                       "differs)"})
    inputImage = ma.fields.String(required=True, validate=validate.Length(min=1), metadata={
        "description": "an image id of this company, a data URI "
                       "(`data:image/jpeg;base64,...`), plain base64, or an http(s) URL when "
                       "the service allows fetching (RASTERISATION_FETCH_URLS=1; SSRF guard)"})
    model = ma.fields.String(required=True, metadata={
        "description": "one of: " + _model_doc() + ". YOLO model names answer 400.",
        "enum": list(detection.MODELS)})
    confidence = StrictFloat(load_default=detection.DEFAULT_CONFIDENCE,
                             validate=validate.Range(min=0.0, max=1.0), metadata={
                                 "description": "detector score threshold, 0-1"})
    maxDetections = ma.fields.Integer(
        strict=True, load_default=detection.DEFAULT_MAX_DETECTIONS,
        validate=validate.Range(min=1, max=detection.MAX_DETECTIONS), metadata={
            "description": f"at most this many objects, 1-{detection.MAX_DETECTIONS} (the "
                           "largest faces; parts models give one detection per part)"})
    maskPadding = ma.fields.Integer(
        strict=True, load_default=4, validate=validate.Range(min=-MAX_PADDING, max=MAX_PADDING),
        metadata={"description": "pixels every shape grows by; negative shrinks"})
    maskBlur = ma.fields.Integer(
        strict=True, load_default=4, validate=validate.Range(min=0, max=MAX_BLUR),
        metadata={"description": "pixels of feather outside the padded shape: white inside, "
                                 "a linear ramp to black over this distance outside"})
    maskShape = ma.fields.String(validate=validate.OneOf(SHAPES), metadata={
        "description": "`box` or `contour` (the outline); default: box for "
                       "mediapipe_face_short/full, contour for the others"})
    outputType = ma.fields.String(load_default="URL", validate=validate.OneOf(OUTPUT_TYPES))
    outputFormat = ma.fields.String(load_default="PNG", validate=validate.OneOf(OUTPUT_FORMATS))
    uploadEndpoint = ma.fields.String(validate=validate.Length(min=1, max=2048), metadata={
        "description": "optional http(s) URL the mask is PUT to (SSRF guard: public "
                       "addresses only)"})

    @ma.validates("taskUUID")
    def _v4(self, value, **_):
        if value.version != 4:
            raise ma.ValidationError("must be a UUID version 4")


class DetectionSchema(ma.Schema):
    x_min = ma.fields.Float(required=True)
    y_min = ma.fields.Float(required=True)
    x_max = ma.fields.Float(required=True)
    y_max = ma.fields.Float(required=True)
    confidence = ma.fields.Float(required=True)
    label = ma.fields.String(required=True, metadata={
        "enum": ["face", "eyes", "lips", "nose", "hand", "person"]})


class MaskingResultSchema(ma.Schema):
    taskType = ma.fields.String(required=True, metadata={"enum": ["imageMasking"]})
    taskUUID = ma.fields.String(required=True)
    inputImageUUID = ma.fields.String(required=True, metadata={
        "description": "the image id (stored when the input was inline or a URL)"})
    detections = ma.fields.List(ma.fields.Nested(DetectionSchema), required=True, metadata={
        "description": "photo pixels, x right, y down; boxes before padding"})
    maskImageUUID = ma.fields.String(required=True)
    maskImageURL = ma.fields.String(metadata={"description": "outputType URL: signed, "
                                                             "expires"})
    maskImageBase64Data = ma.fields.String(metadata={"description": "outputType base64Data"})
    maskImageDataURI = ma.fields.String(metadata={"description": "outputType dataURI"})


@blp.route("/")
class MaskingTasks(MethodView):
    @blp.arguments(MaskingTaskSchema)
    @blp.response(200, MaskingResultSchema)
    @blp.alt_response(400, description="unknown or unavailable model (the message lists "
                                       "ours); URL refused by the SSRF guard or fetching off")
    @blp.alt_response(409, description="taskUUID already used for a different request")
    @blp.alt_response(413, description="inputImage over the upload or pixel limit")
    @blp.alt_response(415, description="inputImage is not a JPEG, PNG or WEBP image")
    @blp.alt_response(422, description="malformed body; the message names the field")
    @blp.alt_response(502, description="uploadEndpoint did not accept the mask")
    @blp.company_scoped(not_found="inputImage names no image of this company")
    def post(self, body, company_id):
        """Detect faces, face parts, hands or people and answer their mask."""
        try:
            detection.validate_model(body["model"])
        except ValueError as exc:
            abort(400, message=f"model: {exc}", errors={"json": {"model": [str(exc)]}})
        task = MaskTask(
            task_uuid=uuid.UUID(str(body["taskUUID"])), input_image=body["inputImage"],
            model=body["model"], confidence=float(body["confidence"]),
            max_detections=body["maxDetections"], mask_padding=body["maskPadding"],
            mask_blur=body["maskBlur"], output_type=body["outputType"],
            output_format=body["outputFormat"], mask_shape=body.get("maskShape"),
            upload_endpoint=body.get("uploadEndpoint"))
        return run_task(company_id, task)
