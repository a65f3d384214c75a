"""POST /api/v1/companies/{company_id}/masking_tasks/ (the imageMasking task)."""
from __future__ import annotations

import base64
import io
import uuid

import numpy as np
import pytest
from PIL import Image

from tests.conftest import PHOTO_DIR, assert_error, encode, get_signed, make_tenant

PORTRAIT = (PHOTO_DIR / "london_024.jpg").read_bytes()


def _url(company):
    return f"/api/v1/companies/{company}/masking_tasks/"


def _task(image, **fields):
    return {"taskUUID": str(uuid.uuid4()), "inputImage": image,
            "model": "mediapipe_face_mesh", **fields}


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("L"))


@pytest.fixture
def image_id(client, company, auth_headers, upload):
    response = upload(company, auth_headers, PORTRAIT, "portrait.jpg")
    assert response.status_code == 201
    return response.get_json()["id"]


def test_face_mask_by_url(client, company, auth_headers, image_id):
    task = _task(image_id, model="mediapipe_face_short", maskPadding=0, maskBlur=0)
    response = client.post(_url(company), json=task, headers=auth_headers)
    assert response.status_code == 200, response.data[:500]
    body = response.get_json()
    assert body["taskType"] == "imageMasking"
    assert body["taskUUID"] == task["taskUUID"] and body["inputImageUUID"] == image_id
    uuid.UUID(body["maskImageUUID"])
    assert "maskImageBase64Data" not in body and "maskImageDataURI" not in body
    [det] = body["detections"]
    assert det["label"] == "face" and 0.5 < det["confidence"] <= 1
    assert 0 <= det["x_min"] < det["x_max"] <= 1350 and 0 <= det["y_min"] < det["y_max"] <= 1350
    mask = _decode(get_signed(client, body["maskImageURL"]))
    assert mask.shape == (1350, 1350)
    assert set(np.unique(mask)) == {0, 255}            # white on black, no blur asked
    ys, xs = np.nonzero(mask)
    # a box mask: exactly the detection's box (pixel centres inside)
    assert abs(xs.min() - det["x_min"]) <= 1 and abs(xs.max() + 1 - det["x_max"]) <= 1
    assert abs(ys.min() - det["y_min"]) <= 1 and abs(ys.max() + 1 - det["y_max"]) <= 1


@pytest.mark.parametrize("output_type,output_format,magic", [
    ("base64Data", "PNG", b"\x89PNG"), ("dataURI", "JPG", b"\xff\xd8\xff"),
    ("dataURI", "WEBP", b"RIFF")])
def test_inline_input_and_outputs(client, company, auth_headers, output_type, output_format,
                                  magic):
    data_uri = "data:image/jpeg;base64," + base64.b64encode(PORTRAIT).decode()
    for image in (data_uri, base64.b64encode(PORTRAIT).decode()):
        task = _task(image, model="mediapipe_lips_mesh", outputType=output_type,
                     outputFormat=output_format, maskBlur=6)
        response = client.post(_url(company), json=task, headers=auth_headers)
        assert response.status_code == 200, response.data[:500]
        body = response.get_json()
        assert [d["label"] for d in body["detections"]] == ["lips"]
        if output_type == "base64Data":
            data = base64.b64decode(body["maskImageBase64Data"])
        else:
            prefix, b64 = body["maskImageDataURI"].split(",", 1)
            assert prefix == {"JPG": "data:image/jpeg;base64", "WEBP": "data:image/webp;base64"
                              }[output_format]
            data = base64.b64decode(b64)
        assert data.startswith(magic)
        mask = _decode(data)
        assert mask.shape == (1350, 1350) and mask.max() >= 250
        # the input was stored as an image of the company: reusable by id
        stored = client.get(f"/api/v1/companies/{company}/images/{body['inputImageUUID']}",
                            headers=auth_headers)
        assert stored.status_code == 200 and stored.get_json()["width"] == 1350


