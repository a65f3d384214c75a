"""Acne: small red spots standing out of the surrounding skin, as polygons.

Method (docs/algorithms.md#acne): local redness R = smooth(H) - background(H) of the
haemoglobin index H (:func:`algorithms.skin.common.chromophore_indices`: shading and melanin
cancel, so brown spots and shadows are not red), with masked Gaussians at SMOOTH_MM and BACKGROUND_MM over the skin zone. Spots are the components of
R > A_LOW holding a pixel > A_HIGH, AREA_MIN_MM2..AREA_MAX_MM2 in area and at least
THICK_MIN_MM thick (so red lines along creases are not spots). Broad redness (a flush) is
removed by the background and left to the redness algorithm. Score from spots per cm2
weighted by their redness: 100 * exp(-sum(min(intensity / 8, 2)) / zone_cm2 / DENSITY_REF).
"""
from __future__ import annotations

import numpy as np

from algorithms.registry import Algorithm, MetricSpec, register
from algorithms.skin import common as C
from algorithms.types import Feature, Mask

ZONE = C.SKIN_REGIONS
AREAS = ("forehead", "nose", "left_cheek", "right_cheek", "chin")
SMOOTH_MM = 0.35
BACKGROUND_MM = 4.0
A_HIGH = 6.0          # haemoglobin index units above the local skin
A_LOW = 3.0
AREA_MIN_MM2 = 0.8
AREA_MAX_MM2 = 60.0
THICK_MIN_MM = 0.8
DENSITY_REF = 1.0     # redness-weighted spots per cm2 at which the score is 36.8


@register
class Acne(Algorithm):
    tech_name = "acne"
    version = "1.0.0"
    mask_types = ("polygon_mask",)
    areas = AREAS
    description = ("Small spots of excess haemoglobin index (against a 4 mm masked "
                   "background), 0.8-60 mm2; polygons with their redness.")
    metrics = (
        MetricSpec("acne", "acne_score", "bad_good_line", None,
                   "100*exp(-redness-weighted spots per cm2 / 1.0)"),
        MetricSpec("acne", "number_of_regions", "numeric"),
        MetricSpec("acne", "density_score", "density", "1/cm2", "spots per cm2"),
        MetricSpec("acne", "average_intensity_score", "numeric", "index",
                   "mean haemoglobin index excess of the spots"),
        MetricSpec("acne", "average_region_size", "numeric", "mm2"),
    )

    def analyse(self, image, face):
        face = C.require_face(face)
        skin = C.prepare(face)
        zone = skin.mask(ZONE)
        spots = detect(skin, zone)
        area = np.array([s["area_mm2"] for s in spots])
        red = np.array([s["intensity"] for s in spots])
        centres = np.array([s["centre"] for s in spots]).reshape(-1, 2)

        def metrics(sel, zone_px):
            cm2 = max(skin.px2_to_cm2(zone_px), 1e-6)
            n = int(sel.sum())
            load = float(np.minimum(red[sel] / 8.0, 2.0).sum()) / cm2
            subs = [C.numeric("acne", "number_of_regions", n),
                    C.density("acne", "density_score", n / cm2),
                    C.numeric("acne", "average_intensity_score",
                              float(red[sel].mean()) if n else 0.0, "index"),
                    C.numeric("acne", "average_region_size",
                              float(area[sel].mean()) if n else 0.0, "mm2")]
            return C.main_metric("acne", "acne_score", C.exp_score(load, DENSITY_REF)), subs

        main, subs = metrics(np.ones(len(spots), bool), zone.sum())
        inside = C.features_by_area(centres, skin, AREAS)

        def per_area(a):
            px = skin.area_mask(a).sum()
            return metrics(inside[a], px) if px / skin.px_per_mm ** 2 >= 20 else None

        feats = tuple(Feature(s["polygon"], {"intensity": s["intensity"],
                                             "area_mm2": s["area_mm2"]}) for s in spots)
        return C.make_result(type(self), face, main, subs, C.area_results(AREAS, per_area),
                             (Mask("polygon_mask", "acne", feats),))


def detect(skin: C.SkinImage, zone: np.ndarray) -> list[dict]:
    red = C.local_difference(skin, skin.haemoglobin, zone, SMOOTH_MM, BACKGROUND_MM)
    return C.spot_components(red, zone, skin, A_HIGH, A_LOW, AREA_MIN_MM2, AREA_MAX_MM2,
                             THICK_MIN_MM)
