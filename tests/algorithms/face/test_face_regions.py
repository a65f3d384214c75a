"""Named skin regions: present, valid, inside the face oval, on the subject's side."""
from __future__ import annotations

import numpy as np
import pytest
import shapely

from algorithms.face import REGION_NAMES, analyse_face
from algorithms.face import indices as ix
from algorithms.face.regions import REGION_LOOPS, build_regions, feature_polygons

NAMES = ["astronaut", "london_006", "london_021", "london_024", "london_042", "london_099",
         "london_107"]


@pytest.mark.parametrize("name", NAMES)
def test_regions_non_empty_and_inside_the_oval(face_of, name):
    _, face = face_of(name)
    assert set(face.regions) == set(REGION_NAMES)
    oval = feature_polygons(face.landmarks_restored)["face_oval"]
    mm2 = face.restored.px_per_mm ** 2
    for region, geom in face.regions.items():
        assert geom.geom_type in ("Polygon", "MultiPolygon"), region
        assert geom.is_valid and not geom.is_empty, region
        assert geom.area / mm2 > 50, (region, geom.area / mm2)       # > 0.5 cm2
        outside = geom.difference(oval.buffer(1e-6)).area
        assert outside < 1e-6 * geom.area, (region, outside)
    # every region is skin: no eye, brow, lip or nostril
    for region in REGION_NAMES:
        assert face.regions[region].within(face.regions["face_skin"].buffer(1e-6)), region


@pytest.mark.parametrize("name", NAMES)
def test_left_is_the_subjects_left(face_of, name):
    """Upright unmirrored photo: the subject's left is on the image's right."""
    _, face = face_of(name)
    mid = (face.landmarks_restored[ix.LEFT_IRIS_CENTER, 0]
           + face.landmarks_restored[ix.RIGHT_IRIS_CENTER, 0]) / 2
    for region in ("cheek", "under_eye", "crows_feet", "nasolabial"):
        assert face.regions[f"left_{region}"].centroid.x > mid > \
            face.regions[f"right_{region}"].centroid.x, region


def test_left_and_right_regions_mirror_each_other(face_of):
    """Mirroring the photo swaps the sides: the mirrored left cheek is the right cheek."""
    img, face = face_of("london_107")
    mirrored = analyse_face(np.ascontiguousarray(img[:, ::-1]))
    w = img.shape[1]
    regions = face.regions_in("original")
    other = {k: shapely.affinity.affine_transform(g, [-1, 0, 0, 1, w, 0])
             for k, g in mirrored.regions_in("original").items()}
    for region in ("cheek", "under_eye", "crows_feet", "nasolabial"):
        a, b = regions[f"left_{region}"], other[f"right_{region}"]
        iou = a.intersection(b).area / a.union(b).area
        assert iou > 0.8, (region, iou)
    for region in ("forehead", "nose", "chin", "perioral", "face_skin"):
        a, b = regions[region], other[region]
        assert a.intersection(b).area / a.union(b).area > 0.85, region


def test_regions_are_symmetric_by_construction():
    m = ix.mirror()
    assert (m[m] == np.arange(ix.NUM_LANDMARKS)).all()
    assert int((m[:468] == np.arange(468)).sum()) == 28          # the midline points
    # MediaPipe's own left/right contours agree with the derived mirror map
    assert ix.mirror_indices(ix.RIGHT_EYE) == ix.LEFT_EYE
    assert ix.mirror_indices(ix.RIGHT_BROW) == ix.LEFT_BROW
    for side in ("cheek", "under_eye", "crows_feet", "nasolabial"):
        assert set(ix.mirror_indices(REGION_LOOPS[f"right_{side}"])) == \
            set(REGION_LOOPS[f"left_{side}"])
    for region in ("forehead", "glabella", "nose", "chin", "perioral"):
        assert set(ix.mirror_indices(REGION_LOOPS[region])) == set(REGION_LOOPS[region])


def test_build_regions_in_any_coordinates(face_of):
    """Regions scale with the face: the same shapes from landmarks scaled by 3."""
    _, face = face_of("london_042")
    small = build_regions(face.landmarks_restored / 3.0)
    for region in REGION_NAMES:
        assert small[region].area == pytest.approx(face.regions[region].area / 9, rel=0.02)
