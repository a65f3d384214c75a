"""Skin tone: the Individual Typology Angle (ITA) and its category.

Method (docs/algorithms.md#skin-tone): ITA = atan((L* - 50) / b*) * 180 / pi (Chardon et al.
1991) from the median L* and b* of the cheeks and forehead, after dropping the darkest and
brightest pixels (shadows, stubble, specular highlights: below the 20th and above the 90th
L* percentile). Categories (Del Bino et al. 2006): Very light > 55, Light 41-55,
Intermediate 28-41, Tan 10-28, Brown -30-10, Dark < -30 (degrees). No mask.
"""
from __future__ import annotations

import math

import numpy as np

from algorithms.base import Algorithm, MetricSpec, register
from algorithms.skin.areas import AREA_REGIONS
from algorithms.skin.geometry import bbox_slices
from algorithms.skin.scores import area_results, make_result, numeric
from algorithms.skin.skin_image import prepare, require_face
from algorithms.types import Metric

ZONE = ("forehead", "left_cheek", "right_cheek")
AREAS = ("forehead", "left_cheek", "right_cheek", "chin", "nose")
# (lower bound in degrees, label), checked in order
CATEGORIES = ((55.0, "Very light"), (41.0, "Light"), (28.0, "Intermediate"), (10.0, "Tan"),
              (-30.0, "Brown"))
LOW_PERCENTILE, HIGH_PERCENTILE = 20.0, 90.0


def category(ita: float) -> str:
    for lower, label in CATEGORIES:
        if ita > lower:
            return label
    return "Dark"


def ita_degrees(L: float, b: float) -> float:
    """ITA in degrees; atan2 keeps it defined when b* is 0 or negative."""
    return math.degrees(math.atan2(L - 50.0, b))


@register
class SkinTone(Algorithm):
    tech_name = "skin_tone"
    version = "1.4.0"
    mask_types = ()
    areas = AREAS
    description = ("Individual Typology Angle atan((L*-50)/b*) of the cheeks and forehead, "
                   "and its category (Very light ... Dark).")
    metrics = (
        MetricSpec("skin_tone", "category", None,
                   "Very light, Light, Intermediate, Tan, Brown or Dark"),
        MetricSpec("ita", "numeric", "deg", "Individual Typology Angle"),
        MetricSpec("lightness", "numeric", "L*"),
        MetricSpec("yellowness", "numeric", "b*"),
        MetricSpec("redness", "numeric", "a*"),
    )

    def analyse(self, image, face):
        face = require_face(face)
        skin = prepare(face)
        box = skin.mask(tuple({r for a in AREAS for r in AREA_REGIONS[a]}))
        ys, xs = bbox_slices(box, 0)
        lab = skin.lab[:, ys, xs].cpu().numpy()

        def metrics(mask):
            mask = mask[ys, xs]
            if mask.sum() < 50:
                return None
            L = lab[0][mask]
            lo, hi = np.percentile(L, (LOW_PERCENTILE, HIGH_PERCENTILE))
            keep = (L >= lo) & (L <= hi)
            Lm, am, bm = (float(np.median(lab[c][mask][keep])) for c in range(3))
            ita = ita_degrees(Lm, bm)
            main = Metric("skin_tone", "skin_tone", category(ita), "category")
            return main, [numeric("skin_tone", "ita", ita, "deg"),
                          numeric("skin_tone", "lightness", Lm, "L*"),
                          numeric("skin_tone", "yellowness", bm, "b*"),
                          numeric("skin_tone", "redness", am, "a*")]

        whole = metrics(skin.mask(ZONE))
        if whole is None:
            from algorithms.face.types import NoFaceError
            raise NoFaceError("no cheek or forehead skin to measure the skin tone on")
        return make_result(type(self), face, whole[0], whole[1],
                           area_results(AREAS, lambda a: metrics(skin.area_mask(a))))
