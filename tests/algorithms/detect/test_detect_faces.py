"""Face and face-part masks on the six studio portraits (and the astronaut).

The reference is the face oval of the face layer's own analysis (``analyse_face``), drawn
independently of the detection-mask code: the face mask must cover >= 95 % of it and put
< 5 % of its white pixels outside the detection's box grown by the padding.
"""
from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Polygon, box

from algorithms.detect import MODELS, UNAVAILABLE, detect, mask_image, validate_model
from algorithms.detect.raster import rasterise
from algorithms.face import indices as ix

PORTRAITS = ["london_006", "london_021", "london_024", "london_042", "london_099",
             "london_107"]
FACE_MODELS = ["mediapipe_face_short", "mediapipe_face_full", "mediapipe_face_mesh", "centerface"]


def _oval_mask(face, size):
    return rasterise([Polygon(face.landmarks[list(ix.FACE_OVAL)])], size) > 0


@pytest.mark.parametrize("name", PORTRAITS + ["astronaut"])
@pytest.mark.parametrize("model", FACE_MODELS)
@pytest.mark.parametrize("padding", [0, 12])
def test_face_mask_covers_the_mesh_oval_and_stays_in_its_box(face_of, name, model, padding):
    image, face = face_of(name)
    h, w = image.shape[:2]
    found = detect(image, model=model)
    faces = [d for d in found if d.label == "face"]
    assert len(faces) == 1, [d.to_dict() for d in found]
    det = faces[0]
    assert 0.5 <= det.confidence <= 1.0
    mask = mask_image([d.geometry() for d in found], (w, h), padding=padding,
                      shapes=[d.shape for d in found]) == 255
    oval = _oval_mask(face, (w, h))
    coverage = (mask & oval).sum() / oval.sum()
    assert coverage >= 0.95, f"{name} {model}: the mask covers {coverage:.1%} of the oval"
    padded_box = rasterise([box(*det.box).buffer(padding, join_style="mitre")], (w, h)) > 0
    outside = (mask & ~padded_box).sum() / mask.sum()
    assert outside < 0.05, f"{name} {model}: {outside:.1%} of the mask is outside its box"


@pytest.mark.parametrize("name", PORTRAITS)
def test_parts_lie_inside_the_face_and_are_labelled(face_of, name):
    image, face = face_of(name)
    oval = Polygon(face.landmarks[list(ix.FACE_OVAL)])
    for model, labels in [("mediapipe_face_mesh_eyes_only", ["eyes"]),
                          ("mediapipe_eyes_mesh", ["eyes"]), ("mediapipe_lips_mesh", ["lips"]),
                          ("mediapipe_nose_mesh", ["nose"]),
                          ("mediapipe_eyes_lips_mesh", ["eyes", "lips"]),
                          ("mediapipe_nose_eyes_mesh", ["nose", "eyes"]),
                          ("mediapipe_nose_lips_mesh", ["nose", "lips"])]:
        found = detect(image, model=model)
        assert [d.label for d in found] == labels, model
        for d in found:
            assert d.contour.area > 0
            assert d.contour.difference(oval).area / d.contour.area < 0.02, (model, d.label)
            x0, y0, x1, y1 = d.box
            assert box(x0 - 1e-6, y0 - 1e-6, x1 + 1e-6, y1 + 1e-6).contains(d.contour)
    eyes_only = detect(image, model="mediapipe_face_mesh_eyes_only")[0].contour
    eyes = detect(image, model="mediapipe_eyes_mesh")[0].contour
    assert eyes.area > 2 * eyes_only.area and eyes.buffer(1).contains(eyes_only)
    # the iris centres are inside the eye openings; the mouth corners inside the lips
    for i in (ix.RIGHT_IRIS_CENTER, ix.LEFT_IRIS_CENTER):
        assert eyes_only.buffer(2).contains(
            Polygon.from_bounds(*face.landmarks[i], *face.landmarks[i] + 0.1))


def test_no_face_no_detection():
    sky = np.full((480, 640, 3), (120, 170, 230), np.uint8)
    assert detect(sky, model="mediapipe_face_full") == []
    assert not mask_image([], (640, 480), padding=10, blur=10).any()


def test_confidence_and_max_detections(face_of):
    image, _ = face_of("london_006")
    assert detect(image, model="mediapipe_face_short", confidence=1.0) == []
    two = np.concatenate([image, image[:, ::-1]], axis=1)
    assert len(detect(two, model="mediapipe_face_full")) == 2
    assert len(detect(two, model="mediapipe_face_full", max_detections=1)) == 1


def test_model_names():
    assert validate_model("mediapipe_face_mesh").family == "face"
    for name in UNAVAILABLE:
        with pytest.raises(ValueError) as info:
            validate_model(name)
        assert "not available" in str(info.value)
        assert all(ours in str(info.value) for ours in MODELS)
    with pytest.raises(ValueError, match="mediapipe_face_short"):
        validate_model("faces")
    with pytest.raises(ValueError, match="confidence"):
        detect(np.zeros((8, 8, 3), np.uint8), model="mediapipe_face_short", confidence=1.5)
    with pytest.raises(ValueError, match="max_detections"):
        detect(np.zeros((8, 8, 3), np.uint8), model="mediapipe_face_short", max_detections=0)


def test_tiled_detection_finds_small_faces_on_a_large_photo(portraits):
    """Six portraits pasted at 300-1200 px on a 4000 x 3000 canvas: faces of ~150-550 px,
    the smallest under 4 % of the photo's width, which the whole-photo passes miss."""
    import cv2

    from algorithms.detect.faces import detect_face_shapes, tiled_faces
    from algorithms.face.detection import detect_faces
    from algorithms.face.roi import Pyramid

    canvas = np.full((3000, 4000, 3), 200, np.uint8)
    layout = [(100, 150, 1200), (1600, 200, 900), (2650, 250, 700), (1700, 1400, 600),
              (2500, 1300, 400), (3150, 1900, 300)]
    for (x, y, side), name in zip(layout, PORTRAITS):
        canvas[y:y + side, x:x + side] = cv2.resize(portraits[name], (side, side),
                                                    interpolation=cv2.INTER_AREA)
    pyr = Pyramid(canvas)
    whole = detect_faces(pyr, model="both", min_score=0.5)
    tiled = tiled_faces(pyr, confidence=0.5)
    assert len(whole) < 6 and len(tiled) == 6
    for (x, y, side), face in zip(layout, sorted(tiled, key=lambda d: -d.area)):
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        assert x < cx < x + side and y < cy < y + side
    shapes = detect_face_shapes(pyr, detector="tiled", parts=("face",), confidence=0.5,
                                max_faces=10)
    assert len(shapes) == 6
