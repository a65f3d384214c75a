"""The restored image: fixed size and layout, exact transforms, millimetre scale."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from algorithms.face import analyse_face, apply_affine, restored_to_original
from algorithms.face import indices as ix
from algorithms.face.restore import RESTORED_EYE_CENTER, RESTORED_IPD, RESTORED_SIZE
from algorithms.face.scale import IRIS_DIAMETER_MM, estimate_scale, iris_diameters
from algorithms.registry import get

NAMES = ["astronaut", "london_006", "london_042", "london_107"]


@pytest.mark.parametrize("name", NAMES)
def test_layout(face_of, name):
    _, face = face_of(name)
    assert face.restored.image.shape == (RESTORED_SIZE, RESTORED_SIZE, 3)
    assert face.restored.image.dtype == np.uint8
    pts = face.landmarks_restored
    right, left = pts[ix.RIGHT_IRIS_CENTER], pts[ix.LEFT_IRIS_CENTER]
    assert right[1] == pytest.approx(left[1], abs=1e-6)                 # eyes level
    assert left[0] - right[0] == pytest.approx(RESTORED_IPD, abs=1e-6)  # subject's right left
    np.testing.assert_allclose((right + left) / 2, RESTORED_EYE_CENTER, atol=1e-6)
    # the whole face is inside the restored image
    assert pts.min() > 50 and pts.max() < RESTORED_SIZE - 50


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_of_coordinates(face_of, name):
    _, face = face_of(name)
    there = apply_affine(face.restored.from_original, face.landmarks)
    back = apply_affine(face.restored.to_original, there)
    assert np.abs(back - face.landmarks).max() < 1e-9
    result = get("facial_landmarks").analyse(None, face)
    original = restored_to_original(result, face)
    got = np.array([[f.geometry.x, f.geometry.y] for f in original.masks[0].features])
    assert np.abs(got - face.landmarks).max() < 1e-6
    assert (original.width, original.height) == face.image_size


def _blob_centre(marked: np.ndarray, plain: np.ndarray) -> np.ndarray:
    """Weighted centre (continuous pixel coordinates) of what the mark added."""
    g = marked[:, :, 1].astype(np.float64) - plain[:, :, 1].astype(np.float64)
    g = np.clip(g - 0.2 * g.max(), 0, None)
    ys, xs = np.nonzero(g)
    w = g[ys, xs]
    return np.array([(xs * w).sum() / w.sum() + 0.5, (ys * w).sum() / w.sum() + 0.5])


@pytest.mark.parametrize("name,scale", [("astronaut", 1), ("london_042", 1),
                                        ("london_107", 2.5)])
def test_round_trip_of_pixels(face_of, name, scale, record_property):
    """A mark drawn on the cheek of the photo is found in the restored image where the
    transform puts it, and maps back within 0.5 px (up- and down-sampled faces)."""
    img, face = face_of(name)
    if scale != 1:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        face = analyse_face(img)
    target = np.asarray(face.regions_in("original")["left_cheek"].centroid.coords[0])
    sigma = max(2.0, 2.0 / np.sqrt(abs(np.linalg.det(face.restored.from_original[:, :2]))))
    r = int(12 * sigma)
    x0, y0 = int(target[0]) - r, int(target[1]) - r
    yy, xx = np.mgrid[y0:y0 + 2 * r, x0:x0 + 2 * r]
    blob = np.exp(-((xx + 0.5 - target[0]) ** 2 + (yy + 0.5 - target[1]) ** 2)
                  / (2 * (3 * sigma) ** 2))
    plain = img.astype(np.float32)
    plain[:, :, 1] *= 0.5                   # room for the mark: nothing clips
    marked = plain.copy()
    marked[y0:y0 + 2 * r, x0:x0 + 2 * r, 1] += 120 * blob
    plain, marked = plain.astype(np.uint8), marked.astype(np.uint8)
    from algorithms.face.restore import restore

    found = _blob_centre(restore(marked, face.landmarks, face.px_per_mm).image,
                         restore(plain, face.landmarks, face.px_per_mm).image)
    back = apply_affine(face.restored.to_original, found[None])[0]
    err = float(np.linalg.norm(back - _blob_centre(marked, plain)))
    record_property("round_trip_px", round(err, 3))
    assert err < 0.5, err


@pytest.mark.parametrize("name", NAMES)
def test_millimetre_scale(face_of, name):
    _, face = face_of(name)
    scale = estimate_scale(face.landmarks)
    assert scale.method == "iris"
    assert 55 < scale.ipd_mm < 72, scale
    assert face.px_per_mm == pytest.approx(np.mean(iris_diameters(face.landmarks))
                                           / IRIS_DIAMETER_MM)
    # restored scale: IPD mapped to 256 px
    assert face.restored.px_per_mm == pytest.approx(RESTORED_IPD / scale.ipd_mm)


def test_scale_follows_resolution(face_of):
    img, face = face_of("london_024")
    half = analyse_face(cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    assert half.px_per_mm == pytest.approx(face.px_per_mm / 2, rel=0.04)
    assert half.restored.px_per_mm == pytest.approx(face.restored.px_per_mm, rel=0.04)
