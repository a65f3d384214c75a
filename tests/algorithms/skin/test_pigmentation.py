"""Pigmentation against shade: a darkening on the nose's side walls that follows the
surface's turn is not a brown spot (docs/algorithms.md#pigmentation, "Shade on turning
surfaces"); real spots nearby still are, and a spot's weight in the score starts at 0 where it
barely passes its tests.

The portrait tests read london_102 and london_029 from ../shared/photos (not committed) and
skip without them: before the shading test london_102's nose-side shade beside the inner eye
corner was a 92 mm2 spot (score 70, the development population's minimum) and london_029's a
22 mm2 streak, both on the nasofacial groove.
"""
from __future__ import annotations

import numpy as np
import pytest

from algorithms.skin import backgrounds as B
from algorithms.skin import pigmentation as P
from algorithms.skin.surface import FORESHORTENED_SLOPE
from algorithms.skin.shading import FOLLOW_CORR, SHADE_RATIO, is_shading
from tests.conftest import population_photo

# the nasofacial groove, from beside the inner eye corner down to the ala (mesh chains)
GROOVES = ((193, 245, 128, 47, 126, 209, 129), (417, 465, 357, 277, 355, 429, 358))
PX_PER_MM = 4.0


def _surface(steep: bool):
    """A 60 x 60 px face patch whose right half turns away (slope 0.3 -> 2.5 or flat 0.3)."""
    xx = np.tile(np.arange(60, dtype=np.float32), (60, 1))
    slope = 0.3 + (2.2 * np.clip((xx - 25) / 20, 0, 1) if steep else 0 * xx)
    spot = np.zeros((60, 60), bool)
    spot[22:38, 28:44] = True
    return slope.astype(np.float32), spot, np.ones((60, 60), bool)


def test_shade_that_grows_with_the_turn_is_shading():
    slope, spot, zone = _surface(steep=True)
    shade = 10.0 * slope                       # darker where the surface turns further
    assert is_shading(spot, 0.6, slope, shade, zone, PX_PER_MM)
    # clearly melanin's colour: a spot, whatever the surface
    assert not is_shading(spot, SHADE_RATIO + 0.05, slope, shade, zone, PX_PER_MM)


def test_a_spot_on_a_turning_surface_is_not_shading():
    """A round dark spot sits on the steep half; its darkness does not follow the slope."""
    slope, spot, zone = _surface(steep=True)
    yy, xx = np.mgrid[:60, :60]
    blob = 12.0 * np.exp(-((xx - 36) ** 2 + (yy - 30) ** 2) / (2 * 4.0 ** 2))
    dens = blob + 0.5 * np.cos(yy / 3.0)
    c = np.corrcoef(dens[zone], slope[zone])[0, 1]
    assert c < FOLLOW_CORR
    assert not is_shading(spot, 0.6, slope, dens, zone, PX_PER_MM)


def test_a_flat_surface_has_no_shading():
    slope, spot, zone = _surface(steep=False)
    assert slope.max() < FORESHORTENED_SLOPE
    assert not is_shading(spot, 0.6, slope, 10.0 * slope + np.random.default_rng(0).random(
        slope.shape), zone, PX_PER_MM)


def test_a_spot_counts_from_zero_where_its_tests_are_barely_passed():
    assert P.spot_weight(P.Z_HIGH, P.Z_HIGH, 0.9) == 0.0
    assert P.spot_weight(P.SMALL_Z, P.SMALL_Z) == 0.0
    assert P.spot_weight(P.Z_HIGH + P.WEIGHT_FULL, P.Z_HIGH, P.MEL_RATIO[0]) == 0.0
    assert P.spot_weight(P.Z_HIGH + P.WEIGHT_FULL, P.Z_HIGH,
                         P.MEL_RATIO[0] + P.RATIO_RAMP) == pytest.approx(1.0)


def _analyse(stem):
    from algorithms.pipeline import PhotoAnalysis

    ph = PhotoAnalysis(population_photo(stem))
    return ph.face, ph.result("pigmentation")


@pytest.mark.parametrize("stem", ["london_102", "london_029"])
def test_nose_side_shade_is_no_spot(face_models, stem):
    from shapely.geometry import LineString

    face, r = _analyse(stem)
    mm = face.px_per_mm
    grooves = [LineString(face.landmarks[list(c)]).buffer(2 * mm) for c in GROOVES]
    on_groove = [round(f.geometry.area / mm ** 2, 1) for mk in r.masks for f in mk.features
                 if any(f.geometry.intersects(g) for g in grooves)]
    assert not on_groove, on_groove
    assert r.main_metric.value > 90 if stem == "london_102" else True


def test_a_mole_beside_the_nose_stays(face_models):
    """london_029's cheek mole (2.5 cm from its shaded nose side) is still a spot."""
    from shapely.geometry import Point

    face, r = _analyse("london_029")
    mole = Point(554, 715).buffer(3 * face.px_per_mm)
    assert any(f.geometry.intersects(mole) for mk in r.masks for f in mk.features)


# --- the zone's border: a darkening there must be darker than the skin beyond it too ------

def _border_patch(beyond: float, spot: float):
    """A 60 x 60 px patch whose zone ends at column 30 (an eye, a nostril, a brow beyond):
    density ``beyond`` there, 0 on the skin, and a 6 x 8 px darkening ``spot`` against the
    border (columns 30-35, rows 26-33)."""
    from shapely.geometry import box

    dens = np.zeros((60, 60), np.float32)
    dens[:, :30] = beyond
    dens[26:34, 30:36] = spot
    zone = np.zeros((60, 60), bool)
    zone[:, 30:] = True
    return box(30.5, 26.5, 35.5, 33.5), dens, zone