def test_padding_and_blur_rings_in_the_answer(client, company, auth_headers, image_id):
    def mask(**options):
        body = client.post(_url(company), json=_task(image_id, model="mediapipe_face_short",
                                                     outputType="base64Data", **options),
                           headers=auth_headers).get_json()
        return _decode(base64.b64decode(body["maskImageBase64Data"])), body["detections"][0]

    base, det = mask(maskPadding=0, maskBlur=0)
    padded, _ = mask(maskPadding=20, maskBlur=0)
    shrunk, _ = mask(maskPadding=-20, maskBlur=0)
    soft, _ = mask(maskPadding=20, maskBlur=10)
    row = int((det["y_min"] + det["y_max"]) / 2)

    def extent(m, low=0):
        cols = np.flatnonzero(m[row] > low)
        return cols[0], cols[-1] + 1

    b0, b1 = extent(base)
    assert extent(padded) == (b0 - 20, b1 + 20)
    assert extent(shrunk) == (b0 + 20, b1 - 20)
    assert np.array_equal(soft == 255, padded == 255)       # the feather is outside
    assert extent(soft) == (b0 - 20 - 9, b1 + 20 + 9)         # 10 px ring, last one black


def test_repeated_task_uuid_returns_the_earlier_result(client, company, auth_headers, image_id):
    task = _task(image_id, outputType="base64Data")
    first = client.post(_url(company), json=task, headers=auth_headers)
    again = client.post(_url(company), json=task, headers=auth_headers)
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    changed = client.post(_url(company), json={**task, "maskPadding": 9}, headers=auth_headers)
    assert_error(changed, 409, "taskUUID")
    by_url = client.post(_url(company), json={**task, "taskUUID": str(uuid.uuid4())},
                         headers=auth_headers).get_json()
    assert by_url["maskImageUUID"] != first.get_json()["maskImageUUID"]


def test_auth_and_other_companies(app, client, company, auth_headers, image_id,
                                  other_company, other_auth_headers):
    task = _task(image_id)
    assert_error(client.post(_url(company), json=task), 401)
    assert_error(client.post(_url(other_company), json=task, headers=auth_headers), 403)
    # company B cannot use company A's image, nor learn that it exists
    foreign = client.post(_url(other_company), json=task, headers=other_auth_headers)
    assert_error(foreign, 404, image_id)
    unknown = client.post(_url(company), json=_task(str(uuid.uuid4())), headers=auth_headers)
    assert_error(unknown, 404)
    # a taskUUID is per company: B's task of the same UUID is B's own
    own = client.post(_url(company), json=task, headers=auth_headers)
    assert own.status_code == 200
    assert_error(client.post(_url(other_company), json=task, headers=other_auth_headers), 404)


