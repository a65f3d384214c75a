"""Scores hold still when only the photo changes: resize 0.75x and 2x, JPEG quality 90,
brightness +-10 %, rotation by 5 degrees, a colour cast or light from one side move no main
score by more than 5 points.

Runs the whole pipeline (face models, then each algorithm) on three of the studio portraits
(light, medium and dark skin); benchmarks/invariance.py gives the table for all photos.
"""
from __future__ import annotations

import pytest

from benchmarks import invariance as inv

pytestmark = pytest.mark.slow
MAX_DRIFT = 5.0


@pytest.mark.parametrize("name", ["london_107", "london_021", "london_042"])
def test_main_scores_drift_at_most_five_points(name, face_models):
    from tests.conftest import load_portrait

    base, drifts = inv.drifts(load_portrait(name))
    worst = max(((d, t, a) for t, row in drifts.items() for a, d in row.items()))
    print(f"{name}: worst drift {worst[0]:.2f} ({worst[2]}, {worst[1]})")
    for t, row in drifts.items():
        print(f"  {t:12s} " + " ".join(f"{a}={d:.1f}" for a, d in row.items()))
    assert worst[0] <= MAX_DRIFT, worst


@pytest.mark.parametrize("name", ["london_024", "london_042"])
def test_main_scores_hold_under_a_colour_cast_and_light_from_one_side(name, face_models):
    """A warm or cool cast and a 3:1 light ramp across the face (benchmarks/invariance.py
    LIGHTING): the skin colour model is each face's own, so the scores barely move (at most
    1.9 points on these two when written)."""
    from tests.conftest import load_portrait

    base, drifts = inv.drifts(load_portrait(name), transforms=inv.LIGHTING)
    worst = max(((d, t, a) for t, row in drifts.items() for a, d in row.items()))
    print(f"{name}: worst drift {worst[0]:.2f} ({worst[2]}, {worst[1]})")
    assert worst[0] <= MAX_DRIFT, worst
