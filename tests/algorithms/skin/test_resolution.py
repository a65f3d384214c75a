"""Each skin algorithm states the px/mm it needs; below it the result says
``low_resolution``, draws nothing and scores null instead of a number from noise."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from algorithms import registry
from algorithms.pipeline import PhotoAnalysis

NEEDS = {"acne": 2.0, "eye_area_condition": 2.0, "lines": 2.0, "pigmentation": 2.0,
         "redness": 1.0, "uniformness": 2.0, "pores": 6.0}


@pytest.fixture(scope="module")
def far(face_of):
    """london_107 (3.5 px/mm) shrunk to ~1.5 px/mm: a face photographed from twice as far
    with the same camera, about 120 px between the eyes."""
    img, face = face_of("london_107")
    k = 1.5 / face.px_per_mm
    small = Image.fromarray(img).resize((round(img.shape[1] * k), round(img.shape[0] * k)),
                                        Image.LANCZOS)
    return PhotoAnalysis(np.asarray(small))


def test_every_skin_algorithm_states_what_it_needs():
    for name, need in NEEDS.items():
        assert registry.get(name).required_px_per_mm == need, name


@pytest.mark.parametrize("name", sorted(n for n, v in NEEDS.items() if v > 1.5))
def test_below_it_the_score_is_null_and_nothing_is_drawn(far, name):
    result = far.result(name)
    assert far.face.px_per_mm == pytest.approx(1.5, abs=0.1)
    assert result.main_metric.value is None
    assert "low_resolution" in result.feedback["problems"]
    measures = result.feedback["measures"]
    assert measures["needed_px_per_mm"] == NEEDS[name]
    assert measures["actual_px_per_mm"] == pytest.approx(far.face.px_per_mm, abs=1e-3)
    assert not any(mask.features for mask in result.masks)
    assert all(a.main_metric.value is None for a in result.area_results)
    if name != "pores":  # pores also reports what it searched (radius 0 found, min radius)
        assert all(m.value is None for m in result.sub_metrics)
    assert {m.mask_type for m in result.masks} == set(registry.get(name).mask_types)


def test_redness_needs_less_and_still_answers(far):
    result = far.result("redness")
    assert isinstance(result.main_metric.value, float)
    assert "low_resolution" not in result.feedback.get("problems", [])


def test_at_the_portraits_own_size_they_answer(face_of):
    img, face = face_of("london_107")
    photo = PhotoAnalysis(img, face=face)
    for name in ("acne", "lines", "pigmentation", "uniformness", "eye_area_condition"):
        result = photo.result(name)
        assert isinstance(result.main_metric.value, float), name
        assert "low_resolution" not in result.feedback.get("problems", []), name
