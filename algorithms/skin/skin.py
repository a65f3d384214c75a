"""``skin``: the face's skin mask, the pixels every skin finding may use, as a polygon mask.

Method in :mod:`algorithms.skin.mask` and docs/algorithms.md#skin: the mesh's face oval
without eyes, brows, lips and nostrils (margins in mm), without background and clothes
(selfie segmentation) and without hair, beard and stubble (a per-face skin colour model).
Sub-metrics say how much skin was usable and what was taken out; no main score (the mask
is a means, not a judgement of the skin).
"""
from __future__ import annotations

from algorithms.base import Algorithm, MetricSpec, register
from algorithms.skin.areas import AREA_REGIONS
from algorithms.skin.geometry import polygons_from_mask
from algorithms.skin.scores import area_results, make_result, numeric
from algorithms.skin.skin_image import prepare, require_face
from algorithms.types import Feature, Mask

__all__ = ["Skin"]

AREAS = tuple(AREA_REGIONS)


@register
class Skin(Algorithm):
    tech_name = "skin"
    version = "1.4.0"
    mask_types = ("polygon_mask",)
    areas = AREAS
    description = ("The skin mask every finding is confined to: face oval minus eyes, brows, "
                   "lips, nostrils (mm margins), background (selfie segmentation), hair, "
                   "beard and stubble (per-face skin colour model).")
    metrics = (
        MetricSpec("skin_area", "numeric", "cm2", "usable skin in the face"),
        MetricSpec("skin_fraction", "numeric", None,
                   "usable skin / face oval without eyes, brows, lips and nostrils"),
        MetricSpec("hair_fraction", "numeric", None,
                   "hair, beard or stubble / face oval without eyes, brows, lips, nostrils"),
        MetricSpec("highlight_fraction", "numeric", None,
                   "specular highlights (kept for texture, not for colour) / skin"),
    )

    def analyse(self, image, face):
        face = require_face(face)
        skin = prepare(face)
        sm = skin.skin_mask
        anatomy_px = max(int(sm.anatomy.sum()), 1)
        skin_px = max(int(sm.mask.sum()), 1)
        subs = [numeric("skin", "skin_area", skin.px2_to_cm2(sm.mask.sum()), "cm2"),
                numeric("skin", "skin_fraction", float(sm.mask.sum() / anatomy_px)),
                numeric("skin", "hair_fraction", float(sm.hair.sum() / anatomy_px)),
                numeric("skin", "highlight_fraction",
                        float((sm.highlights & sm.mask).sum() / skin_px))]

        def per_area(a):
            m = skin.area_mask(a)
            return None, [numeric("skin", "skin_area", skin.px2_to_cm2(m.sum()), "cm2")]

        polys = polygons_from_mask(sm.mask, min_area_px=skin.px(1.0) ** 2, simplify_px=1.0)
        feats = tuple(Feature(p, {"area_mm2": float(p.area / skin.px_per_mm ** 2)})
                      for p in polys)
        return make_result(type(self), face, None, subs, area_results(AREAS, per_area),
                           (Mask("polygon_mask", "skin", feats),))