@pytest.mark.parametrize("fields,status,words", [
    ({"model": "face_yolov8n"}, 400, ["model", "not available", "mediapipe_face_mesh",
                                      "hand", "person"]),
    ({"model": "person_yolov8s-seg"}, 400, ["model", "mediapipe_face_short"]),
    ({"model": "nope"}, 400, ["model", "mediapipe_face_full"]),
    ({"confidence": 1.5}, 422, ["confidence"]),
    ({"confidence": "0.5"}, 422, ["confidence"]),
    ({"maxDetections": 0}, 422, ["maxDetections"]),
    ({"maskPadding": "4"}, 422, ["maskPadding"]),
    ({"maskBlur": -1}, 422, ["maskBlur"]),
    ({"outputType": "url"}, 422, ["outputType"]),
    ({"outputFormat": "GIF"}, 422, ["outputFormat"]),
    ({"maskShape": "circle"}, 422, ["maskShape"]),
    ({"taskType": "imageInference"}, 422, ["taskType"]),
    ({"taskUUID": "not-a-uuid"}, 422, ["taskUUID"]),
    ({"taskUUID": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"}, 422, ["taskUUID", "version 4"]),
    ({"colour": "red"}, 422, ["colour"]),
])
def test_bad_fields_are_named(client, company, auth_headers, image_id, fields, status, words):
    response = client.post(_url(company), json=_task(image_id, **fields), headers=auth_headers)
    assert_error(response, status, *words)


@pytest.mark.parametrize("image,status,words", [
    ("", 422, ["inputImage"]),
    ("hello there", 422, ["inputImage", "data URI"]),
    ("data:image/png;base64,@@@@", 422, ["inputImage", "base64"]),
    ("data:text/plain,hello", 422, ["inputImage", "base64"]),
    (base64.b64encode(b"GIF89a" + b"\0" * 64).decode(), 415, ["inputImage"]),
    (base64.b64encode(PORTRAIT[:2000]).decode(), 422, ["inputImage"]),
    ("http://example.com/a.jpg", 400, ["inputImage", "RASTERISATION_FETCH_URLS"]),
    ("ftp://example.com/a.jpg", 400, ["inputImage"]),
])
def test_bad_input_images(client, company, auth_headers, image, status, words):
    response = client.post(_url(company), json=_task(image), headers=auth_headers)
    assert_error(response, status, *words)


def test_no_face_answers_an_empty_black_mask(client, company, auth_headers):
    sky = np.full((300, 400, 3), (120, 170, 230), np.uint8)
    task = _task(base64.b64encode(encode(sky, "PNG")).decode(), outputType="base64Data")
    body = client.post(_url(company), json=task, headers=auth_headers).get_json()
    assert body["detections"] == []
    mask = _decode(base64.b64decode(body["maskImageBase64Data"]))
    assert mask.shape == (300, 400) and not mask.any()


# ---------------------------------------------------------------- URLs: SSRF guard
@pytest.fixture
def fetching_app(make_app):
    return make_app(RASTERISATION_FETCH_URLS="1",
                    RASTERISATION_FETCH_ALLOW_NETWORKS="127.0.0.1/32",
                    RASTERISATION_FETCH_TIMEOUT="2")


def test_url_input_and_upload_endpoint(fetching_app, local_http):
    company, token = make_tenant(fetching_app, "Fetcher")
    client, headers = fetching_app.test_client(), {"Authorization": f"Bearer {token}"}
    local_http.routes["/portrait.jpg"] = (200, {"Content-Type": "image/jpeg"}, PORTRAIT)
    local_http.routes["/upload/mask.png"] = (200, {}, b"")
    task = _task(local_http.url("/portrait.jpg"), outputType="base64Data",
                 uploadEndpoint=local_http.url("/upload/mask.png"))
    response = client.post(_url(company), json=task, headers=headers)
    assert response.status_code == 200, response.data[:500]
    body = response.get_json()
    assert [d["label"] for d in body["detections"]] == ["face"]
    put = [r for r in local_http.requests if r[0] == "PUT"]
    assert len(put) == 1 and put[0][1] == "/upload/mask.png"
    assert put[0][3] == base64.b64decode(body["maskImageBase64Data"])
    assert put[0][2]["Content-Type"] == "image/png"


def test_ssrf_targets_are_refused_before_any_work(fetching_app, local_http):
    company, token = make_tenant(fetching_app, "Fetcher")
    client, headers = fetching_app.test_client(), {"Authorization": f"Bearer {token}"}
    for url in ("http://10.0.0.8/a.jpg", "http://169.254.169.254/latest/meta-data/",
                "http://[::1]/a.jpg", "file:///etc/passwd", "http://127.0.0.2/a.jpg"):
        assert_error(client.post(_url(company), json=_task(url), headers=headers), 400,
                     "inputImage")
    image = base64.b64encode(PORTRAIT).decode()
    for url in ("http://192.168.0.1/put", "http://169.254.169.254/", "gopher://x/"):
        assert_error(client.post(_url(company), json=_task(image, uploadEndpoint=url),
                                 headers=headers), 400, "uploadEndpoint")
    listed = client.get(f"/api/v1/companies/{company}/images/", headers=headers).get_json()
    assert listed["total"] == 0          # refused before the inline image was stored
    local_http.routes["/missing.jpg"] = (404, {}, b"")
    assert_error(client.post(_url(company), json=_task(local_http.url("/missing.jpg")),
                             headers=headers), 422, "inputImage", "404")
    local_http.routes["/broken"] = (500, {}, b"")
    response = client.post(_url(company), json=_task(image, uploadEndpoint=local_http.url(
        "/broken")), headers=headers)
    assert_error(response, 502, "uploadEndpoint", "500")


def test_loopback_is_refused_without_the_allow_list(make_app, local_http):
    app = make_app(RASTERISATION_FETCH_URLS="1")
    company, token = make_tenant(app, "Strict")
    local_http.routes["/portrait.jpg"] = (200, {}, PORTRAIT)
    response = app.test_client().post(_url(company), json=_task(local_http.url(
        "/portrait.jpg")), headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 400, "inputImage", "loopback")
    assert local_http.requests == []


def test_large_photos_detect_on_a_half_size_decode_with_the_same_result(
        client, company, auth_headers, upload, face_of):
    """A 2700 px JPEG is detected on its half-size DCT decode; the boxes match a full-size
    detection to within 1 % of the face and the mask covers the face oval."""
    import cv2

    from algorithms.detect import detect
    from algorithms.face import analyse_face
    from algorithms.face import indices as ix
    from algorithms.detect.raster import rasterise
    from shapely.geometry import Polygon

    small, _ = face_of("london_107")
    big = cv2.resize(small, (2700, 2700), interpolation=cv2.INTER_CUBIC)
    image = upload(company, auth_headers, encode(big, "JPEG", quality=95)).get_json()["id"]
    body = client.post(_url(company), json=_task(image, model="mediapipe_face_mesh",
                                                 outputType="base64Data", maskBlur=0,
                                                 maskPadding=0),
                       headers=auth_headers).get_json()
    [det] = body["detections"]
    stored = np.asarray(Image.open(io.BytesIO(encode(big, "JPEG", quality=95))).convert("RGB"))
    [full] = detect(stored, model="mediapipe_face_mesh")
    width = full.box[2] - full.box[0]
    got = [det["x_min"], det["y_min"], det["x_max"], det["y_max"]]
    assert max(abs(a - b) for a, b in zip(got, full.box)) < 0.01 * width, (got, full.box)
    mask = _decode(base64.b64decode(body["maskImageBase64Data"])) > 0
    oval = rasterise([Polygon(analyse_face(stored).landmarks[list(ix.FACE_OVAL)])],
                     (2700, 2700)) > 0
    assert (mask & oval).sum() / oval.sum() >= 0.97


def test_the_spec_documents_masking_tasks_and_anonymise(make_app):
    import json as _json

    from rasterisation.cli import openapi_document

    spec = _json.loads(openapi_document(make_app()))
    task = spec["paths"]["/api/v1/companies/{company_id}/masking_tasks/"]["post"]
    body = task["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    fields = spec["components"]["schemas"][body]["properties"]
    assert {"taskUUID", "inputImage", "model", "confidence", "maxDetections", "maskPadding",
            "maskBlur", "outputType", "outputFormat", "uploadEndpoint"} <= set(fields)
    answer = task["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    props = spec["components"]["schemas"][answer.split("/")[-1]]["properties"]
    assert {"taskType", "taskUUID", "inputImageUUID", "detections", "maskImageUUID",
            "maskImageURL", "maskImageBase64Data", "maskImageDataURI"} <= set(props)
    assert {"400", "401", "403", "404", "409", "422"} <= set(task["responses"])
    assert "post" in spec["paths"]["/api/v1/companies/{company_id}/anonymise"]


def test_inline_images_over_the_json_limit_are_accepted(client, company, auth_headers):
    """A base64 photo larger than RASTERISATION_MAX_JSON_BYTES (1 MiB): masking_tasks keeps
    the upload limit for its inline images (rasterisation.limits)."""
    noise = np.random.default_rng(0).integers(0, 256, (700, 800, 3), dtype=np.uint8)
    data = base64.b64encode(encode(noise, "PNG")).decode()
    assert len(data) > 1024 * 1024
    response = client.post(_url(company), json=_task(data, model="mediapipe_face_full"),
                           headers=auth_headers)
    assert response.status_code == 200, response.data[:300]
    assert response.get_json()["detections"] == []
