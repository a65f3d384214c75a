"""The anonymiser: faces unrecognisable to the landmark model, nothing outside the masks
changed, each method and shape doing what it says."""
from __future__ import annotations

import doctest

import numpy as np
import pytest

from algorithms.detect import anonymise as anonymise_module
from algorithms.detect import detect
from algorithms.detect.anonymise import AnonymiseOptions, anonymise, parse_color
from algorithms.face.detection import detect_faces
from algorithms.face.landmark_model import face_presence
from algorithms.face.roi import Pyramid

PORTRAITS = ["london_006", "london_021", "london_024", "london_042", "london_099",
             "london_107"]


def test_doctests():
    assert doctest.testmod(anonymise_module).failed == 0


@pytest.mark.parametrize("name", PORTRAITS + ["astronaut"])
@pytest.mark.parametrize("method", ["blur", "pixelate", "fill"])
def test_hidden_faces_are_not_faces_any_more_and_the_rest_is_untouched(face_of, name, method):
    image, _ = face_of(name)
    found = detect(image, model="mediapipe_face_mesh")
    [before] = detect_faces(image, model="short")
    picture, mask, instances = anonymise(image, found, options=AnonymiseOptions(method=method))
    assert picture.shape == image.shape and picture is not image
    # bit for bit outside the feathered mask
    untouched = mask == 0
    assert np.array_equal(picture[untouched], image[untouched])
    assert np.array_equal(instances > 0, mask > 0)
    # the landmark model no longer calls the hidden region a face (confidence 0.5)
    assert face_presence(Pyramid(picture), before) < 0.5
    # and no detector finds a face where it was (elsewhere, a rotated search may fire on
    # a glove: the astronaut, pixelated)
    bx0, by0, bx1, by1 = before.box
    for d in detect_faces(picture, model="both", min_score=0.5):
        x0, y0, x1, y1 = d.box
        assert x1 <= bx0 or x0 >= bx1 or y1 <= by0 or y0 >= by1, (name, method, d)


def test_methods_and_shapes(face_of):
    image, _ = face_of("london_021")
    found = detect(image, model="mediapipe_face_mesh")
    filled, mask, _ = anonymise(image, found, options=AnonymiseOptions(
        method="fill", fill_color=(10, 200, 30), edge_softness=0.0))
    assert set(np.unique(mask)) == {0, 255}                      # no feather asked
    assert np.all(filled[mask == 255] == (10, 200, 30))
    soft, soft_mask, _ = anonymise(image, found, options=AnonymiseOptions(
        method="fill", fill_color=(10, 200, 30), edge_softness=0.5))
    assert np.array_equal(soft_mask == 255, mask == 255)        # the feather is outside
    ring = (soft_mask > 0) & (soft_mask < 255)
    assert ring.sum() > 0 and not (mask[ring] > 0).any()
    _, box_mask, _ = anonymise(image, found, options=AnonymiseOptions(
        method="fill", shape="box", edge_softness=0.0, padding=0.0))
    ys, xs = np.nonzero(box_mask)
    assert (box_mask > 0).sum() == (xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)
    pixelated, pmask, _ = anonymise(image, found, options=AnonymiseOptions(
        method="pixelate", pixel_size=32, edge_softness=0.0))
    y, x = np.argwhere(pmask == 255).mean(axis=0).astype(int) // 32 * 32
    cell = pixelated[y:y + 32, x:x + 32]
    assert (pmask[y:y + 32, x:x + 32] == 255).all() and (cell == cell[0, 0]).all()
    same, dmask, _ = anonymise(image, found, options=AnonymiseOptions(method="detect"))
    assert np.array_equal(same, image) and dmask.any()


def test_no_detection_changes_nothing(astronaut):
    picture, mask, instances = anonymise(astronaut, [])
    assert np.array_equal(picture, astronaut) and not mask.any() and not instances.any()


def test_options_are_validated():
    with pytest.raises(ValueError, match="blur, pixelate, fill, detect"):
        AnonymiseOptions(method="smudge")
    with pytest.raises(ValueError, match="mask, box"):
        AnonymiseOptions(shape="circle")
    with pytest.raises(ValueError, match="edge_softness"):
        AnonymiseOptions(edge_softness=2)
    with pytest.raises(ValueError, match="fill_color"):
        parse_color("red")
    assert parse_color("#abc") == (170, 187, 204)
