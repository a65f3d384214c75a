"""Redness: haemoglobin index above the face's own baseline, as a nested heatmap.

Method (docs/algorithms.md#redness): per pixel the haemoglobin index H of
:func:`algorithms.skin.chromophores.chromophore_indices` (optical density projected so that
shading, exposure and melanin cancel; in erythema-index units, 100 log10), smoothed at
SMOOTH_MM over the skin. The baseline is a low percentile of H over the face's skin (most of
a face is not inflamed), and the excess E = H - baseline is what the heatmap shows: level k
covers E >= LEVELS[k].
Score: the mean over the skin of max(0, E - LEVELS[0]) (extent x intensity in one number),
mapped by 100 * exp(-x / EXCESS_REF). Sub-metrics split it: redness_global_score from the
share of the skin that is red (extent), redness_local_score from how far above the first
level the red areas rise on average (intensity).
"""
from __future__ import annotations

import numpy as np
import torch

from algorithms.base import Algorithm, MetricSpec, register
from algorithms.skin.areas import SKIN_REGIONS
from algorithms.skin.filters import masked_blur
from algorithms.skin.geometry import heatmap_features
from algorithms.skin.scores import (area_results, exp_score, low_resolution_result,
                                    main_metric, make_result, numeric)
from algorithms.skin.skin_image import SkinImage, prepare, require_face
from algorithms.types import Mask

ZONE = SKIN_REGIONS
AREAS = ("forehead", "nose", "left_cheek", "right_cheek", "chin")

SMOOTH_MM = 2.0   # erythema, flushing and rosacea span centimetres; finer structure is acne,
                  # single vessels or noise (dark skin's haemoglobin map is 2x noisier at
                  # 1 mm: at 1 mm smoothing the five black faces read 4-9 points redder)
BASELINE_PERCENTILE = 30.0
LEVELS = (4.0, 6.0, 8.5, 11.0, 14.0)  # index units above baseline; level 0 outermost
MIN_AREA_MM2 = 4.0                     # red patches smaller than this are acne's business
EXCESS_REF = 1.5   # mean excess (index units) over the skin at which the score is 36.8
EXTENT_REF = 0.25  # red share of the skin at which redness_global_score is 36.8
INTENSITY_REF = 4.0  # mean EI above LEVELS[0] in red areas at which local score is 36.8


@register
class Redness(Algorithm):
    tech_name = "redness"
    version = "1.4.0"
    mask_types = ("heatmap_mask",)
    required_px_per_mm = 1.0  # the flush map is smoothed at 2 mm: 1 px/mm samples it
    areas = AREAS
    description = ("Haemoglobin index (optical density with shading and melanin cancelled) "
                   f"above the face's own {BASELINE_PERCENTILE:g}th-percentile baseline; "
                   "nested heatmap levels at " + ", ".join(f"+{v:g}" for v in LEVELS) + ".")
    metrics = (
        MetricSpec("redness_score", "bad_good_line", None,
                   f"100*exp(-mean excess over +{LEVELS[0]:g} across the skin / {EXCESS_REF:g})"),
        MetricSpec("redness_global_score", "bad_good_line", None,
                   f"extent: 100*exp(-red share of the skin / {EXTENT_REF:g})"),
        MetricSpec("redness_local_score", "bad_good_line", None,
                   f"intensity: 100*exp(-mean index above +{LEVELS[0]:g} in red areas "
                   f"/ {INTENSITY_REF:g})"),
        MetricSpec("red_area_share", "numeric", "%", "skin share at level >= 0"),
        MetricSpec("haemoglobin_index_median", "numeric", "index",
                   "median haemoglobin index of the skin (camera-dependent)"),
    )

    def analyse(self, image, face):
        face = require_face(face)
        if (low := low_resolution_result(type(self), face)) is not None:
            return low
        skin = prepare(face)
        zone = skin.mask(ZONE) & skin.skin_mask.colour
        excess, median = excess_map(skin, zone)
        feats = heatmap_features(excess, zone, LEVELS, skin.px(1) ** 2 * MIN_AREA_MM2)

        def measure(mask):
            vals = excess[mask]
            if vals.size == 0:
                return 100.0, 100.0, 100.0, 0.0
            over = np.maximum(vals - LEVELS[0], 0.0)
            red = vals >= LEVELS[0]
            share = float(red.mean())
            intensity = float(over[red].mean()) if red.any() else 0.0
            return (exp_score(float(over.mean()), EXCESS_REF),
                    exp_score(share, EXTENT_REF), exp_score(intensity, INTENSITY_REF),
                    share)

        def metrics(mask):
            main, glob, loc, share = measure(mask)
            return (main_metric("redness", "redness_score", main),
                    [main_metric("redness", "redness_global_score", glob),
                     main_metric("redness", "redness_local_score", loc),
                     numeric("redness", "red_area_share", 100 * share, "%")])

        main, subs = metrics(zone)
        subs.append(numeric("redness", "haemoglobin_index_median", median, "index"))

        def per_area(a):
            m = skin.area_mask(a)
            return metrics(m) if skin.area_visible(a) else None

        return make_result(type(self), face, main, subs, area_results(AREAS, per_area),
                           (Mask("heatmap_mask", "redness", tuple(feats)),))


def excess_map(skin: SkinImage, zone: np.ndarray) -> tuple[np.ndarray, float]:
    """``(H - baseline (H, W) numpy, median H)``; H smoothed inside the zone only."""
    ei = skin.haemoglobin
    zt = torch.from_numpy(zone.copy()).to(ei.device)
    ei = masked_blur(ei, zt, skin.px(SMOOTH_MM)).cpu().numpy()
    vals = ei[zone]
    if vals.size == 0:
        return np.zeros_like(ei), 0.0
    base = float(np.percentile(vals, BASELINE_PERCENTILE))
    return ei - base, float(np.median(vals))
