"""How much hair the skin mask keeps, against hand-drawn labels (benchmarks/skin_hair.py,
tests/data/skin_hair_labels.json; docs/benchmarks.md "Skin mask: hair against hand labels").

Bars sit just above what the benchmark measured, so a regression fails: the goal (< 1 % hair
in the mask) is met on the six committed portraits (london_042's thin moustache since the
upper lip is judged on its own, beard.has_moustache: 2.5 % before), and on the bearded
london_022 and 036 (read from ../shared/photos when it is there; 10.9 and 1.8 % before the
beard was grown from its confident part, up the cheeks' sides and over the lighter patches
it encloses) and on london_003's fringe, london_008 (2.25 % before its label's temple edges
were corrected in session 6: they lay 15-22 px inside clear skin, beyond the labels' 5 px)
and london_029's beard, and on london_125 (1.55 % with bits of its moustache beside the alae
until a stubbled face's whole upper lip left the mask; 0.87 % since: its sideburn's thin edge).
"""
from __future__ import annotations

import json

import pytest

from benchmarks.skin_hair import LABELS, measure

LAB = json.loads(LABELS.read_text())["photos"]
BARS = {"london_006": 0.01, "london_021": 0.01, "london_024": 0.01, "london_042": 0.01,
        "london_099": 0.01, "london_107": 0.01}
# ../shared/photos/london: bearded men, and london_003's fringe (8.9 % before the strand test);
# london_125's light stubble (11.1 % before beard.is_stubbled; 1.48 % until a stubbled face's
# whole upper lip, MOUSTACHE_REACH_MM past the mouth corners, went: 0.87 %);
# london_142's day of dark stubble (9.8 % before the unlit shafts of beard.is_stubbled)
SHARED = {"london_022": 0.01, "london_036": 0.01, "london_008": 0.01, "london_003": 0.01,
          "london_125": 0.01, "london_142": 0.01, "london_029": 0.01, "london_138": 0.01}
# Clear skin kept is >= 97 % everywhere but on london_138 (95.4 %): called stubbled, it kept
# 67 % while the stubble's beard took the whole beard zone, the clear lower cheeks labelled
# beside the mouth included; since beard.stubble_hair keeps only the dotted part beside the
# mouth, they stay (docs/algorithms.md#skin).
SKIN_KEPT = {"london_138": 0.93}


@pytest.mark.parametrize("name", sorted(BARS))
def test_hair_share_of_the_mask_on_the_portraits(face_of, name):
    image, face = face_of(name)
    r = measure(image, LAB[name], face)
    assert r["hair_share"] < BARS[name], r
    assert r["skin_kept"] > 0.97, r


@pytest.mark.parametrize("name", sorted(SHARED))
def test_beards_and_fringes_mostly_leave_the_mask(face_of, name):
    image, face = face_of(name)
    r = measure(image, LAB[name], face)
    assert r["hair_share"] < SHARED[name], r
    assert r["skin_kept"] > SKIN_KEPT.get(name, 0.97), r


@pytest.mark.parametrize("name", ["london_031", "london_063"])
def test_a_shaded_nose_side_stays_skin(face_of, name):
    """Side light darkens one side of the nose from the eye to the nostril; the patch touches
    both holes, so it passed as hair (75 % and 91 % of the nose kept); no hair grows there."""
    from algorithms.skin.geometry import rasterise
    from algorithms.skin.skin_image import prepare

    _, face = face_of(name)
    sm = prepare(face).skin_mask
    nose = rasterise(face.regions.get("nose"), sm.mask.shape) & sm.anatomy
    assert sm.mask[nose].mean() > 0.97
