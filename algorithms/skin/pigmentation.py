"""Pigmentation: brown spots (freckles, lentigines, macules), excess melanin against the
surrounding skin, as polygons, 0.5-15 mm in equivalent diameter.

Method (docs/algorithms.md#pigmentation):
* darkness D = smooth(Y_od) - background(Y_od), Y_od = -100 log10(Y) the optical density of
  linear luminance, and melanin excess dM = smooth(M) - background(M) (M: the melanin index of
  :func:`algorithms.skin.chromophores.chromophore_indices`, blind to shading and haemoglobin);
* multi-scale: two backgrounds (BACKGROUNDS_MM, masked Gaussians over the zone, each robust:
  re-estimated without the pixels that stand out, :mod:`algorithms.skin.backgrounds`), each
  difference divided by its own robust noise sigma over the face (at least SIGMA_FLOOR);
  z = the larger;
* seeds: darkness z > Z_HIGH, or melanin z > MEL_Z_HIGH with darkness z > Z_LOW; extent:
  darkness z > Z_LOW where the pixel's colour moved towards melanin (dM >= PIXEL_RATIO * D);
* a spot: DIAMETER_MM in equivalent diameter, THICK_MIN_MM thick, ASPECT_MAX, SOLIDITY_MIN,
  mean dM >= MEL_MIN and MEL_RATIO[0] <= dM / D <= MEL_RATIO[1] (melanin alone ~1, shadow ~0);
  and not shade on a turning surface (:mod:`algorithms.skin.shading`: near a surface turned
  60 deg or more from the camera, by the landmark mesh, a darkening that grows with the turn
  and is not clearly melanin's colour); and, for a spot not clearly melanin's colour
  (dM / D < SHADE_RATIO) within BORDER_MM of the zone's border, darker by BORDER_Z noise
  sigmas than the pixels beyond the border too (:func:`is_fringe`: else it is the shade or
  penumbra of the eye, brow, nostril, lip or hair there);
* small spots by darkness alone (:func:`achromatic_spots`) are also solid (SMALL_SOLIDITY);
* zone: the skin mask's colour finding zone, plus compact dark patches that the mask took
  for hair although they are spot-sized and not lying along the outline or a brow
  (:func:`pigment_zone`).
The ten difference maps share their boxes, zone-mask blurs and first backgrounds
(:class:`RobustDifferences`); the same values as computing each alone.
Score: load = sum(w * area * min(depth L*, DEPTH_CAP) / 5) / zone area, w (:func:`spot_weight`)
0 for a spot that barely passes its path's tests and 1 for a clear one;
score = 100 exp(-(load - LOAD_FLOOR) / LOAD_REF), LOAD_FLOOR and LOAD_REF fitted on the 36
development portraits.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from shapely.ops import unary_union

from algorithms.base import Algorithm, MetricSpec, register
from algorithms.skin.areas import CM2, SKIN_REGIONS
from algorithms.skin.backgrounds import RobustDifferences
from algorithms.skin.chromophores import OD_TO_INDEX
from algorithms.skin.colour import log_luminance
from algorithms.skin.filters import masked_blur
from algorithms.skin.geometry import disc, rasterise
from algorithms.skin.scores import (density, exp_score, low_resolution_result, main_metric,
                                    numeric, spots_result)
from algorithms.skin.shading import SHADE_RATIO, is_shading
from algorithms.skin.skin_image import SkinImage, prepare, require_face
from algorithms.skin.spots import spot_components

ZONE = SKIN_REGIONS
AREAS = ("forehead", "nose", "left_cheek", "right_cheek", "chin", "left_eye_area",
         "right_eye_area")
SMOOTH_MM = 0.3            # smoothing of the darkness map (~1.2 px at 4 px/mm)
MEL_SMOOTH_MM = 0.8        # the melanin index is colour, which JPEG keeps at half resolution
BACKGROUNDS_MM = (2.5, 8.0)  # two background widths: small spots / spots up to 15 mm
Z_HIGH = 4.0               # seed: darkness, in robust noise sigmas of its own map
Z_LOW = 2.5                # extent
MEL_Z_HIGH = 6.0           # or seed: melanin excess in its noise sigmas, with darkness > Z_LOW
SIGMA_FLOOR = 1.5          # index units: the least noise sigma assumed (z = excess / sigma)
MEL_MIN = 2.0              # a spot's mean melanin excess (index units), whatever the noise
MEL_RATIO = (0.5, 2.5)     # a spot's melanin excess per unit of darkening (both at
                           # MEL_SMOOTH_MM): melanin alone gives ~1, a shadow ~0; a colour
                           # shift that hardly darkens is no spot either
PIXEL_RATIO = 0.3          # per pixel (noisier): melanin excess >= this x darkening
DIAMETER_MM = (0.5, 15.0)  # equivalent diameter of a pigmented macule (docs: sources)
THICK_MIN_MM = 0.4
ASPECT_MAX = 2.5
SOLIDITY_MIN = 0.6         # area / convex hull area, for spots >= SOLID_FROM_MM2
SOLID_FROM_MM2 = 2.0
BORDER_MM = 1.0            # a spot this near the zone's border (an eye, a nostril, a lip, a
BORDER_Z = Z_LOW           # brow, hair, a region's limit) is darker than the skin beyond
                           # by this many noise sigmas too, or it is that feature's fringe
NEAR_SHARE_MAX = 0.6        # a dark patch with more of its area this near the outline or a
                           # brow is hair (the skin mask's call stands)
PATCH_ASPECT_MAX = 2.5     # ... and so is one more elongated than this (strands, brow tails)
# JPEG keeps colour at half resolution in 8x8 blocks: a spot within one such block (16 px
# of the photo) loses most of its hue, so a small mole or freckle reads as grey darkening
# and fails the melanin test. Such spots count on darkness alone when they are clearly dark,
# at least SMALL_MIN_MM across (pores are up to 1 mm), round, not red (haemoglobin excess
# below HB_RATIO_MAX x the darkening: acne, vessels) and SMALL_EDGE_MM inside the zone
# (where lashes, brow hairs, nostril rims and the outline's shading end).
CHROMA_BLOCK_PX = 16.0
SMALL_Z = 5.0
SMALL_MIN_MM = 1.0
SMALL_ASPECT_MAX = 2.0
SMALL_EDGE_MM = 2.0
SMALL_SOLIDITY = 0.8       # and solid: found on darkness alone, a spot must look like a mole
                           # or freckle (a round macule); ragged dark clusters are stubble,
                           # fine folds under the eyes, pore texture
HB_RATIO_MAX = 0.5
FOLLOW_MM = 1.0            # smoothing of the darkness the shading test compares with the slope
DEPTH_CAP = 15.0           # L*: deeper spots (moles) weigh no more than this
WEIGHT_FULL = 3.0          # z above the one a spot's path needs at which it counts fully
RATIO_RAMP = 0.05          # dM / D above MEL_RATIO[0] at which a colour spot counts fully
LOAD_FLOOR = 0.0001      # about the population's 25th percentile: below, a clear face (100)
LOAD_REF = 0.012         # fitted: sd of the 36 scores 5.3 (docs)


@register
class Pigmentation(Algorithm):
    tech_name = "pigmentation"
    version = "1.4.0"
    mask_types = ("polygon_mask",)
    required_px_per_mm = 2.0  # the smallest freckle counted (1 mm across) spans 2 px
    areas = AREAS
    description = ("Brown spots: melanin excess over the skin around them (backgrounds "
                   f"{BACKGROUNDS_MM[0]:g} and {BACKGROUNDS_MM[1]:g} mm) that also darkens it; "
                   f"{DIAMETER_MM[0]:g}-{DIAMETER_MM[1]:g} mm across; polygons with depth in L*.")
    metrics = (
        MetricSpec("pigmentation_score", "bad_good_line", None,
                   f"100*exp(-(weighted, depth-weighted pigmented share - {LOAD_FLOOR:g})"
                   f" / {LOAD_REF:g})"),
        MetricSpec("number_of_regions", "numeric"),
        MetricSpec("density_score", "density", "1/cm2", "spots per cm2"),
        MetricSpec("average_intensity_score", "numeric", "L*",
                   "mean depth of the spots"),
        MetricSpec("average_region_size", "numeric", "mm2"),
        MetricSpec("region_size_std", "numeric", "mm2"),
        MetricSpec("pigmented_share", "numeric", "%"),
    )

    def analyse(self, image, face):
        face = require_face(face)
        if (low := low_resolution_result(type(self), face)) is not None:
            return low
        skin = prepare(face)
        zone = pigment_zone(skin)
        spots = detect(skin, zone)
        area = np.array([s["area_mm2"] for s in spots])
        depth = np.array([s["intensity"] for s in spots])
        weight = np.array([s["weight"] for s in spots])
        centres = np.array([s["centre"] for s in spots]).reshape(-1, 2)

        def metrics(sel, region):
            zone_mm2 = max(region.sum() / skin.px_per_mm ** 2, 1e-6)
            load = float((weight[sel] * area[sel] * np.minimum(depth[sel], DEPTH_CAP) / 5.0
                          ).sum()) / zone_mm2
            n = int(sel.sum())
            subs = [numeric("pigmentation", "number_of_regions", n),
                    density("pigmentation", "density_score", n / zone_mm2 * CM2),
                    numeric("pigmentation", "average_intensity_score",
                            float(depth[sel].mean()) if n else 0.0, "L*"),
                    numeric("pigmentation", "average_region_size",
                            float(area[sel].mean()) if n else 0.0, "mm2"),
                    numeric("pigmentation", "region_size_std",
                            float(area[sel].std()) if n else 0.0, "mm2"),
                    numeric("pigmentation", "pigmented_share",
                            100 * float(area[sel].sum()) / zone_mm2, "%")]
            return main_metric("pigmentation", "pigmentation_score",
                               exp_score(max(load - LOAD_FLOOR, 0.0), LOAD_REF)), subs

        return spots_result(type(self), face, skin, spots, centres, zone, metrics, AREAS)


def spot_weight(z, z_found: float = Z_HIGH, ratio: float | None = None):
    """How much a spot counts in the score, from how clearly it was found: its peak z from
    0 at ``z_found`` (the z its path needs: a spot barely found, which a recompression may
    lose) to 1 at WEIGHT_FULL above; times, for a spot found by colour, its melanin per
    unit of darkening from 0 at MEL_RATIO[0] to 1 RATIO_RAMP above (colour that barely
    passes for melanin flickers with resampling and exposure)."""
    w = np.clip((np.asarray(z, float) - z_found) / WEIGHT_FULL, 0.0, 1.0)
    if ratio is not None:
        w = w * np.clip((ratio - MEL_RATIO[0]) / RATIO_RAMP, 0.0, 1.0)
    return w


def luminance_density(skin: SkinImage) -> torch.Tensor:
    """Optical density of luminance, in index units: -100 log10(Y) of linear light."""
    return -OD_TO_INDEX * log_luminance(skin.linear)


def pigment_zone(skin: SkinImage, names=ZONE) -> np.ndarray:
    """The colour finding zone, plus the isolated dark patches that the skin mask took for
    hair only because they are larger than its HAIR_ISOLATED_MM2 (30 mm2): a lentigo or a
    cafe-au-lait macule is up to 15 mm across. A patch is given back when it touches neither
    the face outline nor a brow (the mask's own test), is no larger than a spot may be and is
    compact (solidity >= SOLIDITY_MIN); together with the skin border band it had cut."""
    zone = skin.finding_zone(names, colour=True)
    sm = skin.skin_mask
    if not sm.hair.any():
        return zone
    from algorithms.face import indices as ix
    from algorithms.skin import mask as M

    mm = skin.px_per_mm
    n, labels, stats, _ = cv2.connectedComponentsWithStats(sm.hair.astype(np.uint8), 8)
    amax = np.pi / 4 * DIAMETER_MM[1] ** 2
    area = stats[:, cv2.CC_STAT_AREA] / mm ** 2
    cand = np.flatnonzero(area <= amax)
    cand = cand[cand > 0]
    if cand.size == 0:
        return zone
    touch = disc(M.HAIR_TOUCH_MM * mm)
    edge = sm.anatomy & ~cv2.erode(sm.anatomy.astype(np.uint8), touch).astype(bool)
    brows = np.zeros(zone.shape, np.uint8)
    pts = skin.face.landmarks_restored
    for loop in (ix.RIGHT_BROW, ix.LEFT_BROW):
        cv2.fillPoly(brows, [np.round(pts[list(loop)]).astype(np.int32)], 1)
    near = edge | cv2.dilate(brows, touch).astype(bool)
    back = np.zeros(zone.shape, bool)
    for i in cand:
        x, y, w, h = (int(v) for v in stats[i, :4])
        crop = labels[y:y + h, x:x + w] == i
        if (crop & near[y:y + h, x:x + w]).sum() > NEAR_SHARE_MAX * crop.sum():
            continue  # hair reaching in from the outline or a brow
        cs, _ = cv2.findContours(crop.astype(np.uint8), cv2.RETR_EXTERNAL,
                                 cv2.CHAIN_APPROX_SIMPLE)
        pts_ = np.concatenate(cs)
        hull = cv2.contourArea(cv2.convexHull(pts_))
        (_, (rw, rh), _) = cv2.minAreaRect(pts_.astype(np.float32))
        if (hull > 0 and crop.sum() >= SOLIDITY_MIN * hull
                and max(rw, rh) <= PATCH_ASPECT_MAX * max(min(rw, rh), 1.0)):
            back[y:y + h, x:x + w] |= crop
    if not back.any():
        return zone
    grown = cv2.dilate(back.astype(np.uint8), disc((M.BORDER_BAND_MM + M.CLEAN_MM) * mm))
    inside = np.zeros(zone.shape, bool)
    for nm in names:
        g = skin.face.regions.get(nm)
        if g is not None:
            inside |= rasterise(g, zone.shape)
    return zone | (grown.astype(bool) & inside & sm.anatomy & sm.person & skin.measurable
                   & ~sm.highlights)


def detect(skin: SkinImage, zone: np.ndarray) -> list[dict]:
    """Brown spots: places darker than the skin around them whose darkening is melanin (see
    the module docstring)."""
    od = luminance_density(skin)
    maps = RobustDifferences(skin, zone)
    dark_z = np.zeros(skin.shape, np.float32)
    for b in BACKGROUNDS_MM:
        d, s = maps.get("od", od, SMOOTH_MM, b)
        np.maximum(dark_z, d / max(s, SIGMA_FLOOR), out=dark_z)
    mels = [maps.get("melanin", skin.melanin, MEL_SMOOTH_MM, b) for b in BACKGROUNDS_MM]
    mel = np.maximum.reduce([d for d, _ in mels])
    mel_z = np.maximum.reduce([d / max(s, SIGMA_FLOOR) for d, s in mels])
    dark = maps.largest("od", od, MEL_SMOOTH_MM, BACKGROUNDS_MM)
    # a pixel belongs to a spot only where its colour moved towards melanin: shading next
    # to a spot (nose sides, folds) does not join it
    pigment = mel >= PIXEL_RATIO * dark
    # seeds: clearly darker, or clearly browner and darker
    seed = (dark_z > Z_HIGH) | ((mel_z > MEL_Z_HIGH) & (dark_z > Z_LOW))
    contrast = np.where(seed, np.maximum(dark_z, Z_HIGH + 1e-3), np.minimum(dark_z, Z_HIGH))
    contrast = np.where(pigment, contrast, 0.0)
    amin = np.pi / 4 * DIAMETER_MM[0] ** 2
    amax = np.pi / 4 * DIAMETER_MM[1] ** 2
    spots = spot_components(contrast, zone, skin, Z_HIGH, Z_LOW, amin, amax, THICK_MIN_MM,
                            ASPECT_MAX)
    small = achromatic_spots(skin, zone, dark_z, dark, spots, maps)
    if not spots and not small:
        return []
    dark_l = maps.largest("-L*", -skin.lab[0], SMOOTH_MM, BACKGROUNDS_MM)
    follow = None  # the mesh's slope and a 1 mm density map, for the shading test
    out = []
    for s in spots:
        poly = s["polygon"]
        if s["area_mm2"] >= SOLID_FROM_MM2 and poly.area < SOLIDITY_MIN * poly.convex_hull.area:
            continue
        m = rasterise(poly, skin.shape)
        if not m.any():
            continue
        mm_ = float(mel[m].mean())
        ratio = mm_ / max(float(dark[m].mean()), 1e-6)
        if mm_ < MEL_MIN or not MEL_RATIO[0] <= ratio <= MEL_RATIO[1]:
            continue
        if ratio < SHADE_RATIO and follow is None:
            zt = torch.from_numpy(zone.copy()).to(od.device)
            follow = (np.linalg.norm(skin.surface_slope, axis=-1),
                      masked_blur(od, zt, skin.px(FOLLOW_MM)).cpu().numpy())
        if follow is not None and is_shading(m, ratio, *follow, zone, skin.px_per_mm):
            continue
        s["z"] = float(max(dark_z[m].max(), mel_z[m].max() * Z_HIGH / MEL_Z_HIGH))
        s["melanin"] = mm_
        s["ratio"] = ratio
        s["intensity"] = float(dark_l[m].mean())  # reported in L*
        s["weight"] = float(spot_weight(s["z"], Z_HIGH, ratio))
        out.append(s)
    for s in small:
        s["intensity"] = float(dark_l[rasterise(s["polygon"], skin.shape)].mean())
        s["weight"] = float(spot_weight(s["z"], SMALL_Z))
    sigma = max(maps.get("od", od, SMOOTH_MM, BACKGROUNDS_MM[0])[1], SIGMA_FLOOR)
    od_np = od.cpu().numpy()
    beyond = ~zone & ~skin.skin_mask.hair
    return [s for s in out + small
            if not (s.get("ratio", 0.0) < SHADE_RATIO and is_fringe(
                s["polygon"], od_np, zone, skin.px_per_mm, sigma, beyond))]


def is_fringe(poly, density: np.ndarray, zone: np.ndarray, px_per_mm: float,
              sigma: float, beyond: np.ndarray | None = None) -> bool:
    """Whether a spot at the zone's border is the fringe of what lies beyond it: the zone
    ends at eyes, brows, nostrils, lips, hair and the outline, whose shade and penumbra
    reach into the skin, and there a darkening measured against the skin on one side only
    is no spot unless it is darker than the pixels beyond the border too (within BORDER_MM,
    by BORDER_Z noise sigmas of the optical density ``density``). A mole beside such a
    feature passes; the shade of a nose side or a brow head, which is as dark beyond, does
    not. Spots farther than BORDER_MM from the border are not tested. ``beyond``: the pixels
    that count as beyond (default: outside the zone); detect leaves out the skin mask's hair
    flags, dark melanin-rich patches that may be the rest of the spot itself."""
    m = rasterise(poly, zone.shape)
    ys, xs = np.nonzero(m)
    if ys.size == 0:
        return False
    kernel = disc(BORDER_MM * px_per_mm)
    r = kernel.shape[0] // 2
    y0, y1 = max(ys.min() - r, 0), min(ys.max() + r + 1, zone.shape[0])
    x0, x1 = max(xs.min() - r, 0), min(xs.max() + r + 1, zone.shape[1])
    mc = m[y0:y1, x0:x1]
    ring = cv2.dilate(mc.astype(np.uint8), kernel).astype(bool) & ~mc
    if not (ring & ~zone[y0:y1, x0:x1]).any():
        return False
    out = ring & (~zone[y0:y1, x0:x1] if beyond is None else beyond[y0:y1, x0:x1])
    if not out.any():
        return False
    d = density[y0:y1, x0:x1]
    return float(d[mc].mean() - d[out].mean()) < BORDER_Z * sigma


def achromatic_spots(skin: SkinImage, zone: np.ndarray, dark_z: np.ndarray, dark: np.ndarray,
                     taken: list[dict], maps: RobustDifferences | None = None) -> list[dict]:
    """Spots smaller than a JPEG colour block, found by their darkness alone (see
    CHROMA_BLOCK_PX): none where the photo is sharp enough that a spot this small is under
    SMALL_MIN_MM, i.e. where colour resolves every spot the melanin test is asked about."""
    mm = skin.px_per_mm
    if CHROMA_BLOCK_PX <= SMALL_MIN_MM * mm:
        return []
    free = ~rasterise(unary_union([s["polygon"] for s in taken]).buffer(SMALL_EDGE_MM * mm),
                      skin.shape) if taken else np.ones(skin.shape, bool)
    inner = cv2.distanceTransform(zone.astype(np.uint8), cv2.DIST_L2, 3) >= SMALL_EDGE_MM * mm
    cands = spot_components(np.where(free, dark_z, 0.0), zone, skin, SMALL_Z, Z_LOW,
                            np.pi / 4 * SMALL_MIN_MM ** 2,
                            np.pi / 4 * (CHROMA_BLOCK_PX / mm) ** 2, THICK_MIN_MM,
                            SMALL_ASPECT_MAX, SMALL_SOLIDITY)
    if not cands:
        return []
    maps = maps or RobustDifferences(skin, zone)
    hb = maps.largest("haemoglobin", skin.haemoglobin, MEL_SMOOTH_MM,
                      BACKGROUNDS_MM)
    out = []
    for s in cands:
        cx, cy = (int(round(v)) for v in s["centre"])
        m = rasterise(s["polygon"], skin.shape)
        if not m.any() or not inner[cy, cx]:
            continue
        d = float(dark[m].mean())
        if d <= 0 or float(hb[m].mean()) > HB_RATIO_MAX * d:
            continue
        s["z"] = float(dark_z[m].max())
        out.append(s)
    return out
