"""The masks endpoints (v4 raster, v5 SVG) as the anchor API's users call them."""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from algorithms import registry

V4 = "/service/rasterisation/v4/masks/"
V5 = "/service/rasterisation/v5/svg_masks/"


@pytest.fixture
def astronaut_id(upload, company, auth_headers, astronaut_jpeg):
    response = upload(company, auth_headers, astronaut_jpeg, "astronaut.jpg")
    assert response.status_code == 201, response.json
    return response.json["id"]


def _post(client, url, company, headers, body):
    return client.post(f"{url}?company_id={company}", json=body, headers=headers)


def _fetch(client, url):
    """GET a signed URL with no token (local storage answers through the app)."""
    parts = urlsplit(url)
    if parts.scheme and parts.netloc not in ("localhost", ""):
        import requests  # an S3 presigned URL

        r = requests.get(url, timeout=10)
        return r.status_code, r.content
    r = client.get(parts.path + ("?" + parts.query if parts.query else ""))
    return r.status_code, r.data


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_v4_every_algorithm_in_order_with_an_unsupported_one(client, company, auth_headers,
                                                             astronaut_id):
    names = registry.names()
    assert {"facial_landmarks", "quality"} <= set(names)
    asked = names[:len(names) // 2] + ["age"] + names[len(names) // 2:]
    body = {"image_id": astronaut_id, "image_type": "original",
            "masks": [{"algorithm_tech_name": n, "main_metric": True, "sub_metrics": True}
                      for n in asked]}
    response = _post(client, V4, company, auth_headers, body)
    assert response.status_code == 200, response.json
    items = response.json
    assert [i["algorithm_tech_name"] for i in items] == asked
    for item in items:
        if item["algorithm_tech_name"] == "age":
            assert item["masked_image_url"] is None
            assert "not supported" in item["error"]
            continue
        assert item["error"] is None, item
        status, data = _fetch(client, item["masked_image_url"])
        assert status == 200
        assert _decode(data).shape == (512, 512, 3)
        assert isinstance(item["sub_metrics"], list)
        assert set(item["feedback"]) >= {"problems"}
    by_name = {i["algorithm_tech_name"]: i for i in items}
    assert by_name["quality"]["main_metric"]["widget_type"] == "bad_good_line"


def test_findings_are_drawn_and_options_do_what_they_say(client, company, auth_headers,
                                                        astronaut_id, astronaut_jpeg):
    def picture(**options):
        body = {"image_id": astronaut_id, "output_format": "png",
                "masks": [{"algorithm_tech_name": "facial_landmarks", **options}]}
        item = _post(client, V4, company, auth_headers, body).json[0]
        assert item["error"] is None
        return item, _decode(_fetch(client, item["masked_image_url"])[1])

    photo = _decode(astronaut_jpeg).astype(int)
    item, default = picture()
    assert item["main_metric"] is None and item["sub_metrics"] is None
    changed = np.abs(default.astype(int) - photo).sum(axis=2) > 40
    assert changed.sum() > 300, "the 478 landmarks must be visible"
    _, red = picture(fill_override=[255, 0, 0])
    drawn = np.abs(red.astype(int) - photo).sum(axis=2) > 40
    r, g, b = red[drawn].astype(int).mean(axis=0)
    assert r > g + 30 and r > b + 30, "fill_override [255, 0, 0] draws red marks"
    shift = red[drawn].astype(int).mean(axis=0) - default[drawn].astype(int).mean(axis=0)
    assert shift[0] > 30 and shift[1] < -30, f"red replaces the default green: {shift}"


def test_restored_pictures_have_the_restored_size(client, company, auth_headers, astronaut_id):
    body = {"image_id": astronaut_id, "image_type": "restored",
            "masks": [{"algorithm_tech_name": "facial_landmarks"}]}
    item = _post(client, V4, company, auth_headers, body).json[0]
    assert item["error"] is None
    analysis = client.get(f"/api/v1/companies/{company}/images/{astronaut_id}/analyses/"
                          "facial_landmarks?image_type=restored", headers=auth_headers).json
    image = _decode(_fetch(client, item["masked_image_url"])[1])
    assert image.shape[:2] == (analysis["height"], analysis["width"])
    assert analysis["width"] != 512


def test_repeated_request_reuses_the_render(app, client, company, auth_headers, astronaut_id):
    from rasterisation.models import RenderRecord

    body = {"image_id": astronaut_id, "masks": [{"algorithm_tech_name": "facial_landmarks"}]}
    first = _post(client, V4, company, auth_headers, body).json[0]["masked_image_url"]
    with app.app_context():
        count = RenderRecord.query.count()
    second = _post(client, V4, company, auth_headers, body).json[0]["masked_image_url"]
    with app.app_context():
        assert RenderRecord.query.count() == count == 1
    assert urlsplit(first).path == urlsplit(second).path


def test_tampered_url_is_refused(app, client, company, auth_headers, astronaut_id):
    if app.config["RASTERISATION"].storage != "local":
        pytest.skip("moto does not check signatures (FACTS.md)")
    body = {"image_id": astronaut_id, "masks": [{"algorithm_tech_name": "facial_landmarks"}]}
    url = _post(client, V4, company, auth_headers, body).json[0]["masked_image_url"]
    parts = urlsplit(url)
    tampered = parts.path.replace("facial_landmarks", "facial_landmarkz") + "?" + parts.query
    assert client.get(tampered).status_code == 403
    signature_flipped = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert _fetch(client, signature_flipped)[0] == 403


def test_v5_answers_svg_over_the_photo(client, company, auth_headers, astronaut_id):
    body = {"image_id": astronaut_id, "masks": [{"algorithm_tech_name": "facial_landmarks"},
                                                {"algorithm_tech_name": "hydration"}]}
    items = _post(client, V5, company, auth_headers, body).json
    status, data = _fetch(client, items[0]["masked_image_url"])
    assert status == 200
    root = ET.fromstring(data)
    assert root.tag.endswith("svg")
    assert any(el.tag.endswith("image") for el in root.iter())
    assert sum(el.tag.endswith("circle") for el in root.iter()) >= 478
    assert items[1]["masked_image_url"] is None and items[1]["error"]
    body["mask_over_image"] = False
    bare = _post(client, V5, company, auth_headers, body).json[0]
    root = ET.fromstring(_fetch(client, bare["masked_image_url"])[1])
    assert not any(el.tag.endswith("image") for el in root.iter())


def test_photo_without_a_face(client, company, auth_headers, upload):
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.coffee()).save(buf, "JPEG")
    image_id = upload(company, auth_headers, buf.getvalue(), "mug.jpg").json["id"]
    body = {"image_id": image_id, "masks": [{"algorithm_tech_name": "facial_landmarks"},
                                            {"algorithm_tech_name": "quality",
                                             "main_metric": True}]}
    landmarks, quality = _post(client, V4, company, auth_headers, body).json
    assert landmarks["masked_image_url"] is None and "no face" in landmarks["error"]
    assert quality["error"] is None
    assert "no_face" in quality["feedback"]["problems"]
    restored = _post(client, V4, company, auth_headers,
                     {**body, "image_type": "restored"}).json
    assert all(item["error"] for item in restored)


