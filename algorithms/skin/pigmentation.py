"""Pigmentation: brown spots, excess melanin against the surrounding skin, as polygons.

Method (docs/algorithms.md#pigmentation):
* darkness D = smooth(Y_od) - background(Y_od), Y_od = -100 log10(Y) the optical density of
  linear luminance (a spot of given melanin reads the same on light and dark skin);
* melanin excess dM = smooth(M) - background(M), M the melanin index of
  :func:`algorithms.skin.common.chromophore_indices` (shading and haemoglobin cancel);
* smooth / background are masked Gaussians (SMOOTH_MM or MEL_SMOOTH_MM; BACKGROUND_MM) over
  the skin zone only, the background robust: re-estimated ROBUST_ROUNDS times without the
  pixels more than EXCLUDE_ABOVE above the previous estimate, so hair and neighbouring
  spots do not lift it;
* a pixel is pigment when its melanin excess explains its darkness (dM >= MEL_RATIO * D; a
  shadow darkens with dM ~ 0);
* spots are the components of pigment D > DEPTH_LOW holding a pixel > DEPTH_HIGH,
  AREA_MIN_MM2..AREA_MAX_MM2 in area, at least THICK_MIN_MM thick, at most ASPECT_MAX times
  longer than wide (pores, lines, hair strands, folds are not spots), SOLIDITY_MIN solid,
  whose mean melanin excess clears MEL_MIN and MEL_SIGMAS robust noise sigmas (dark skin
  gives a noisy blue channel). Depth is reported in L* below the surroundings.
Score from the pigmented share of the skin weighted by depth (L*) and by how clearly each
spot was found (:func:`spot_weight`): 100 * exp(-sum(w * area * min(depth, DEPTH_CAP) / 5)
/ zone_area / LOAD_REF).
"""
from __future__ import annotations

import numpy as np
import torch

from algorithms.registry import Algorithm, MetricSpec, register
from algorithms.skin import common as C

ZONE = C.SKIN_REGIONS
AREAS = ("forehead", "nose", "left_cheek", "right_cheek", "chin", "left_eye_area",
         "right_eye_area")
SMOOTH_MM = 0.35
BACKGROUND_MM = 6.0
MEL_SMOOTH_MM = 0.8   # the melanin index is noisier (blue channel): smoothed more
DEPTH_HIGH = 8.0      # luminance density (index units) above the surroundings (seed)
DEPTH_LOW = 5.0       # (extent)
EXCLUDE_ABOVE = 5.0   # pixels this far above the first background estimate are left out of
                      # the next estimate (robust background: hair and other spots do not
ROBUST_ROUNDS = 3     # lift it), re-estimated this many times
MEL_RATIO = 0.6       # melanin excess per unit of darkness for a pixel to be pigment
                      # (melanin alone gives ~1.0, a shadow ~0)
ASPECT_MAX = 3.5
SOLIDITY_MIN = 0.7    # area / convex hull area: spots are compact, shading is ragged
MEL_MIN = 3.0         # a spot's mean melanin excess must reach this (index units) ...
MEL_SIGMAS = 1.5      # ... and this many robust noise sigmas of the melanin excess map
AREA_MIN_MM2 = 3.0
AREA_MAX_MM2 = 100.0
THICK_MIN_MM = 1.2
DEPTH_CAP = 15.0      # L*: deeper spots (moles, hair) weigh no more than this
WEIGHT_FULL = 12.0    # mean darkness (index units) at which a spot counts fully
LOAD_REF = 0.10       # depth-weighted pigmented share of the skin at which the score is 36.8


