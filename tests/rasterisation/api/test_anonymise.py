"""POST /api/v1/companies/{company_id}/anonymise (synchronous, one photo)."""
from __future__ import annotations

import io
import json
import uuid

import numpy as np
import pytest
from PIL import Image

from tests.conftest import PHOTO_DIR, assert_error, encode, get_signed

PORTRAIT = (PHOTO_DIR / "london_099.jpg").read_bytes()


def _url(company):
    return f"/api/v1/companies/{company}/anonymise"


def _post(client, company, headers, data: bytes | None = None, **form):
    fields = {k: (json.dumps(v) if isinstance(v, list) else str(v).lower()
                  if isinstance(v, bool) else str(v)) for k, v in form.items()}
    if data is not None:
        fields["file"] = (io.BytesIO(data), "photo")
    return client.post(_url(company), data=fields, headers=headers,
                       content_type="multipart/form-data")


def _fetch(client, url) -> Image.Image:
    """The signed URL's image (see ``get_signed``), loaded."""
    im = Image.open(io.BytesIO(get_signed(client, url)))
    im.load()
    return im


def _with_gps_and_rotation(rgb: np.ndarray) -> bytes:
    im = Image.fromarray(rgb)
    exif = Image.Exif()
    exif[0x0112] = 6                      # Orientation: rotate 90 CW to display
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(0x8825).update({1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)})
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95, exif=exif.tobytes(), comment=b"secret place")
    return buf.getvalue()


def test_upload_is_blurred_oriented_stripped_and_not_stored(client, company, auth_headers):
    with Image.open(io.BytesIO(PORTRAIT)) as im:
        rgb = np.asarray(im.convert("RGB"))[:, :1000]          # 1000 wide, 1350 tall
    response = _post(client, company, auth_headers, _with_gps_and_rotation(rgb), masks=True)
    assert response.status_code == 200, response.data[:500]
    body = response.get_json()
    assert (body["width"], body["height"]) == (1350, 1000)      # EXIF orientation applied
    assert body["image_id"] is None and body["method"] == "blur" and body["format"] == "jpeg"
    assert [d["label"] for d in body["detections"]] == ["face"]
    out = _fetch(client, body["url"])
    assert out.size == (1350, 1000) and out.format == "JPEG"
    assert not out.getexif() and "exif" not in out.info and "comment" not in out.info
    assert b"CameraMaker" not in out.tobytes() and "icc_profile" not in out.info
    mask = np.asarray(_fetch(client, body["mask_url"]))
    instances = np.asarray(_fetch(client, body["instance_mask_url"]))
    assert mask.shape == (1000, 1350) and mask.max() == 255
    assert set(np.unique(instances)) == {0, 1}
    listed = client.get(f"/api/v1/companies/{company}/images/", headers=auth_headers)
    assert listed.get_json()["total"] == 0                     # the original was not kept


@pytest.mark.parametrize("method", ["blur", "pixelate", "fill", "detect"])
def test_png_pixels_outside_the_mask_are_identical(client, company, auth_headers, method):
    with Image.open(io.BytesIO(PORTRAIT)) as im:
        rgb = np.asarray(im.convert("RGB"))
    response = _post(client, company, auth_headers, encode(rgb, "PNG"), method=method,
                     masks=True, fill_color="#ff00aa")
    assert response.status_code == 200, response.data[:500]
    body = response.get_json()
    out = np.asarray(_fetch(client, body["url"]).convert("RGB"))
    mask = np.asarray(_fetch(client, body["mask_url"]))
    assert body["format"] == "png"
    assert np.array_equal(out[mask == 0], rgb[mask == 0])
    if method == "detect":
        assert np.array_equal(out, rgb)
    else:
        assert not np.array_equal(out[mask == 255], rgb[mask == 255])
    if method == "fill":
        assert np.all(out[mask == 255] == (255, 0, 170))


def test_by_image_id_and_other_companies(client, company, auth_headers, upload,
                                         other_company, other_auth_headers):
    image_id = upload(company, auth_headers, PORTRAIT).get_json()["id"]
    response = _post(client, company, auth_headers, image_id=image_id, method="pixelate",
                     shape="box")
    assert response.status_code == 200, response.data[:500]
    body = response.get_json()
    assert body["image_id"] == image_id and body["shape"] == "box"
    assert body["mask_url"] is None
    assert_error(_post(client, other_company, other_auth_headers, image_id=image_id), 404)
    assert_error(_post(client, other_company, auth_headers, image_id=image_id), 403)
    assert_error(client.post(_url(company), data={"image_id": image_id}), 401)
    assert_error(_post(client, company, auth_headers, image_id=str(uuid.uuid4())), 404)


def test_areas_select_what_is_hidden(client, company, auth_headers):
    kept = _post(client, company, auth_headers, PORTRAIT, excluded_areas=[[0, 0, 1, 1]])
    assert kept.get_json()["detections"] == []
    only = _post(client, company, auth_headers, PORTRAIT, included_areas=[[0.3, 0.3, 0.7, 0.7]])
    assert len(only.get_json()["detections"]) == 1
    none = _post(client, company, auth_headers, PORTRAIT, included_areas=[[0, 0, 0.1, 0.1]])
    assert none.get_json()["detections"] == []


@pytest.mark.parametrize("form,status,words", [
    ({"plates": True}, 422, ["plates", "not available"]),
    ({"method": "smudge"}, 422, ["method"]),
    ({"shape": "oval"}, 422, ["shape"]),
    ({"edge_softness": 3}, 422, ["edge_softness"]),
    ({"face_threshold": -1}, 422, ["face_threshold"]),
    ({"fill_color": "red"}, 422, ["fill_color"]),
    ({"pixel_size": 0}, 422, ["pixel_size"]),
    ({"excluded_areas": "[[0, 0, 2, 1]]"}, 422, ["excluded_areas"]),
    ({"included_areas": "nope"}, 422, ["included_areas"]),
    ({"output_format": "gif"}, 422, ["output_format"]),
    ({"colour": "red"}, 422, ["colour"]),
])
def test_bad_options_are_named(client, company, auth_headers, form, status, words):
    assert_error(_post(client, company, auth_headers, PORTRAIT, **form), status, *words)


def test_photo_errors(client, company, auth_headers, upload):
    assert_error(_post(client, company, auth_headers), 422, "file")
    image_id = upload(company, auth_headers, PORTRAIT).get_json()["id"]
    assert_error(_post(client, company, auth_headers, PORTRAIT, image_id=image_id), 422, "file")
    assert_error(_post(client, company, auth_headers, b"GIF89a" + b"\0" * 100), 415, "file")
    assert_error(_post(client, company, auth_headers, PORTRAIT[:3000]), 422, "file")


def test_people_are_hidden_by_their_silhouette(client, company, auth_headers):
    scene = (PHOTO_DIR.parent / "scenes" / "basketball1.png").read_bytes()
    response = _post(client, company, auth_headers, scene, faces=False, people=True,
                     method="fill", fill_color="#00ff00", edge_softness=0, masks=True)
    assert response.status_code == 200, response.data[:500]
    body = response.get_json()
    assert [d["label"] for d in body["detections"]] == ["person"]
    out = np.asarray(_fetch(client, body["url"]).convert("RGB"))
    mask = np.asarray(_fetch(client, body["mask_url"]))
    assert np.all(out[mask == 255] == (0, 255, 0))
    assert mask[200, 90] == 255 and mask[200, 560] == 0       # the whole person, not the other