@pytest.mark.parametrize("change, field", [
    ({"image_type": "flipped"}, "image_type"),
    ({"output_format": "gif"}, "output_format"),
    ({"masks": []}, "masks"),
    ({"masks": [{"algorithm_tech_name": "pores", "fill_override": [300, 0, 0]}]},
     "fill_override"),
    ({"masks": [{"algorithm_tech_name": "pores", "fill_override": [1, 2]}]}, "fill_override"),
    ({"masks": [{"algorithm_tech_name": "pores", "polyline_line_thickness": -0.1}]},
     "polyline_line_thickness"),
    ({"masks": [{"fill_override": [1, 2, 3]}]}, "algorithm_tech_name"),
    ({"image_id": "not-a-uuid"}, "image_id"),
    ({"surprise": 1}, "surprise"),
])
def test_malformed_bodies_name_the_field(client, company, auth_headers, astronaut_id, change,
                                         field):
    body = {"image_id": astronaut_id, "masks": [{"algorithm_tech_name": "pores"}], **change}
    response = _post(client, V4, company, auth_headers, body)
    assert response.status_code in (400, 422)
    assert field in response.json["message"], response.json


def test_scoping(client, company, auth_headers, astronaut_id, other_company,
                 other_auth_headers):
    body = {"image_id": astronaut_id, "masks": [{"algorithm_tech_name": "quality"}]}
    for url in (V4, V5):
        # B asks for A's image under B's own company: not found, A's data not revealed
        assert _post(client, url, other_company, other_auth_headers, body).status_code == 404
        # B names A's company: forbidden
        assert _post(client, url, company, other_auth_headers, body).status_code == 403
        unknown = {**body, "image_id": "00000000-0000-4000-8000-000000000000"}
        assert _post(client, url, company, auth_headers, unknown).status_code == 404
        assert client.post(url, json=body, headers=auth_headers).status_code == 422
        assert client.post(f"{url}?company_id={company}", json=body).status_code == 401
    assert _post(client, V4, company, auth_headers, body).status_code == 200