@register
class Pigmentation(Algorithm):
    tech_name = "pigmentation"
    version = "1.0.0"
    mask_types = ("polygon_mask",)
    areas = AREAS
    description = (f"Spots darker than the skin around them ({BACKGROUND_MM:g} mm masked "
                   "background) whose darkening is melanin, not shadow; "
                   f">= {AREA_MIN_MM2:g} mm2; polygons with depth in L*.")
    metrics = (
        MetricSpec("pigmentation", "pigmentation_score", "bad_good_line", None,
                   f"100*exp(-weighted, depth-weighted pigmented share / {LOAD_REF:g})"),
        MetricSpec("pigmentation", "number_of_regions", "numeric"),
        MetricSpec("pigmentation", "density_score", "density", "1/cm2", "spots per cm2"),
        MetricSpec("pigmentation", "average_intensity_score", "numeric", "L*",
                   "mean depth of the spots"),
        MetricSpec("pigmentation", "average_region_size", "numeric", "mm2"),
        MetricSpec("pigmentation", "region_size_std", "numeric", "mm2"),
        MetricSpec("pigmentation", "pigmented_share", "numeric", "%"),
    )

    def analyse(self, image, face):
        face = C.require_face(face)
        skin = C.prepare(face)
        zone = skin.finding_zone(ZONE, colour=True)
        spots = detect(skin, zone)
        area = np.array([s["area_mm2"] for s in spots])
        depth = np.array([s["intensity"] for s in spots])
        weight = spot_weight(np.array([s["density"] for s in spots]))
        centres = np.array([s["centre"] for s in spots]).reshape(-1, 2)

        def metrics(sel, zone_px):
            zone_mm2 = max(zone_px / skin.px_per_mm ** 2, 1e-6)
            load = float((weight[sel] * area[sel] * np.minimum(depth[sel], DEPTH_CAP) / 5.0
                          ).sum()) / zone_mm2
            n = int(sel.sum())
            subs = [C.numeric("pigmentation", "number_of_regions", n),
                    C.density("pigmentation", "density_score", n / zone_mm2 * C.CM2),
                    C.numeric("pigmentation", "average_intensity_score",
                              float(depth[sel].mean()) if n else 0.0, "L*"),
                    C.numeric("pigmentation", "average_region_size",
                              float(area[sel].mean()) if n else 0.0, "mm2"),
                    C.numeric("pigmentation", "region_size_std",
                              float(area[sel].std()) if n else 0.0, "mm2"),
                    C.numeric("pigmentation", "pigmented_share",
                              100 * float(area[sel].sum()) / zone_mm2, "%")]
            return C.main_metric("pigmentation", "pigmentation_score",
                                 C.exp_score(load, LOAD_REF)), subs

        return C.spots_result(type(self), face, skin, spots, centres, zone, metrics, AREAS)


def spot_weight(density: np.ndarray) -> np.ndarray:
    """How much a spot counts in the score, from its mean darkness (luminance density): 0 at
    DEPTH_LOW (a spot barely found, which a recompression may lose), 1 from WEIGHT_FULL."""
    return np.clip((density - DEPTH_LOW) / (WEIGHT_FULL - DEPTH_LOW), 0.0, 1.0)


def luminance_density(skin: C.SkinImage) -> torch.Tensor:
    """Optical density of luminance, in index units: -100 log10(Y) of linear light."""
    lin = skin.linear
    y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return -C.OD_TO_INDEX * torch.log(y.clamp_min(1e-4))


def detect(skin: C.SkinImage, zone: np.ndarray) -> list[dict]:
    """Dark spots whose darkening is melanin, not shadow (see the module docstring)."""
    dark = C.local_difference(skin, luminance_density(skin), zone, SMOOTH_MM, BACKGROUND_MM,
                              exclude_above=EXCLUDE_ABOVE, rounds=ROBUST_ROUNDS)
    mel = C.local_difference(skin, skin.melanin, zone, MEL_SMOOTH_MM, BACKGROUND_MM,
                             exclude_above=EXCLUDE_ABOVE, rounds=ROBUST_ROUNDS)
    pigment = np.where(mel >= MEL_RATIO * dark, dark, 0.0)
    spots = C.spot_components(pigment, zone, skin, DEPTH_HIGH, DEPTH_LOW, AREA_MIN_MM2,
                              AREA_MAX_MM2, THICK_MIN_MM, ASPECT_MAX, SOLIDITY_MIN)
    if not spots:
        return spots
    mel_min = max(MEL_MIN, MEL_SIGMAS * C.robust_sigma(mel[zone]))
    dark_l = C.local_difference(skin, -skin.lab[0], zone, SMOOTH_MM, BACKGROUND_MM,
                                 exclude_above=EXCLUDE_ABOVE, rounds=ROBUST_ROUNDS)
    out = []
    for s in spots:
        m = C.rasterise(s["polygon"], skin.shape)
        if not m.any() or float(mel[m].mean()) < mel_min:
            continue
        s["density"] = s["intensity"]
        s["melanin"] = float(mel[m].mean())
        s["intensity"] = float(dark_l[m].mean())  # reported in L*
        out.append(s)
    return out