def test_a_darkening_against_a_darker_feature_is_its_fringe():
    poly, dens, zone = _border_patch(beyond=12.0, spot=8.0)     # shade of the eye/brow
    assert P.is_fringe(poly, dens, zone, PX_PER_MM, sigma=2.0)
    poly, dens, zone = _border_patch(beyond=8.0, spot=8.0)      # as dark beyond: shade
    assert P.is_fringe(poly, dens, zone, PX_PER_MM, sigma=2.0)


def test_a_mole_at_the_border_stays():
    sigma = 2.0
    poly, dens, zone = _border_patch(beyond=0.0, spot=P.BORDER_Z * sigma + 1.0)
    assert not P.is_fringe(poly, dens, zone, PX_PER_MM, sigma)
    # away from the border nothing is asked
    from shapely.affinity import translate

    far = translate(poly, xoff=20)
    dens2 = dens.copy()
    dens2[26:34, 50:56] = 1.0
    assert not P.is_fringe(far, dens2, zone, PX_PER_MM, sigma)


def _detect(stem):
    from algorithms.face import analyse_face
    from algorithms.skin.skin_image import prepare

    face = analyse_face(population_photo(stem))   # a SkinImage needs its face alive
    skin = prepare(face)
    return skin, P.detect(skin, P.pigment_zone(skin))


def _near(spots, xy, mm, skin):
    from shapely.geometry import Point

    p = Point(*xy).buffer(mm * skin.px_per_mm)
    return [round(s["area_mm2"], 1) for s in spots if s["polygon"].intersects(p)]


# restored-image positions (px) of shade that used to be taken for spots, at the zone's border:
# london_134's brow head beside the nose (a 20 mm2 spot, the population's lowest score, where
# the mesh is flat so the shading test cannot see it), london_030's and london_026's inner eye
# corner / nose bridge shade.
BORDER_SHADE = (("london_134", (543, 302)), ("london_030", (303, 403)),
                ("london_026", (544, 343)))


@pytest.mark.parametrize("stem,xy", BORDER_SHADE)
def test_shade_at_the_zone_border_is_no_spot(face_models, stem, xy):
    skin, spots = _detect(stem)
    assert not _near(spots, xy, 2.0, skin)


def test_a_mole_beside_the_eye_at_the_border_stays(face_models):
    """london_024's small mole under the eye touches the zone's border; the skin beyond is
    lighter than the mole, so it is no fringe."""
    skin, spots = _detect("london_024")
    assert _near(spots, (623, 682), 1.0, skin)


def test_stubble_clusters_are_no_spots(face_models):
    """london_125's stubble beside the mouth made two ragged 4-7 mm2 dark clusters (found on
    darkness alone); a spot found that way must be a round macule (SMALL_SOLIDITY)."""
    skin, spots = _detect("london_125")
    assert not _near(spots, (470, 576), 1.0, skin) and not _near(spots, (446, 582), 1.0, skin)


# --- shared backgrounds: the same maps as one robust_difference per channel ---------------

def _reference_difference(skin, channel, zone, smooth_mm, background_mm):
    """The former per-call robust difference (before the maps shared their blurs)."""
    import torch

    from algorithms.skin.filters import masked_blur
    from algorithms.skin.geometry import bbox_slices

    def sigma(v):
        return max(float(1.4826 * np.median(np.abs(v - np.median(v)))), 1e-3)

    out = np.zeros(skin.shape, np.float32)
    ys, xs = bbox_slices(zone, int(3 * skin.px(background_mm)) + 2)
    ch, zn = channel[ys, xs], zone[ys, xs]
    zt = torch.from_numpy(zn.copy())
    fine = masked_blur(ch, zt, skin.px(smooth_mm))
    coarse = masked_blur(ch, zt, skin.px(background_mm))
    for _ in range(B.ROBUST_ROUNDS):
        d = fine - coarse
        s = sigma(d.numpy()[zn])
        coarse = masked_blur(ch, zt & (d <= B.EXCLUDE_SIGMAS * s), skin.px(background_mm))
    d = (fine - coarse).numpy()
    out[ys, xs] = d
    return out, sigma(d[zn])


def test_shared_background_maps_are_the_same_maps():
    import types

    import torch

    rng = np.random.default_rng(3)
    h, w = 200, 180
    yy, xx = np.mgrid[:h, :w]
    zone = ((yy - 100) ** 2 / 80 ** 2 + (xx - 90) ** 2 / 70 ** 2) < 1
    skin = types.SimpleNamespace(shape=(h, w), px_per_mm=4.0, px=lambda mm: 4.0 * mm,
                                 linear=torch.zeros(1))
    chans = {n: torch.from_numpy((rng.normal(0, 1, (h, w)) + 5 * np.exp(
        -((yy - 90 - 10 * i) ** 2 + (xx - 80) ** 2) / 18.0)).astype(np.float32))
        for i, n in enumerate(("od", "melanin"))}
    maps = B.RobustDifferences(skin, zone)
    for smooth in (P.SMOOTH_MM, P.MEL_SMOOTH_MM):
        for b in P.BACKGROUNDS_MM:
            for n, ch in chans.items():
                d, s = maps.get(n, ch, smooth, b)
                d0, s0 = _reference_difference(skin, ch, zone, smooth, b)
                assert s == s0
                np.testing.assert_array_equal(d, d0)
