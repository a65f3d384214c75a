"""/api/v1/companies/{company_id}/images/: upload, list, get (with a signed URL), delete."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.fields import Upload

from rasterisation.api.blueprint import Blueprint
from rasterisation.api.schemas import PageArgsSchema, page_of
from rasterisation.services import images as image_service
from rasterisation.services.imaging import ImageRejected

__all__ = ["blp", "ImageSchema"]

blp = Blueprint("images", __name__, url_prefix="/api/v1/companies/<uuid:company_id>/images",
                description="Face photos of a company. Stored upright (EXIF orientation "
                            "applied) and without EXIF, GPS or other metadata.")


class ImageSchema(ma.Schema):
    id = ma.fields.UUID()
    company_id = ma.fields.UUID()
    original_filename = ma.fields.String(allow_none=True)
    width = ma.fields.Integer(metadata={"description": "pixels, after orientation"})
    height = ma.fields.Integer(metadata={"description": "pixels, after orientation"})
    format = ma.fields.String(metadata={"description": "stored format", "enum": ["jpeg", "png"]})
    content_type = ma.fields.String(metadata={"description": "of the stored photo"})
    size_bytes = ma.fields.Integer(metadata={"description": "of the stored photo"})
    upload_format = ma.fields.String(metadata={"enum": ["jpeg", "png", "webp"]})
    upload_size_bytes = ma.fields.Integer()
    created_at = ma.fields.DateTime()


class ImageWithUrlSchema(ImageSchema):
    url = ma.fields.String(metadata={"description": "signed URL of the stored photo; works "
                                                    "without a token until url_expires_at"})
    url_expires_at = ma.fields.DateTime()


class UploadSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": "JPEG, PNG or WEBP"})


ImagePageSchema = page_of(ImageSchema, "ImagePageSchema")


def _with_url(image):
    # plain attributes on the instance, only for this response's serialisation
    image.url, image.url_expires_at = image_service.signed_url(image.storage_key)
    return image


@blp.route("/")
class Images(MethodView):
    @blp.arguments(UploadSchema, location="files")
    @blp.response(201, ImageWithUrlSchema)
    @blp.alt_response(413, description="upload or pixel count over the limit")
    @blp.alt_response(415, description="not a JPEG, PNG or WEBP image")
    @blp.alt_response(422, description="empty, truncated or corrupt image; no file part")
    @blp.alt_response(503, description="object storage unavailable; nothing stored")
    @blp.company_scoped()
    def post(self, files, company_id):
        """Upload a photo (multipart field `file`)."""
        upload = files["file"]
        limit = image_service.settings().max_upload_bytes
        data = upload.read(limit + 1)
        if len(data) > limit:
            abort(413, message=f"the file is larger than {limit} bytes "
                               "(RASTERISATION_MAX_UPLOAD_BYTES)")
        try:
            image = image_service.store_image(company_id=company_id, data=data,
                                              filename=upload.filename)
        except ImageRejected as exc:
            abort(exc.status, message=exc.message)
        return _with_url(image)

    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ImagePageSchema)
    @blp.company_scoped()
    def get(self, args, company_id):
        """List the company's images, newest first."""
        return {"items": image_service.list_images(company_id, **args),
                "total": image_service.count_images(company_id), **args}


@blp.route("/<uuid:image_id>")
class ImageItem(MethodView):
    @blp.response(200, ImageWithUrlSchema)
    @blp.company_scoped(not_found="no such image in this company")
    def get(self, company_id, image_id):
        """An image's metadata and a signed URL of the stored photo."""
        return _with_url(image_service.get_image_or_404(company_id, image_id))

    @blp.response(204)
    @blp.alt_response(503, description="object storage unavailable: the image is already "
                                       "gone from the API (404 from now on) and its objects "
                                       "are removed by a retried DELETE or the sweeper")
    @blp.company_scoped(not_found="no such image in this company")
    def delete(self, company_id, image_id):
        """Delete an image and every object stored for it (original, results, renders).

        The row is marked deleted first, so the image is gone for every request at once; its
        objects are removed next, then the row. A DELETE interrupted half-way (503) can be
        repeated, and `rasterisation storage sweep` finishes it anyway."""
        image_service.delete_image(image_service.get_image_for_delete(company_id, image_id))
        return None
