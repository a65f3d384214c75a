"""GET /files/<key>?expires=&signature=: objects of the local store, by signed URL, no token.

The app checks the HMAC itself (``rasterisation.storage.signing``): a tampered key, expiry or
signature, or an expired URL, answers 403. With the ``minio`` backend URLs point at the object
store directly and this route answers 404.
"""
from __future__ import annotations

import time

import marshmallow as ma
from flask import current_app, send_file
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from rasterisation.auth import public
from rasterisation.storage import get_storage
from rasterisation.storage.local import LocalStorage, content_type_for
from rasterisation.storage.signing import verify

__all__ = ["blp"]

blp = Blueprint("files", __name__, url_prefix="/files",
                description="Stored photos and renders behind signed, expiring URLs "
                            "(local storage). No token: the signature is the credential.")


class SignedArgsSchema(ma.Schema):
    expires = ma.fields.String(load_default=None,
                               metadata={"description": "unix time the URL expires"})
    signature = ma.fields.String(load_default=None,
                                 metadata={"description": "HMAC-SHA256 of key and expiry"})


@blp.route("/<path:key>")
@public
class SignedFile(MethodView):
    @blp.doc(security=[])
    @blp.arguments(SignedArgsSchema, location="query")
    @blp.response(200, description="the object's bytes",
                  content_type="application/octet-stream")
    @blp.alt_response(403, description="tampered or expired URL")
    @blp.alt_response(404, description="no such object")
    def get(self, args, key):
        """Fetch a stored object by its signed URL."""
        storage = get_storage()
        if not isinstance(storage, LocalStorage):
            abort(404, message="this service stores objects in S3; use the presigned URL")
        verdict = verify(current_app.config["RASTERISATION"].secret_key, key,
                         args["expires"], args["signature"])
        if verdict == "expired":
            abort(403, message="this signed URL has expired; ask the API for a new one")
        if verdict != "ok":
            abort(403, message="invalid signature: the URL was altered or is incomplete")
        try:
            path = storage.path(key)
        except ValueError:
            abort(404, message="no such object")
        if not path.is_file():
            abort(404, message="no such object (it may have been deleted)")
        remaining = max(0, int(args["expires"]) - int(time.time()))
        response = send_file(path, mimetype=content_type_for(key), max_age=remaining,
                             conditional=True, etag=True)
        response.cache_control.public = False
        response.cache_control.private = True
        response.headers["X-Content-Type-Options"] = "nosniff"
        # rendered SVGs are served from our origin: never let them run scripts
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox")
        return response
