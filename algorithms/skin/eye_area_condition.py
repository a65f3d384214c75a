"""Eye area condition: dark circles, eye bags and tear-trough (lacrimal groove) shadows.

Method (docs/algorithms.md#eye-area-condition), per eye, on the under-eye region:
* dark circles: D = ref - smooth(L*, SMOOTH_MM), ref = median L* of the same side's cheek.
  Polygons where D >= DC_LEVEL; dark_circles_score = 100*exp(-mean(max(D - DC_FLOOR, 0))/DC_REF).
* eye bags: the shadow under a bulge is a horizontal valley of L*; its strength is the
  positive part of the vertical second derivative s^2 * d2L/dy2 at BAG_SCALE_MM, averaged over
  the under-eye region: eyes_bags_score = 100*exp(-mean / BAG_REF).
* lacrimal groove: the multi-orientation valley strength (Hessian l1) at GROOVE_SCALE_MM in
  the inner (nasal) half of the under-eye region: 100*exp(-mean / GROOVE_REF).
* wrinkles (crow's feet): mean valley strength at WRINKLE_SCALE_MM in the crow's-feet
  region, away from the anatomy bands of the lids and the outline.
Main score: 0.3 dark circles + 0.2 bags + 0.1 groove + 0.4 wrinkles.
"""
from __future__ import annotations

import numpy as np
import torch

from algorithms.base import Algorithm, MetricSpec, register
from algorithms.skin.filters import blur, hessian_eigenvalues
from algorithms.skin.geometry import bbox_slices, polygons_from_mask, rasterise
from algorithms.skin.scores import (area_results, exp_score, low_resolution_result,
                                    main_metric, make_result, numeric)
from algorithms.skin.skin_image import prepare, require_face
from algorithms.skin import line_zones as LZ
from algorithms.skin.lines import RIDGE_GAIN, valley_strength
from algorithms.types import Feature, Mask

SIDES = {"left_eye_area": ("left_under_eye", "left_cheek"),
         "right_eye_area": ("right_under_eye", "right_cheek")}
AREAS = tuple(SIDES)
SMOOTH_MM = 1.0
DC_LEVEL = 4.0        # L* below the cheek: drawn as dark circle
DC_FLOOR = 1.5        # L*: an under-eye this much darker than the cheek is still normal
DC_REF = 4.0          # mean excess darkness (L*) at which the sub-score is 36.8
MIN_AREA_MM2 = 4.0
BAG_SCALE_MM = 2.0
BAG_REF = 1.2
GROOVE_SCALE_MM = 1.0
GROOVE_REF = 1.0
# Fine lines of the crow's feet: mean valley strength (L* units of line depth) at
# WRINKLE_SCALE_MM in the crow's-feet region, away from the anatomy bands of the lids and
# the outline; score 100 exp(-(W - WRINKLE_FLOOR) / WRINKLE_REF), fitted on the 36
# development portraits (5th percentile -> 90, 95th -> ~40; benchmarks/population.py). Of the
# measures here it is the one that follows age there (Spearman rho +0.38), so it weighs most.
# (An L* roughness term followed age better, +0.47, but JPEG recompression moved it by 30
# points: it measured the codec as much as the skin.)
WRINKLE_SCALE_MM = 0.65
WRINKLE_FLOOR = 0.349
WRINKLE_REF = 0.60
WRINKLE_MIN_MM2 = 40.0  # less crow's-feet skin on a side: that side uses both sides' value
CROWS = {"left_eye_area": "left_crows_feet", "right_eye_area": "right_crows_feet"}
WEIGHTS = (0.3, 0.2, 0.1, 0.4)  # dark circles, bags, groove, wrinkles


