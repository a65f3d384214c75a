"""GET .../analyses/{tech_name} and GET /api/v1/algorithms/."""
from __future__ import annotations

import io
import uuid

import numpy as np
import pytest
from PIL import Image

from algorithms import registry
from algorithms.face import apply_affine
from rasterisation.extensions import db


@pytest.fixture
def astronaut_id(upload, company, auth_headers, astronaut_jpeg):
    return upload(company, auth_headers, astronaut_jpeg, "astronaut.jpg").json["id"]


def _analysis(client, company, image_id, headers, name, image_type="original"):
    return client.get(f"/api/v1/companies/{company}/images/{image_id}/analyses/{name}"
                      f"?image_type={image_type}", headers=headers)


def _points(doc):
    (mask,) = [m for m in doc["masks"] if m["mask_type"] == "point_mask"]
    return np.array([f["geometry"]["coordinates"] for f in mask["geometry"]["features"]])


def test_algorithms_lists_what_is_implemented(client, auth_headers):
    response = client.get("/api/v1/algorithms/", headers=auth_headers)
    assert response.status_code == 200
    listed = {a["tech_name"]: a for a in response.json}
    assert set(listed) == set(registry.names())
    assert listed["facial_landmarks"]["mask_types"] == ["point_mask"]
    assert all(a["version"] for a in listed.values())
    assert client.get("/api/v1/algorithms/").status_code == 401


def test_landmarks_in_both_spaces_are_one_transform_apart(app, client, company, auth_headers,
                                                          astronaut_id):
    from rasterisation.models import ImageFace

    original = _analysis(client, company, astronaut_id, auth_headers, "facial_landmarks")
    restored = _analysis(client, company, astronaut_id, auth_headers, "facial_landmarks",
                         "restored")
    assert original.status_code == restored.status_code == 200, original.json
    assert (original.json["width"], original.json["height"]) == (512, 512)
    a, b = _points(original.json), _points(restored.json)
    assert a.shape == b.shape == (478, 2)
    with app.app_context():
        row = db.session.get(ImageFace, uuid.UUID(astronaut_id))
        to_original = np.asarray(row.data["restored"]["to_original"])
    assert np.abs(apply_affine(to_original, b) - a).max() < 0.5


def test_second_call_does_not_recompute(client, company, auth_headers, astronaut_id,
                                        monkeypatch):
    algorithm = registry.get("quality")
    calls = []
    real = type(algorithm).analyse

    def counting(self, image, face):
        calls.append(1)
        return real(self, image, face)

    monkeypatch.setattr(type(algorithm), "analyse", counting)
    first = _analysis(client, company, astronaut_id, auth_headers, "quality")
    second = _analysis(client, company, astronaut_id, auth_headers, "quality", "restored")
    third = _analysis(client, company, astronaut_id, auth_headers, "quality")
    assert first.status_code == second.status_code == third.status_code == 200
    assert len(calls) == 1
    assert first.json == third.json


def test_unknown_unsupported_and_bad_arguments(client, company, auth_headers, astronaut_id):
    unknown = _analysis(client, company, astronaut_id, auth_headers, "sparkle")
    assert unknown.status_code == 404 and "facial_landmarks" in unknown.json["message"]
    unsupported = _analysis(client, company, astronaut_id, auth_headers, "age")
    assert unsupported.status_code == 404 and "not supported" in unsupported.json["message"]
    bad_type = _analysis(client, company, astronaut_id, auth_headers, "quality", "upside")
    assert bad_type.status_code == 422 and "image_type" in bad_type.json["message"]


def test_no_face(client, company, auth_headers, upload):
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.coffee()).save(buf, "PNG")
    image_id = upload(company, auth_headers, buf.getvalue(), "mug.png").json["id"]
    landmarks = _analysis(client, company, image_id, auth_headers, "facial_landmarks")
    assert landmarks.status_code == 422 and "no face" in landmarks.json["message"]
    quality = _analysis(client, company, image_id, auth_headers, "quality")
    assert quality.status_code == 200
    assert "no_face" in quality.json["feedback"]["problems"]


def test_scoping(client, company, auth_headers, astronaut_id, other_company,
                 other_auth_headers):
    assert _analysis(client, other_company, astronaut_id, other_auth_headers,
                     "quality").status_code == 404
    assert _analysis(client, company, astronaut_id, other_auth_headers,
                     "quality").status_code == 403
    assert _analysis(client, company, astronaut_id, auth_headers, "quality").status_code == 200


def test_concurrent_requests_writing_the_same_cache_rows(app, company, auth_headers,
                                                         astronaut_id):
    """Two requests that computed the same result: the second save skips what exists."""
    from rasterisation.models import AnalysisRecord, Image as ImageRow
    from rasterisation.services.analyses import StoredPhoto

    with app.test_request_context():
        image = db.session.get(ImageRow, uuid.UUID(astronaut_id))
        first, second = StoredPhoto(image), StoredPhoto(image)
        a = first.result("quality", "original")
        b = second.result("quality", "original")
        first.save()
        db.session.expunge_all()  # as if the second request had its own session
        second.save()  # IntegrityError inside, handled row by row
        assert a.to_dict() == b.to_dict()
        rows = db.session.scalars(db.select(AnalysisRecord).where(
            AnalysisRecord.image_id == image.id)).all()
        assert sorted(r.image_type for r in rows) == ["original", "restored"]


def test_metrics_are_found_by_their_own_tech_name(client, company, auth_headers, astronaut_id):
    """As in the anchor API: each metric's tech_name names it; name is for display."""
    doc = _analysis(client, company, astronaut_id, auth_headers, "pores").json
    subs = {m["tech_name"]: m for m in doc["sub_metrics"]}
    assert {"pores_number", "pores_density"} <= set(subs)
    assert subs["pores_number"]["name"] == "Pores number"
    assert doc["main_metric"]["tech_name"] != "pores" and doc["main_metric"]["name"]
    listed = {a["tech_name"]: a for a in client.get("/api/v1/algorithms/",
                                                    headers=auth_headers).json}
    assert "pores_number" in {m["tech_name"] for m in listed["pores"]["metrics"]}
