"""Images API: upload, list, get with a signed URL, delete; bad input answers JSON 4xx."""
from __future__ import annotations

import io
import time
import uuid

import pytest
from PIL import Image

from conftest import assert_error, encode  # shared helpers (tests/conftest.py)
from rasterisation.extensions import db
from rasterisation.models import Image as ImageRow
from rasterisation.storage import EXTENSION_KEY, StorageError


def images_url(company_id, image_id=None):
    base = f"/api/v1/companies/{company_id}/images/"
    return base if image_id is None else f"{base}{image_id}"


def fetch_url(client, url):
    """GET a signed URL: through the app for local storage, over HTTP for S3."""
    if url.startswith("http://localhost/"):
        return client.get(url[len("http://localhost"):])
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - test server
        class R:  # the same two attributes as a Flask test response
            status_code = response.status
            data = response.read()
        return R


# ---------------------------------------------------------------- the happy path
def test_upload_list_get_fetch_delete(app, client, company, auth_headers, upload,
                                      astronaut_jpeg):
    r = upload(company, auth_headers, astronaut_jpeg, "astronaut.jpg")
    assert r.status_code == 201, r.json
    body = r.json
    assert (body["width"], body["height"]) == (512, 512)
    assert body["format"] == "jpeg" and body["content_type"] == "image/jpeg"
    assert body["upload_format"] == "jpeg" and body["upload_size_bytes"] == len(astronaut_jpeg)
    assert body["original_filename"] == "astronaut.jpg"
    image_id = body["id"]

    listing = client.get(images_url(company), headers=auth_headers).json
    assert listing["total"] == 1 and [i["id"] for i in listing["items"]] == [image_id]

    r = client.get(images_url(company, image_id), headers=auth_headers)
    assert r.status_code == 200
    got = r.json
    assert got["id"] == image_id and got["size_bytes"] == body["size_bytes"]
    assert got["url_expires_at"] > got["created_at"]
    photo = fetch_url(client, got["url"])  # no token
    assert photo.status_code == 200 and len(photo.data) == got["size_bytes"]
    with Image.open(io.BytesIO(photo.data)) as im:
        assert im.size == (512, 512) and im.format == "JPEG"

    storage = app.extensions[EXTENSION_KEY]
    with app.app_context():
        key = db.session.get(ImageRow, uuid.UUID(image_id)).storage_key
    assert storage.exists(key)
    # a derived object under the same prefix (later: analyses, renders) is deleted too
    storage.put(key.rsplit("/", 1)[0] + "/renders/pores.png", b"x", "image/png")

    assert client.delete(images_url(company, image_id), headers=auth_headers).status_code == 204
    assert not storage.exists(key)
    assert not storage.exists(key.rsplit("/", 1)[0] + "/renders/pores.png")
    assert client.get(images_url(company, image_id), headers=auth_headers).status_code == 404
    assert client.get(images_url(company), headers=auth_headers).json["total"] == 0
    assert client.delete(images_url(company, image_id), headers=auth_headers).status_code == 404


def test_png_and_webp_are_stored_as_lossless_png(client, company, auth_headers, upload,
                                                 astronaut):
    for fmt, kw in (("PNG", {}), ("WEBP", {"lossless": True})):
        r = upload(company, auth_headers, encode(astronaut, fmt, **kw), f"a.{fmt.lower()}")
        assert r.status_code == 201, r.json
        assert r.json["format"] == "png" and r.json["upload_format"] == fmt.lower()


def test_list_is_paginated_newest_first(client, company, auth_headers, upload):
    ids = []
    for shade in range(5):
        r = upload(company, auth_headers, encode(Image.new("RGB", (8, 8), (shade,) * 3), "PNG"))
        ids.append(r.json["id"])
        time.sleep(0.002)  # distinct created_at
    pages = [client.get(images_url(company) + f"?page={p}&page_size=2",
                        headers=auth_headers).json for p in (1, 2, 3)]
    assert [p["total"] for p in pages] == [5, 5, 5]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert [i["id"] for p in pages for i in p["items"]] == ids[::-1]
    assert pages[0]["page"] == 1 and pages[0]["page_size"] == 2


@pytest.mark.parametrize("query", ["page=0", "page_size=0", "page_size=101", "page=abc"])
def test_bad_pagination_is_422(client, company, auth_headers, query):
    r = client.get(images_url(company) + "?" + query, headers=auth_headers)
    assert_error(r, 422, query.split("=")[0])


