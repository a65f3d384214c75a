"""quality: problem codes respond to what is wrong with the photo, and only to that."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from skimage import data

from algorithms.face import NoFaceError, analyse_face
from algorithms.face.photo_quality import PROBLEM_CODES, assess_quality
from algorithms.registry import get

PORTRAITS = ["london_006", "london_021", "london_024", "london_042", "london_099",
             "london_107"]


def _quality(img: np.ndarray):
    try:
        face = analyse_face(img)
    except NoFaceError:
        face = None
    return get("quality").analyse(img, face)


def test_sharp_astronaut_has_none_of_the_image_problems(face_of):
    img, face = face_of("astronaut")
    result = get("quality").analyse(img, face)
    problems = result.feedback["problems"]
    for code in ("no_face", "blurry", "under_exposed", "over_exposed", "multiple_faces",
                 "bad_pose"):
        assert code not in problems, (code, result.feedback)
    # The astronaut's face is ~100 px tall: too small for skin analysis, and said so.
    assert problems == ["face_too_small"]
    assert result.main_metric.algorithm == "quality"
    assert result.main_metric.tech_name == "image_quality_score"
    assert result.main_metric.widget_type == "bad_good_line"
    assert 0 <= result.main_metric.value <= 100
    assert result.masks == ()


def test_blurred_astronaut_is_blurry(face_models, astronaut):
    problems = _quality(cv2.GaussianBlur(astronaut, (0, 0), 2.0)).feedback["problems"]
    assert "blurry" in problems and "under_exposed" not in problems


def test_darkened_astronaut_is_under_exposed(face_models, astronaut):
    problems = _quality((astronaut * 0.3).astype(np.uint8)).feedback["problems"]
    assert "under_exposed" in problems and "blurry" not in problems


def test_brightened_astronaut_is_over_exposed(face_models, astronaut):
    bright = np.clip(astronaut.astype(np.float32) * 1.6, 0, 255).astype(np.uint8)
    assert "over_exposed" in _quality(bright).feedback["problems"]


def test_mug_has_no_face(face_models):
    mug = data.coffee()
    result = _quality(mug)
    assert result.feedback["problems"] == ["no_face"]
    assert result.main_metric.value == 0.0
    assert result.image_type == "original" and (result.width, result.height) == (600, 400)
    with pytest.raises(NoFaceError):
        get("facial_landmarks").analyse(mug, None)


@pytest.mark.parametrize("name", PORTRAITS)
def test_studio_portraits_have_no_problem(face_of, name):
    img, face = face_of(name)
    report = assess_quality(img, face)
    assert report.problems == (), report.feedback()
    assert report.score > 71


def test_side_light_is_uneven(face_of):
    img, face = face_of("london_099")
    x0, x1 = face.landmarks[:, 0].min(), face.landmarks[:, 0].max()
    ramp = np.clip((np.arange(img.shape[1]) - x0) / (x1 - x0), 0, 1) * 0.55 + 0.45
    lit = (img * ramp[None, :, None]).astype(np.uint8)
    assert "uneven_light" in assess_quality(lit, analyse_face(lit)).problems


def test_turned_head_is_bad_pose(face_of):
    """A photo turned a quarter: the face's roll is ~90 degrees (yaw and pitch unchanged)."""
    img, face = face_of("london_006")
    turned = np.ascontiguousarray(np.rot90(img))
    report = assess_quality(turned, analyse_face(turned))
    assert "bad_pose" in report.problems
    assert abs(abs(report.measures["roll_deg"]) - 90) < 10
    assert abs(report.measures["yaw_deg"] - face.pose[0]) < 5
    assert abs(report.measures["pitch_deg"] - face.pose[1]) < 5


def test_two_faces_are_reported(face_models, astronaut):
    small = cv2.resize(astronaut, (320, 320), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((512, 832, 3), np.uint8)
    canvas[:, :512] = astronaut
    canvas[96:416, 512:] = small
    assert "multiple_faces" in _quality(canvas).feedback["problems"]


def test_a_face_reloaded_without_pose_gives_the_same_problems(face_of):
    img, face = face_of("astronaut")
    bare = dataclasses.replace(face, pose=None, landmarks_z=None)
    a, b = assess_quality(img, face), assess_quality(img, bare)
    assert a.problems == b.problems
    assert abs(a.measures["pitch_deg"] - b.measures["pitch_deg"]) < 6


def test_problem_codes_are_the_contract():
    assert PROBLEM_CODES == ("no_face", "multiple_faces", "face_too_small", "bad_pose",
                             "blurry", "under_exposed", "over_exposed", "uneven_light",
                             "low_resolution")


def test_facial_landmarks_result(face_of):
    img, face = face_of("london_042")
    result = get("facial_landmarks").analyse(img, face)
    assert result.image_type == "restored" and (result.width, result.height) == (1024, 1024)
    (mask,) = result.masks
    assert mask.mask_type == "point_mask" and len(mask.features) == 478
    assert [f.properties["index"] for f in mask.features] == list(range(478))
    pts = np.array([[f.geometry.x, f.geometry.y] for f in mask.features])
    np.testing.assert_allclose(pts, face.landmarks_restored)
    ipd = {m.tech_name: m.value for m in result.sub_metrics}["interpupillary_distance"]
    assert 55 < ipd < 72
