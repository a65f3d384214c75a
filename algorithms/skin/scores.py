"""Scores and results: the documented monotone map from a raw measure to 0-100, metric
constructors, per-area aggregation and the :class:`~algorithms.types.AnalysisResult` of an
algorithm.

Examples
--------
>>> exp_score(0.0, 2.0), round(exp_score(2.0, 2.0), 1)
(100.0, 36.8)
>>> main_metric("acne", "acne_score", 120.0).value
100.0
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from algorithms.face.types import FaceGeometry
from algorithms.skin.skin_image import SkinImage, features_by_area
from algorithms.types import AnalysisResult, AreaResult, Feature, Mask, Metric

__all__ = ["exp_score", "main_metric", "numeric", "density", "area_results", "make_result",
           "scored_by_area", "spots_result", "LOW_RESOLUTION", "low_resolution_result"]

LOW_RESOLUTION = "low_resolution"


def exp_score(x: float, x0: float) -> float:
    """``100 * exp(-x / x0)``: 100 for a flawless measure ``x = 0``, 36.8 at ``x = x0``.

    Monotone, never negative, and its slope shrinks as the measure grows, so one more
    feature costs more on clear skin than on skin that already has many.
    """
    return float(100.0 * math.exp(-max(float(x), 0.0) / float(x0)))


def main_metric(algorithm: str, tech_name: str, value: float) -> Metric:
    return Metric(algorithm=algorithm, tech_name=tech_name,
                  value=float(np.clip(value, 0.0, 100.0)), widget_type="bad_good_line")


def numeric(algorithm: str, tech_name: str, value: float, unit: str | None = None) -> Metric:
    return Metric(algorithm=algorithm, tech_name=tech_name, value=float(value),
                  widget_type="numeric", unit=unit)


def density(algorithm: str, tech_name: str, value: float, unit: str = "1/cm2") -> Metric:
    return Metric(algorithm=algorithm, tech_name=tech_name, value=float(value),
                  widget_type="density", unit=unit)


def area_results(names: Iterable[str], per_area) -> tuple[AreaResult, ...]:
    """``per_area(name) -> (main Metric, sub Metrics) | None`` for each area present."""
    out = []
    for name in names:
        r = per_area(name)
        if r is not None:
            out.append(AreaResult(name, r[0], tuple(r[1])))
    return tuple(out)


def make_result(cls, face: FaceGeometry, main: Metric | None, subs: Sequence[Metric] = (),
                areas: Sequence[AreaResult] = (), masks: Sequence[Mask] = (),
                feedback: Mapping | None = None) -> AnalysisResult:
    w, h = face.restored.size
    return AnalysisResult(algorithm_tech_name=cls.tech_name, version=cls.version,
                          image_type="restored", width=w, height=h, main_metric=main,
                          sub_metrics=tuple(subs), area_results=tuple(areas),
                          masks=tuple(masks), feedback=dict(feedback or {}))


def low_resolution_result(cls, face: FaceGeometry) -> AnalysisResult | None:
    """The result of ``cls`` on a face with fewer px/mm than its ``required_px_per_mm``, or
    None when the face has enough: every metric null (a number from pixels that cannot show
    the feature would be noise), every mask empty, and the feedback problem
    ``low_resolution`` with the needed and the actual px/mm.

    The restored face is always ~4 px/mm, so the check is on the photo's own px/mm: a face
    upsampled to 4 px/mm has no more detail than the photo gave it."""
    need = cls.required_px_per_mm
    actual = float(face.px_per_mm)
    if need is None or actual >= need - 1e-6:
        return None
    metrics = [Metric(algorithm=cls.tech_name, tech_name=m.tech_name, value=None,
                      widget_type=m.widget_type, unit=m.unit) for m in cls.metrics]
    masks = tuple(Mask(t, cls.tech_name, ()) for t in cls.mask_types)
    main, subs = (metrics[0], metrics[1:]) if metrics else (None, [])
    areas = tuple(AreaResult(a, main, tuple(subs)) for a in cls.areas)
    return make_result(cls, face, main, subs, areas, masks,
                       feedback={"problems": [LOW_RESOLUTION],
                                 "measures": {"needed_px_per_mm": float(need),
                                              "actual_px_per_mm": round(actual, 3)}})


def scored_by_area(skin: SkinImage, centres: np.ndarray, zone: np.ndarray,
                   metrics: Callable, areas: Sequence[str]
                   ) -> tuple[Metric | None, list[Metric], tuple[AreaResult, ...]]:
    """Whole-face and per-area metrics of an algorithm that finds features (spots, lines,
    pores): ``(main Metric, sub Metrics, area results)``.

    Parameters
    ----------
    skin : SkinImage
        The prepared face.
    centres : (N, 2) array
        x, y of each feature (restored pixels); a feature belongs to the area its centre
        lies in.
    zone : (H, W) bool array
        Where the features were looked for.
    metrics : callable
        ``metrics(selected, region) -> (main Metric, sub Metrics)`` scores the ``selected``
        features (bool array over the N) found in ``region`` (bool mask): once for the whole
        ``zone`` with every feature, then for each visible area (see
        :meth:`SkinImage.area_visible`) with the features inside it and its mask.
    areas : sequence of str
        The reported areas, in order.
    """
    main, subs = metrics(np.ones(len(centres), bool), zone)
    inside = features_by_area(centres, skin, areas)

    def per_area(a):
        return metrics(inside[a], skin.area_mask(a)) if skin.area_visible(a) else None

    return main, list(subs), area_results(areas, per_area)


def spots_result(cls, face: FaceGeometry, skin: SkinImage, spots: Sequence[Mapping],
                 centres: np.ndarray, zone: np.ndarray, metrics: Callable,
                 areas: Sequence[str]) -> AnalysisResult:
    """The result of a spot detector (acne, pigmentation): whole-face and per-area metrics
    (:func:`scored_by_area`) and the spots' polygons as one ``polygon_mask`` named after
    the algorithm."""
    main, subs, area_res = scored_by_area(skin, centres, zone, metrics, areas)
    feats = tuple(Feature(s["polygon"], {"intensity": s["intensity"],
                                         "area_mm2": s["area_mm2"]}) for s in spots)
    return make_result(cls, face, main, subs, area_res,
                       (Mask("polygon_mask", cls.tech_name, feats),))