def test_deleting_the_image_removes_results_and_renders(app, client, company, auth_headers,
                                                         astronaut_id):
    from rasterisation.models import AnalysisRecord, ImageFace, RenderRecord

    body = {"image_id": astronaut_id, "masks": [{"algorithm_tech_name": "facial_landmarks"}]}
    url = _post(client, V4, company, auth_headers, body).json[0]["masked_image_url"]
    assert client.delete(f"/api/v1/companies/{company}/images/{astronaut_id}",
                         headers=auth_headers).status_code == 204
    with app.app_context():
        assert RenderRecord.query.count() == AnalysisRecord.query.count() == 0
        assert ImageFace.query.count() == 0
    assert _fetch(client, url)[0] == 404


def test_an_algorithm_says_when_the_photo_is_too_coarse(client, company, auth_headers,
                                                        astronaut_id):
    """Pores need 6 px/mm; the astronaut's face has ~1: the item says low_resolution with
    both figures and gives no score, and the skin mask is its own analysis."""
    body = {"image_id": astronaut_id, "image_type": "original",
            "masks": [{"algorithm_tech_name": "pores", "main_metric": True},
                      {"algorithm_tech_name": "skin", "sub_metrics": True}]}
    response = _post(client, V4, company, auth_headers, body)
    assert response.status_code == 200, response.json
    pores, skin = response.json
    assert "low_resolution" in pores["feedback"]["problems"]
    measures = pores["feedback"]["measures"]
    assert measures["actual_px_per_mm"] < measures["needed_px_per_mm"]
    assert pores["main_metric"] is None or pores["main_metric"]["value"] is None
    assert skin["error"] is None and skin["masked_image_url"]
    assert "low_resolution" not in skin["feedback"]["problems"]
    assert {m["tech_name"] for m in skin["sub_metrics"]} >= {"skin_area", "hair_fraction"}


def test_a_request_looks_each_algorithm_up_once(client, company, auth_headers, astronaut_id,
                                                monkeypatch):
    """The masks request resolves each tech_name at its edge and passes the object down
    (issue 11): no second registry lookup per algorithm along the way."""
    from collections import Counter

    calls = Counter()
    real_get = registry.get

    def counting_get(name):
        calls[name] += 1
        return real_get(name)

    monkeypatch.setattr(registry, "get", counting_get)
    body = {"image_id": astronaut_id, "image_type": "original",
            "masks": [{"algorithm_tech_name": "redness", "main_metric": True},
                      {"algorithm_tech_name": "lines", "sub_metrics": True}]}
    response = _post(client, V4, company, auth_headers, body)
    assert response.status_code == 200, response.json
    assert calls["redness"] == 1 and calls["lines"] == 1, calls
