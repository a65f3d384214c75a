"""Acne: small red spots standing out of the surrounding skin, as polygons.

Method (docs/algorithms.md#acne): local redness R = smooth(H) - background(H) of the
haemoglobin index H (:func:`algorithms.skin.chromophores.chromophore_indices`: shading and melanin
cancel, so brown spots and shadows are not red), with masked Gaussians at SMOOTH_MM and
BACKGROUND_MM over the skin zone. Spots are the components of R > A_LOW holding a pixel
> A_HIGH (both raised to LOW_SIGMAS / HIGH_SIGMAS robust noise sigmas of R when the photo is
noisier), AREA_MIN_MM2..AREA_MAX_MM2 in area, at least THICK_MIN_MM thick (so red lines
along creases are not spots) and SOLIDITY_MIN solid. Broad redness (a flush) is removed by
the background and left to the redness algorithm. Score from spots per cm2 weighted by
their redness (:func:`spot_weight`): 100 * exp(-sum(w) / zone_cm2 / DENSITY_REF).
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from algorithms.base import Algorithm, MetricSpec, register
from algorithms.skin.areas import SKIN_REGIONS
from algorithms.skin.filters import masked_blur
from algorithms.skin.geometry import bbox_slices
from algorithms.skin.scores import (density, exp_score, low_resolution_result, main_metric,
                                    numeric, spots_result)
from algorithms.skin.skin_image import SkinImage, prepare, require_face
from algorithms.skin.spots import local_difference, robust_sigma, spot_components

# Acne spares the periorbital skin: it is a disease of the sebaceous follicles, which are
# few on the lids and under the eyes, where thin skin over the orbicularis and its venous
# plexus reads as red in the haemoglobin index (docs/algorithms.md#acne).
PERIORBITAL = ("left_under_eye", "right_under_eye", "left_crows_feet", "right_crows_feet")
ZONE = tuple(r for r in SKIN_REGIONS if r not in PERIORBITAL)
AREAS = ("forehead", "nose", "left_cheek", "right_cheek", "chin")
SMOOTH_MM = 0.35
BACKGROUND_MM = 4.0
A_HIGH = 6.0          # haemoglobin index units above the local skin
A_LOW = 3.0
HIGH_SIGMAS = 3.5     # ... or this many noise sigmas (robust) if that is more: the blue and
LOW_SIGMAS = 1.75     # green channels of dark skin are noisy, and noise is not acne
SOLIDITY_MIN = 0.7    # area / convex hull area: papules are round, noise is ragged
MEAN_SIGMAS = 3.0     # a spot's mean excess must reach this many noise sigmas: the heavy
                      # tails of dark skin's noisy haemoglobin map seed ragged false spots
AREA_MIN_MM2 = 0.8
AREA_MAX_MM2 = 78.5   # radius 0.5-5 mm: papules and pustules (< 5 mm across) to nodules
THICK_MIN_MM = 0.8
EDGE_RATIO = 0.8      # a spot still this share of its peak redness where it meets the skin's
EDGE_MM = 0.5         # edge, with the skin beyond (this wide) as red, is the edge's colour
WEIGHT_FULL = 9.0     # mean excess at which a spot counts fully
DENSITY_REF = 0.042   # redness-weighted spots per cm2 at which the score is 36.8 (fit: docs)


@register
class Acne(Algorithm):
    tech_name = "acne"
    version = "1.4.0"
    mask_types = ("polygon_mask",)
    required_px_per_mm = 2.0  # the smallest papule (1 mm across) spans 2 px
    areas = AREAS
    description = (f"Small round spots of excess haemoglobin index (against a "
                   f"{BACKGROUND_MM:g} mm masked background), {AREA_MIN_MM2:g}-{AREA_MAX_MM2:g} "
                   "mm2; polygons with their redness.")
    metrics = (
        MetricSpec("acne_score", "bad_good_line", None,
                   f"100*exp(-redness-weighted spots per cm2 / {DENSITY_REF:g})"),
        MetricSpec("number_of_regions", "numeric"),
        MetricSpec("density_score", "density", "1/cm2", "spots per cm2"),
        MetricSpec("average_intensity_score", "numeric", "index",
                   "mean haemoglobin index excess of the spots"),
        MetricSpec("average_region_size", "numeric", "mm2"),
    )

    def analyse(self, image, face):
        face = require_face(face)
        if (low := low_resolution_result(type(self), face)) is not None:
            return low
        skin = prepare(face)
        zone = skin.finding_zone(ZONE, colour=True)
        spots = detect(skin, zone)
        area = np.array([s["area_mm2"] for s in spots])
        red = np.array([s["intensity"] for s in spots])
        cut = np.array([s["cut"] for s in spots])
        centres = np.array([s["centre"] for s in spots]).reshape(-1, 2)
        # The face's score is per cm2 of all its skin, the periorbital skin included: acne is
        # not looked for there because it spares it, which makes it clear skin, not absent.
        face_cm2 = skin.px2_to_cm2(skin.finding_zone(SKIN_REGIONS, colour=True).sum())

        def metrics(sel, region):
            cm2 = max(face_cm2 if region is zone else skin.px2_to_cm2(region.sum()), 1e-6)
            n = int(sel.sum())
            load = float((spot_weight(red[sel], cut[sel]) * size_weight(area[sel])).sum()) / cm2
            subs = [numeric("acne", "number_of_regions", n),
                    density("acne", "density_score", n / cm2),
                    numeric("acne", "average_intensity_score",
                            float(red[sel].mean()) if n else 0.0, "index"),
                    numeric("acne", "average_region_size",
                            float(area[sel].mean()) if n else 0.0, "mm2")]
            return main_metric("acne", "acne_score", exp_score(load, DENSITY_REF)), subs

        return spots_result(type(self), face, skin, spots, centres, zone, metrics, AREAS)


def spot_weight(redness: np.ndarray, cut: np.ndarray | float = A_LOW) -> np.ndarray:
    """How much a spot counts in the score, from its mean redness excess: 0 at the cut that
    admitted it (A_LOW, or MEAN_SIGMAS noise sigmas: a spot barely found, which a
    recompression may lose), 1 at WEIGHT_FULL - A_LOW above it, at most 2."""
    return np.clip((redness - cut) / (WEIGHT_FULL - A_LOW), 0.0, 2.0)


def size_weight(area_mm2: np.ndarray) -> np.ndarray:
    """0 at AREA_MIN_MM2 rising to 1 at twice it: a spot at the size limit, which resizing
    may drop, counts little."""
    return np.clip((area_mm2 - AREA_MIN_MM2) / AREA_MIN_MM2, 0.0, 1.0)


def detect(skin: SkinImage, zone: np.ndarray) -> list[dict]:
    red = local_difference(skin, skin.haemoglobin, zone, SMOOTH_MM, BACKGROUND_MM)
    sigma = robust_sigma(red[zone])
    low = max(A_LOW, LOW_SIGMAS * sigma)
    spots = spot_components(red, zone, skin, max(A_HIGH, HIGH_SIGMAS * sigma), low,
                            AREA_MIN_MM2, AREA_MAX_MM2, THICK_MIN_MM, min_solidity=SOLIDITY_MIN)
    cut = MEAN_SIGMAS * sigma
    centred = skin.colour_core
    spots = [dict(s, cut=max(cut, A_LOW)) for s in spots if s["intensity"] >= cut
             and centred[int(round(s["centre"][1])), int(round(s["centre"][0]))]]
    if not spots:
        return spots
    at_edge = edge_colour(skin, red, red > low, zone)
    return [s for s in spots if not at_edge(s["polygon"])]


def edge_colour(skin: SkinImage, red: np.ndarray, weak: np.ndarray, zone: np.ndarray):
    """``f(polygon) -> bool``: whether a spot is the red of something the skin mask leaves
    out, running on into the skin: its component of ``weak`` reaches the edge of the colour
    findings' skin (every region) at a pixel where it is still EDGE_RATIO of its peak
    redness and where what lies beyond the edge (EDGE_MM across) is at least as red against
    the spot's own background.

    The vermilion past the mouth's corners and below the lower lip, the nostril sills and
    the alar groove are red by nature and the mesh's margins cannot follow them on every
    face. A papule beside the edge keeps its peak inside and falls off towards it, and a
    papule beside a hole the mask leaves in the skin (a hair, a highlight) finds no red
    beyond it.
    """
    skin_zone = skin.finding_zone(SKIN_REGIONS, colour=True)
    weak = weak & zone
    beyond_zone = ~skin_zone
    rim = weak & cv2.dilate(beyond_zone.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    if not rim.any():
        return lambda poly: False
    n, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    ys, xs = bbox_slices(rim, int(3 * skin.px(BACKGROUND_MM)) + 2)
    hb = skin.haemoglobin[ys, xs]
    dev = hb.device
    beyond = masked_blur(hb, torch.from_numpy(beyond_zone[ys, xs].copy()).to(dev),
                         skin.px(EDGE_MM))
    background = masked_blur(hb, torch.from_numpy(zone[ys, xs].copy()).to(dev),
                             skin.px(BACKGROUND_MM))
    excess = np.zeros(zone.shape, np.float32)
    excess[ys, xs] = (beyond - background).cpu().numpy()
    peak = np.full(n, -np.inf)
    np.maximum.at(peak, labels[weak], red[weak])
    at_rim = np.full(n, -np.inf)
    np.maximum.at(at_rim, labels[rim], np.minimum(red[rim], excess[rim]))
    edge = at_rim >= EDGE_RATIO * peak
    edge[0] = False

    def is_edge(poly) -> bool:
        p = poly.representative_point()
        y = min(max(int(p.y), 0), labels.shape[0] - 1)
        x = min(max(int(p.x), 0), labels.shape[1] - 1)
        return bool(edge[labels[y, x]])

    return is_edge