@register
class EyeAreaCondition(Algorithm):
    tech_name = "eye_area_condition"
    version = "1.4.0"
    mask_types = ("polygon_mask",)
    # eye wrinkles use the lines' 0.65 mm valley filter: a crease ~1 mm wide spans 2 px
    required_px_per_mm = 2.0
    areas = AREAS
    description = ("Under-eye darkness against the cheek (dark circles, polygons), the "
                   "horizontal shadow valley of eye bags and the tear-trough valley.")
    metrics = (
        MetricSpec("eye_area_score", "bad_good_line", None,
                   "0.3 dark circles + 0.2 eye bags + 0.1 lacrimal groove + 0.4 wrinkles"),
        MetricSpec("dark_circles_score", "bad_good_line"),
        MetricSpec("eyes_bags_score", "bad_good_line"),
        MetricSpec("lacrimal_groove_score", "bad_good_line"),
        MetricSpec("eye_wrinkles_score", "bad_good_line", None,
                   "crow's feet: mean valley strength, calibrated"),
        MetricSpec("dark_circles_depth", "numeric", "L*",
                   "median under-eye L* below the cheek"),
    )

    def analyse(self, image, face):
        face = require_face(face)
        if (low := low_resolution_result(type(self), face)) is not None:
            return low
        skin = prepare(face)
        # filters on the box around both under-eyes and cheeks only (full-size maps, 0 outside)
        box = skin.mask(tuple(r for pair in SIDES.values() for r in pair)
                        + tuple(CROWS.values()))
        ys, xs = bbox_slices(box, int(3 * skin.px(BAG_SCALE_MM)) + 2)
        L = skin.lab[0, ys, xs]
        Ls, bag_v, groove_v = (np.zeros(skin.shape, np.float32) for _ in range(3))
        Ls[ys, xs] = blur(L, skin.px(SMOOTH_MM)).cpu().numpy()
        bag_v[ys, xs] = _vertical_valley(L, skin.px(BAG_SCALE_MM))
        l1, _ = hessian_eigenvalues(L, skin.px(GROOVE_SCALE_MM))
        groove_v[ys, xs] = l1.clamp_min(0).cpu().numpy()
        wr_v = np.zeros(skin.shape, np.float32)
        v, _ = valley_strength(L, [skin.px(WRINKLE_SCALE_MM)])
        wr_v[ys, xs] = (v / RIDGE_GAIN).cpu().numpy()
        bands = LZ.anatomy_bands(face.landmarks_restored, skin.px_per_mm, skin.shape)
        crows = {a: skin.finding_zone((c,)) & ~bands for a, c in CROWS.items()}
        both = crows["left_eye_area"] | crows["right_eye_area"]
        pooled = _wrinkles_score(wr_v, both, skin)
        nose = face.regions.get("nose")
        mid_x = nose.centroid.x if nose is not None else skin.shape[1] / 2

        sides, feats = {}, []
        for area, (under, cheek) in SIDES.items():
            um, cm = skin.mask((under,)), skin.mask((cheek,))
            if um.sum() / skin.px_per_mm ** 2 < 10 or cm.sum() < 50:
                continue
            ref = float(np.median(Ls[cm]))
            dark = ref - Ls
            excess = np.maximum(dark[um] - DC_FLOOR, 0.0)
            dc = exp_score(float(excess.mean()), DC_REF)
            bags = exp_score(float(bag_v[um].mean()), BAG_REF)
            cols = np.arange(skin.shape[1])[None, :]
            cx = float(np.nonzero(um)[1].mean())
            inner = um & ((cols > cx) if cx < mid_x else (cols < cx))
            groove = exp_score(float(groove_v[inner].mean()) if inner.any() else 0.0,
                               GROOVE_REF)
            wrinkles = _wrinkles_score(wr_v, crows[area], skin)
            wrinkles = pooled if wrinkles is None else wrinkles
            wrinkles = 100.0 if wrinkles is None else wrinkles
            main = float(np.dot(WEIGHTS, (dc, bags, groove, wrinkles)))
            depth = float(np.median(dark[um]))
            sides[area] = (main, dc, bags, groove, wrinkles, depth, um.sum())
            for poly in polygons_from_mask((dark >= DC_LEVEL) & um,
                                           skin.px(1) ** 2 * MIN_AREA_MM2, 0.75):
                m = rasterise(poly, skin.shape) & um
                feats.append(Feature(poly, {"intensity": float(dark[m].mean()) if m.any()
                                            else DC_LEVEL, "area": area}))
        if not sides:
            from algorithms.face.types import NoFaceError
            raise NoFaceError("no under-eye skin visible")

        def metrics(vals):
            main, dc, bags, groove, wrinkles, depth = vals
            return (main_metric("eye_area_condition", "eye_area_score", main),
                    [main_metric("eye_area_condition", "dark_circles_score", dc),
                     main_metric("eye_area_condition", "eyes_bags_score", bags),
                     main_metric("eye_area_condition", "lacrimal_groove_score", groove),
                     main_metric("eye_area_condition", "eye_wrinkles_score", wrinkles),
                     numeric("eye_area_condition", "dark_circles_depth", depth, "L*")])

        w = np.array([v[6] for v in sides.values()], float)
        mean = [float(np.average([v[i] for v in sides.values()], weights=w)) for i in range(6)]
        if pooled is not None:  # both crow's feet together: one narrow side is noisy
            mean[4] = pooled
            mean[0] = float(np.dot(WEIGHTS, mean[1:5]))
        main, subs = metrics(mean)
        areas = area_results(AREAS, lambda a: metrics(sides[a][:6]) if a in sides else None)
        return make_result(type(self), face, main, subs, areas,
                           (Mask("polygon_mask", "dark_circles", tuple(feats)),))


def _wrinkles_score(wr_v: np.ndarray, zone: np.ndarray, skin) -> float | None:
    """Crow's-feet wrinkle score over ``zone``, None below WRINKLE_MIN_MM2 of it."""
    if zone.sum() < skin.px(1) ** 2 * WRINKLE_MIN_MM2:
        return None
    return exp_score(float(wr_v[zone].mean()) - WRINKLE_FLOOR, WRINKLE_REF)


def _vertical_valley(L: torch.Tensor, sigma: float) -> np.ndarray:
    """Positive part of sigma^2 * d2(G*L)/dy2: horizontal dark valleys (shadow lines)."""
    g = blur(L, sigma)
    d2 = torch.zeros_like(g)
    d2[1:-1] = g[2:] - 2 * g[1:-1] + g[:-2]
    return (d2 * sigma ** 2).clamp_min(0).cpu().numpy()