# ---------------------------------------------------------------- EXIF and metadata
def exif_jpeg(orientation: int, *, gps: bool = True) -> bytes:
    """A 60x40 image whose top-left quarter is red, tagged with ``orientation`` and GPS."""
    im = Image.new("RGB", (60, 40), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 30, 20))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "CameraMaker"
    if gps:
        exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}
    return encode(im, "JPEG", exif=exif, quality=95)


def test_exif_orientation_applied_and_metadata_dropped(app, client, company, auth_headers,
                                                       upload):
    raw = exif_jpeg(6)  # 6 = rotate 90 clockwise to view
    assert b"CameraMaker" in raw
    r = upload(company, auth_headers, raw, "phone.jpg")
    assert r.status_code == 201, r.json
    assert (r.json["width"], r.json["height"]) == (40, 60)  # upright
    stored = fetch_url(client, client.get(images_url(company, r.json["id"]),
                                          headers=auth_headers).json["url"]).data
    assert b"Exif" not in stored and b"CameraMaker" not in stored
    with Image.open(io.BytesIO(stored)) as im:
        assert im.size == (40, 60)
        assert not im.getexif() and "exif" not in im.info and "xmp" not in im.info
        # rotated 90 clockwise: the red top-left corner is now top-right
        assert im.getpixel((35, 5))[0] > 200 and im.getpixel((5, 5))[2] > 200


# ---------------------------------------------------------------- storage failures
class BrokenStorage:
    name = "broken"

    def __init__(self, inner, *, fail_put=False, fail_delete=False):
        self.inner, self.fail_put, self.fail_delete = inner, fail_put, fail_delete

    def put(self, key, data, content_type):
        if self.fail_put:
            raise StorageError("disk on fire")
        return self.inner.put(key, data, content_type)

    def delete_prefix(self, prefix):
        if self.fail_delete:
            raise StorageError("disk on fire")
        return self.inner.delete_prefix(prefix)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_storage_failure_on_upload_is_503_and_no_row(app, client, company, auth_headers,
                                                     upload, astronaut_jpeg):
    app.extensions[EXTENSION_KEY] = BrokenStorage(app.extensions[EXTENSION_KEY], fail_put=True)
    r = upload(company, auth_headers, astronaut_jpeg)
    assert_error(r, 503, "storage")
    assert r.headers["Retry-After"]
    with app.app_context():
        assert db.session.query(ImageRow).count() == 0


def test_storage_failure_on_delete_is_503_and_hides_the_image(app, client, company,
                                                              auth_headers, upload,
                                                              astronaut_jpeg):
    """The delete marks the row first: the image is gone at once (no zombie that later
    requests trip over); a retried DELETE removes the objects (tests/.../
    test_delete_consistency.py covers the sweeper)."""
    image_id = upload(company, auth_headers, astronaut_jpeg).json["id"]
    inner = app.extensions[EXTENSION_KEY]
    app.extensions[EXTENSION_KEY] = BrokenStorage(inner, fail_delete=True)
    assert_error(client.delete(images_url(company, image_id), headers=auth_headers), 503)
    app.extensions[EXTENSION_KEY] = inner
    assert client.get(images_url(company, image_id), headers=auth_headers).status_code == 404
    assert client.delete(images_url(company, image_id), headers=auth_headers).status_code == 204
    assert client.delete(images_url(company, image_id), headers=auth_headers).status_code == 404


def test_database_failure_after_put_removes_the_object(app, client, company, auth_headers,
                                                       upload, astronaut_jpeg, monkeypatch):
    import sqlalchemy as sa

    storage = app.extensions[EXTENSION_KEY]
    written = []
    real_put = storage.put
    monkeypatch.setattr(storage, "put", lambda k, d, c: (written.append(k), real_put(k, d, c)))

    with app.app_context():
        real_commit = db.session.commit

        def failing_commit():
            if any(isinstance(obj, ImageRow) for obj in db.session.new):
                raise sa.exc.OperationalError("INSERT", {}, Exception("database went away"))
            return real_commit()

        monkeypatch.setattr(db.session, "commit", failing_commit)
        r = upload(company, auth_headers, astronaut_jpeg)
    assert_error(r, 503, "database")  # the database went away: retry later (issue 12)
    assert r.headers["Retry-After"]
    assert written and not storage.exists(written[0])
