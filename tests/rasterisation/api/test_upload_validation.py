"""Upload validation: every bad input answers a JSON 4xx with a message saying what is wrong.

Independent of the database and storage backend, so it runs on SQLite + local storage only.
"""
from __future__ import annotations

import io
import struct
import time
import uuid
import zlib

import pytest
from PIL import Image

from conftest import assert_error, encode  # shared helpers (tests/conftest.py)
from rasterisation.extensions import db
from rasterisation.models import Image as ImageRow


@pytest.fixture
def app(make_app):
    """Overrides the backend-parametrised ``app``: these checks happen before any backend."""
    return make_app()


def images_url(company_id, image_id=None):
    base = f"/api/v1/companies/{company_id}/images/"
    return base if image_id is None else f"{base}{image_id}"


def png_bomb(width=40000, height=40000) -> bytes:
    """A valid PNG header claiming width x height, with a tiny compressed IDAT."""
    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # a few rows of zeros compress to almost nothing; the rest is "missing"
    idat = zlib.compress(b"\x00" * (1 + width * 3) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# ---------------------------------------------------------------- bad input
def test_empty_file_is_422(client, company, auth_headers, upload):
    assert_error(upload(company, auth_headers, b"", "empty.jpg"), 422, "empty")


def test_text_named_jpg_is_415(client, company, auth_headers, upload):
    r = upload(company, auth_headers, b"hello, I am not a photo\n" * 10, "photo.jpg")
    assert_error(r, 415, "JPEG, PNG or WEBP")


def test_gif_is_415(client, company, auth_headers, upload):
    r = upload(company, auth_headers, encode(Image.new("RGB", (8, 8)), "GIF"), "a.gif")
    assert_error(r, 415)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_image_is_422(client, company, auth_headers, upload, astronaut, fmt):
    data = encode(astronaut, fmt)
    r = upload(company, auth_headers, data[: len(data) // 2], f"cut.{fmt.lower()}")
    assert_error(r, 422, "truncated")


def test_truncated_header_is_422(client, company, auth_headers, upload, astronaut):
    r = upload(company, auth_headers, encode(astronaut, "PNG")[:20], "cut.png")
    assert_error(r, 422, "PNG")


def test_png_bomb_is_refused_fast(app, client, company, auth_headers, upload):
    bomb = png_bomb()
    assert len(bomb) < 10_000
    start = time.perf_counter()
    r = upload(company, auth_headers, bomb, "bomb.png")
    assert time.perf_counter() - start < 2.0
    assert_error(r, 413, "pixels")
    with app.app_context():
        assert db.session.query(ImageRow).count() == 0


def test_pixel_limit_is_configurable(make_app, tenant_factory, astronaut):
    app = make_app(RASTERISATION_MAX_IMAGE_PIXELS="100000")  # astronaut is 262144 px
    company_id, token = tenant_factory(app, "A")
    r = app.test_client().post(images_url(company_id), headers={"Authorization": f"Bearer {token}"},
                               data={"file": (io.BytesIO(encode(astronaut, "PNG")), "a.png")})
    assert_error(r, 413, "512 x 512", "100000")


def test_31_mib_upload_is_413(client, company, auth_headers, upload):
    r = upload(company, auth_headers, b"\xff\xd8\xff" + b"\0" * (31 * 1024 * 1024), "big.jpg")
    assert_error(r, 413, "RASTERISATION_MAX_UPLOAD_BYTES", str(30 * 1024 * 1024))


def test_upload_limit_is_configurable(make_app, tenant_factory, astronaut):
    data = encode(astronaut, "PNG")
    app = make_app(RASTERISATION_MAX_UPLOAD_BYTES=str(len(data) - 1))
    company_id, token = tenant_factory(app, "A")
    r = app.test_client().post(images_url(company_id), headers={"Authorization": f"Bearer {token}"},
                               data={"file": (io.BytesIO(data), "a.png")})
    assert_error(r, 413, str(len(data) - 1))


def test_missing_file_part_is_422(client, company, auth_headers):
    r = client.post(images_url(company), headers=auth_headers, data={"other": "x"},
                    content_type="multipart/form-data")
    assert_error(r, 422, "file")


@pytest.mark.parametrize("bad", ["not-a-uuid", "123", "8c6d0bd7-5a7b-4c4e-9f1f-6b7b0f0b2d1"])
def test_malformed_uuid_is_404_json(client, company, auth_headers, bad):
    assert_error(client.get(images_url(company, bad), headers=auth_headers), 404, "UUID")
    assert_error(client.get(images_url(bad), headers=auth_headers), 404, "UUID")


def test_unknown_image_is_404(client, company, auth_headers):
    r = client.get(images_url(company, uuid.uuid4()), headers=auth_headers)
    assert_error(r, 404, "no image")


def test_missing_token_is_401(client, company, upload, astronaut_jpeg):
    r = upload(company, {}, astronaut_jpeg)
    body = assert_error(r, 401, "bearer")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert body["code"] == 401


def test_foreign_company_is_403(client, company, other_auth_headers, upload, astronaut_jpeg):
    assert_error(upload(company, other_auth_headers, astronaut_jpeg), 403, "another company")


