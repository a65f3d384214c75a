"""Hand and person masks on photos that have them (tests/data/scenes, from OpenCV's docs)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from algorithms.detect import detect, mask_image

SCENES = Path(__file__).resolve().parents[2] / "data" / "scenes"


def _scene(name):
    with Image.open(SCENES / name) as im:
        return np.asarray(im.convert("RGB"))


def _mask(image, found, **kw):
    return mask_image([d.geometry() for d in found], (image.shape[1], image.shape[0]), **kw)


@pytest.fixture(scope="module")
def models_ready(face_models):
    return face_models


def test_open_hand(models_ready):
    image = _scene("handSrc.jpg")
    found = detect(image, model="hand")
    assert [d.label for d in found] == ["hand"] and found[0].confidence > 0.9
    mask = _mask(image, found)
    r, g = image[..., 0].astype(int), image[..., 1].astype(int)
    skin = (r > g + 20) & (r > 90)
    skin[:, :150] = False                # the forearm is not the hand
    assert (skin & (mask > 0)).sum() / skin.sum() >= 0.95
    assert mask[20, 600] == 0 and mask[470, 620] == 0       # grey background corners
    x0, y0, x1, y1 = found[0].box
    ys, xs = np.nonzero(mask)
    assert xs.min() >= int(x0) and xs.max() < x1 + 1 and ys.min() >= int(y0)


def test_no_hand_in_a_portrait(models_ready, face_of):
    image, _ = face_of("london_006")
    assert detect(image, model="hand") == []


@pytest.mark.parametrize("name,inside,outside", [
    ("messi5.jpg", [(235, 150), (240, 90), (250, 280)], [(30, 100), (520, 150), (500, 40)]),
    ("basketball1.png", [(90, 200), (80, 380)], [(560, 200), (300, 30), (620, 460)]),
])
def test_person_silhouette(models_ready, name, inside, outside):
    image = _scene(name)
    found = detect(image, model="person")
    assert [d.label for d in found] == ["person"] and found[0].confidence > 0.8
    mask = _mask(image, found)
    for x, y in inside:
        assert mask[y, x] == 255, (name, x, y)
    for x, y in outside:
        assert mask[y, x] == 0, (name, x, y)
    # the silhouette, not the box: clearly less than the box's area
    x0, y0, x1, y1 = found[0].box
    assert (mask > 0).sum() < 0.85 * (x1 - x0) * (y1 - y0)


def test_no_person_in_an_empty_scene(models_ready):
    sky = np.full((480, 640, 3), (120, 170, 230), np.uint8)
    assert detect(sky, model="person") == [] and detect(sky, model="hand") == []
