"""Issue 12, request limits before work and strict request schemas: each hostile input
answers a 4xx naming what is wrong, never a 500, and costs nothing before it is refused."""
from __future__ import annotations

import time
import uuid

import pytest

from conftest import assert_error  # shared helpers (tests/conftest.py)

V4 = "/service/rasterisation/v4/masks/"
V5 = "/service/rasterisation/v5/svg_masks/"
TOKENS = "/api/v1/auth/private_tokens/"


def _masks(client, company, headers, body, url=V4, **kw):
    return client.post(f"{url}?company_id={company}", json=body, headers=headers, **kw)


def _body(**mask):
    return {"image_id": str(uuid.uuid4()),
            "masks": [{"algorithm_tech_name": "pores", **mask}]}


# ------------------------------------------------------------------ size and depth
def test_json_body_over_its_own_limit_is_413_before_auth(client):
    payload = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    r = client.post(TOKENS, data=payload, content_type="application/json")  # no token
    body = assert_error(r, 413, "RASTERISATION_MAX_JSON_BYTES")
    assert str(1024 * 1024) in body["message"]


def test_json_limit_is_configurable_and_uploads_keep_theirs(make_app, tenant_factory,
                                                            astronaut_jpeg):
    import io

    app = make_app(RASTERISATION_MAX_JSON_BYTES="200")
    company, token = tenant_factory(app, "A")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    r = client.post(TOKENS, json={"name": "n" * 300}, headers=headers)
    assert_error(r, 413, "200 bytes")
    # an upload far over 200 bytes is governed by RASTERISATION_MAX_UPLOAD_BYTES instead
    r = client.post(f"/api/v1/companies/{company}/images/", headers=headers,
                    data={"file": (io.BytesIO(astronaut_jpeg), "a.jpg")},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.json


def test_chunked_json_body_is_cut_at_the_limit(make_app, tenant_factory):
    app = make_app(RASTERISATION_MAX_JSON_BYTES="1000")
    _company, token = tenant_factory(app, "A")

    def stream():
        yield b'{"name": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    environ_overrides = {"wsgi.input_terminated": True}
    import io

    r = app.test_client().post(TOKENS, input_stream=io.BytesIO(b"".join(stream())),
                               headers={"Authorization": f"Bearer {token}",
                                        "Content-Type": "application/json",
                                        "Transfer-Encoding": "chunked"},
                               environ_overrides=environ_overrides)
    assert r.status_code == 413, r.json


@pytest.mark.parametrize("depth", [100, 5000, 100_000])
def test_deeply_nested_json_is_400_not_recursion_error(client, company, auth_headers, depth):
    payload = "[" * depth + "]" * depth
    r = client.post(f"{V4}?company_id={company}", data=payload,
                    content_type="application/json", headers=auth_headers)
    assert_error(r, 400, "nested")
    nested = '{"a":' * depth + "1" + "}" * depth
    r = client.post(TOKENS, data=nested, content_type="application/json",
                    headers=auth_headers)
    assert_error(r, 400, "nested")


def test_brackets_inside_strings_are_not_nesting(client, auth_headers):
    r = client.post(TOKENS, json={"name": "[[[[{{{{" * 100}, headers=auth_headers)
    assert r.status_code == 422  # too long a name: the schema answered, not the depth check
    r = client.post(TOKENS, json={"name": 'ok "[[" \\"[['}, headers=auth_headers)
    assert r.status_code == 201, r.json


def test_json_depth_counts_structure_only():
    from rasterisation.limits import json_depth

    assert json_depth(b"{}") == 1
    assert json_depth(b'[[1], {"a": [2]}]') == 3
    assert json_depth(b'["\\"[[[["]') == 1
    assert json_depth(b"") == 0 and json_depth(b"12") == 0


# ------------------------------------------------------------------ masks list
def test_masks_list_length_is_checked_before_its_items(client, company, auth_headers):
    # 300 000 items of garbage: refused by length alone, quickly, with a short body
    masks = "[" + ",".join(["{}"] * 300_000) + "]"
    payload = '{"image_id": "%s", "masks": %s}' % (uuid.uuid4(), masks)
    t0 = time.perf_counter()
    r = client.post(f"{V4}?company_id={company}", data=payload,
                    content_type="application/json", headers=auth_headers)
    elapsed = time.perf_counter() - t0
    body = assert_error(r, 422, "masks", "at most 32")
    assert len(r.data) < 2000 and elapsed < 2.0, (len(r.data), elapsed)
    assert "masks" in body["errors"]["json"]


def test_masks_limit_is_configurable(make_app, tenant_factory):
    app = make_app(RASTERISATION_MAX_MASKS_PER_REQUEST="2")
    company, token = tenant_factory(app, "A")
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    body = _body()
    body["masks"] *= 3
    assert_error(_masks(client, company, headers, body), 422, "at most 2")
    assert_error(_masks(client, company, headers, body, url=V5), 422, "at most 2")
    body["masks"] = body["masks"][:2]
    assert _masks(client, company, headers, body).status_code == 404  # valid: no such image


def test_error_bodies_are_short(client, company, auth_headers):
    body = _body()
    body.update({f"unknown_{i}": i for i in range(5000)})
    r = _masks(client, company, auth_headers, body)
    err = assert_error(r, 422, "5000 errors")
    assert len(r.data) < 3000, len(r.data)
    assert len(err["errors"]["json"]) <= 10


# ------------------------------------------------------------------ strict schemas
@pytest.mark.parametrize("field,value", [
    ("main_metric", "true"), ("main_metric", 1), ("sub_metrics", "false"),
    ("sub_metrics", 0), ("concentric_lines", "yes"),
    ("polyline_line_thickness", "0.01"), ("polyline_line_thickness", True),
    ("fill_override", ["255", 0, 0]), ("fill_override", [True, 0, 0]),
    ("fill_override", [255.5, 0, 0]),
])
def test_mask_options_take_json_types_only(client, company, auth_headers, field, value):
    r = _masks(client, company, auth_headers, _body(**{field: value}))
    err = assert_error(r, 422, field)
    assert field in str(err["errors"])


def test_unknown_fields_are_422_naming_them(client, company, auth_headers):
    r = _masks(client, company, auth_headers, _body(colour="red"))
    assert_error(r, 422, "colour")
    body = _body()
    body["output_fromat"] = "png"
    assert_error(_masks(client, company, auth_headers, body), 422, "output_fromat")
    r = client.post(TOKENS, json={"name": "x", "expires": 3}, headers=auth_headers)
    assert_error(r, 422, "expires")


def test_mask_over_image_and_expiry_are_strict(client, company, auth_headers):
    body = _body()
    body["mask_over_image"] = "false"
    assert_error(_masks(client, company, auth_headers, body, url=V5), 422, "mask_over_image")
    r = client.post(TOKENS, json={"name": "x", "expires_in_days": "30"}, headers=auth_headers)
    assert_error(r, 422, "expires_in_days")
    r = client.post(TOKENS, json={"name": "x", "expires_in_days": True}, headers=auth_headers)
    assert_error(r, 422, "expires_in_days")
    r = client.post(TOKENS, json={"name": "x", "expires_in_days": 30}, headers=auth_headers)
    assert r.status_code == 201


@pytest.mark.parametrize("image_id", [
    "8c6d0bd75a7b4c4e9f1f6b7b0f0b2d1c",               # no hyphens
    "{8c6d0bd7-5a7b-4c4e-9f1f-6b7b0f0b2d1c}",         # braces
    "urn:uuid:8c6d0bd7-5a7b-4c4e-9f1f-6b7b0f0b2d1c",  # URN
    12345, "not-a-uuid",
])
def test_image_id_must_be_canonical(client, company, auth_headers, image_id):
    body = _body()
    body["image_id"] = image_id
    assert_error(_masks(client, company, auth_headers, body), 422, "image_id")


def test_canonical_image_id_in_any_case_is_accepted(client, company, auth_headers):
    body = _body()
    body["image_id"] = body["image_id"].upper()
    assert _masks(client, company, auth_headers, body).status_code == 404  # valid, unknown


@pytest.mark.parametrize("name", ["   ", "\t\n ", ""])
def test_token_name_of_spaces_is_422(client, auth_headers, name):
    r = client.post(TOKENS, json={"name": name}, headers=auth_headers)
    assert_error(r, 422, "name")


# ------------------------------------------------------------------ file names
@pytest.mark.parametrize("sent,kept", [
    ("../../etc/passwd.jpg", "passwd.jpg"),
    ("me\u202egpj.exe", "megpj.exe"),
    ("a\x00b\x1b[31m\tc.jpg", "ab[31mc.jpg"),
    ("\u2066x\u2069.jpg", "x.jpg"),
    ("..", None),
])
def test_uploaded_file_names_are_sanitised(client, company, auth_headers, upload,
                                           astronaut_jpeg, sent, kept):
    r = upload(company, auth_headers, astronaut_jpeg, sent)
    assert r.status_code == 201, r.json
    assert r.json["original_filename"] == kept
    listed = client.get(f"/api/v1/companies/{company}/images/", headers=auth_headers)
    assert listed.json["items"][0]["original_filename"] == kept


def test_sanitise_filename_takes_the_last_path_part():
    from rasterisation.services.images import sanitise_filename

    assert sanitise_filename("C:\\Users\\eve\\photo.jpg") == "photo.jpg"
    assert sanitise_filename("a/b\\c\u202e.jpg") == "c.jpg"
    assert sanitise_filename(" .hidden ") == "hidden"
    assert sanitise_filename("x" * 300 + ".jpg") == "x" * 255
    assert sanitise_filename(None) is None and sanitise_filename("\x00") is None


def test_json_endpoints_with_inline_images_keep_the_upload_limit(make_app, tenant_factory):
    """masking_tasks takes a photo as base64 in JSON: 1 MiB would refuse most photos."""
    import base64

    from rasterisation.limits import inline_images

    app = make_app(RASTERISATION_MAX_JSON_BYTES="1000",
                   RASTERISATION_MAX_UPLOAD_BYTES=str(2 * 1024 * 1024))

    @app.route("/inline", methods=["POST"])
    @inline_images
    def inline():
        from flask import request

        return {"bytes": len(request.get_data())}

    inline.rasterisation_public = True
    client = app.test_client()
    photo = base64.b64encode(b"x" * (1024 * 1024)).decode()  # 1.33 MiB of base64
    r = client.post("/inline", json={"image": photo})
    assert r.status_code == 200 and r.json["bytes"] > 1024 * 1024
    r = client.post("/inline", json={"image": photo * 3})  # 4 MiB > 2 MiB upload, encoded
    assert_error(r, 413, "RASTERISATION_MAX_UPLOAD_BYTES")

    company, token = tenant_factory(app, "A")
    r = client.post(f"/api/v1/companies/{company}/masking_tasks/", json={
        "taskUUID": "00000000-0000-4000-8000-000000000000", "inputImage": photo},
        headers={"Authorization": f"Bearer {token}"})
    assert r.status_code != 413, r.json  # the endpoint itself judges the image
