"""The pure photo pipeline: one face, results in both spaces, a stored face reloads exactly."""
from __future__ import annotations

import json

import numpy as np
import pytest

from algorithms.face.serialise import face_from_dict, face_to_dict
from algorithms.pipeline import MaskError, PhotoAnalysis


@pytest.fixture(scope="module")
def photo(astronaut):
    return PhotoAnalysis(astronaut)


def test_a_stored_face_reloads_to_the_same_geometry_and_results(photo):
    face = photo.face
    stored = json.loads(json.dumps(face_to_dict(face)))  # what the database keeps
    again = face_from_dict(stored, face.restored.image)
    assert np.abs(again.landmarks - face.landmarks).max() < 1e-3
    assert again.pose == pytest.approx(face.pose, abs=1e-6)
    assert again.landmarks_z is not None
    assert set(again.regions) == set(face.regions)
    for name in face.regions:
        assert again.regions[name].symmetric_difference(face.regions[name]).area < 1.0
    reloaded = PhotoAnalysis(photo.image, face=again)
    for name in ("quality", "facial_landmarks"):
        assert reloaded.result(name).to_dict() == photo.result(name).to_dict()


def test_results_in_both_spaces(photo):
    original = photo.result("facial_landmarks", image_type="original")
    restored = photo.result("facial_landmarks", image_type="restored")
    assert (original.width, original.height) == (512, 512)
    assert (restored.width, restored.height) == photo.face.restored.size
    assert len(original.masks[0].features) == len(restored.masks[0].features) == 478


def test_prefetch_in_threads_equals_one_by_one(astronaut, photo):
    names = ["quality", "facial_landmarks", "pores", "redness"]
    threaded = PhotoAnalysis(astronaut, face=photo.face)
    threaded.prefetch(names, threads=4)
    for name in names:
        assert threaded.result(name).to_dict() == photo.result(name).to_dict(), name


def test_no_face_and_unknown_names():
    from skimage import data

    mug = PhotoAnalysis(data.coffee())
    assert mug.face is None
    assert "no_face" in mug.result("quality").feedback["problems"]
    with pytest.raises(MaskError, match="no face"):
        mug.result("pores")
    with pytest.raises(MaskError, match="no restored image"):  # NoFace
        mug.picture("restored")
    with pytest.raises(MaskError, match="not supported"):
        mug.result("age")
