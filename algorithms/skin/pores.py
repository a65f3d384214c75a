"""Pores: dark blobs found by a scale-normalised difference-of-Gaussians on L*.

Method (docs/algorithms.md#pores): in the pore zone (forehead, nose, cheeks, chin) the L*
channel is blurred at a geometric series of scales; each pair of neighbouring scales gives a
difference of Gaussians DoG_i = (G(s_{i+1}) - G(s_i)) / (k - 1), which approximates the
scale-normalised Laplacian s^2 * lap(G * L) and so answers a dark disk of radius r = s * sqrt(2)
with a value proportional to its contrast whatever its size. Local maxima over (scale, y, x)
whose response exceeds ``CONTRAST_MIN`` (calibrated in L* units of a disk's depth) and whose
Hessian there is round (l2 / l1 >= ROUNDNESS_MIN, not a stretch of a fold or a hair) are
pores; radius = sqrt(2) * s of the best scale. The score counts pores per cm2, each weighted by how
clearly it clears the threshold, so a pore on the edge of detection weighs little and the
score does not jump when resolution or compression nudge it across.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from shapely.geometry import Point

from algorithms.registry import Algorithm, MetricSpec, register
from algorithms.skin import common as C
from algorithms.types import Feature, Mask

ZONE = ("forehead", "glabella", "nose", "left_cheek", "right_cheek", "chin")
AREAS = ("forehead", "nose", "left_cheek", "right_cheek", "chin")

R_MIN_MM = 0.50       # smallest pore radius looked for (resolved from ~2.4 px/mm up)
R_MAX_MM = 4.00       # largest (beyond: a mole or a spot, see pigmentation)
SCALE_STEP = 1.26     # ratio of neighbouring blur scales (3 per octave)
# Response of the normalised DoG to a dark disk of depth d is ~ DOG_GAIN * d (measured on
# drawn disks over the whole radius range); a pore is a blob at least CONTRAST_MIN deep.
DOG_GAIN = 0.60
CONTRAST_MIN = 5.0    # L* units of depth
CONTRAST_FULL = 10.0  # depth at which a pore counts fully in the score
NESTED_DEPTH_RATIO = 0.6  # a larger blob this deep absorbs the small ones inside it
ROUNDNESS_MIN = 0.35  # Hessian l2/l1 at the blob: below it the "blob" is a stretch of line
DENSITY_REF = 2.0     # weighted pores per cm2 at which the score is 36.8 (= 100/e)


@register
class Pores(Algorithm):
    tech_name = "pores"
    version = "1.0.0"
    mask_types = ("point_mask",)
    areas = AREAS
    description = (f"Dark round blobs {R_MIN_MM:g}-{R_MAX_MM:g} mm in radius found by "
                   "scale-normalised DoG on L*; score from the clarity-weighted number of "
                   "pores per cm2.")
    metrics = (
        MetricSpec("pores", "pores_score", "bad_good_line", None,
                   f"100*exp(-clarity-weighted pores per cm2 / {DENSITY_REF:g})"),
        MetricSpec("pores", "pores_number", "numeric", None, "pores found in the pore zone"),
        MetricSpec("pores", "pores_density", "density", "1/cm2", "pores per cm2 of the zone"),
        MetricSpec("pores", "pores_mean_radius", "numeric", "mm", "mean pore radius"),
        MetricSpec("pores", "pores_mean_contrast", "numeric", "L*", "mean pore depth in L*"),
    )

    def analyse(self, image, face):
        face = C.require_face(face)
        skin = C.prepare(face)
        zone = skin.finding_zone(ZONE)
        pts, radii, depth = detect(skin, zone)
        weight = np.clip((depth - CONTRAST_MIN) / (CONTRAST_FULL - CONTRAST_MIN), 0.0, 1.0)
        weight = 0.25 + 0.75 * weight  # every pore counts at least a quarter

        def summary(sel, area_px):
            cm2 = max(skin.px2_to_cm2(area_px), 1e-6)
            n = int(sel.sum())
            dens = n / cm2
            score = C.exp_score(float(weight[sel].sum()) / cm2, DENSITY_REF)
            subs = [C.numeric("pores", "pores_number", n),
                    C.density("pores", "pores_density", dens)]
            return score, subs

        everywhere = np.ones(len(pts), bool)
        score, subs = summary(everywhere, zone.sum())
        subs += [C.numeric("pores", "pores_mean_radius",
                           float(radii.mean() / skin.px_per_mm) if len(pts) else 0.0, "mm"),
                 C.numeric("pores", "pores_mean_contrast",
                           float(depth.mean()) if len(pts) else 0.0, "L*")]
        inside = C.features_by_area(pts, skin, AREAS)

        def per_area(a):
            px = skin.area_mask(a).sum()
            if not skin.area_visible(a):
                return None
            s, sub = summary(inside[a], px)
            return C.main_metric("pores", "pores_score", s), sub

        features = tuple(Feature(Point(float(x), float(y)),
                                 {"radius": float(r), "intensity": float(d)})
                         for (x, y), r, d in zip(pts, radii, depth))
        return C.make_result(
            type(self), face, C.main_metric("pores", "pores_score", score), subs,
            C.area_results(AREAS, per_area), (Mask("point_mask", "pores", features),))


def scales_px(px_per_mm: float) -> list[float]:
    """Blur scales (px): from r_min/sqrt2 to r_max/sqrt2 by SCALE_STEP, plus one above."""
    s0 = R_MIN_MM * px_per_mm / math.sqrt(2)
    n = int(math.ceil(math.log(R_MAX_MM / R_MIN_MM) / math.log(SCALE_STEP))) + 2
    return [s0 * SCALE_STEP ** i for i in range(n)]


def detect(skin: C.SkinImage, zone: np.ndarray):
    """Pores inside ``zone``: ``(points (N,2) x,y px, radii px, depth L*)``."""
    empty = (np.zeros((0, 2)), np.zeros(0), np.zeros(0))
    if not zone.any():
        return empty
    sig = scales_px(skin.px_per_mm)
    ys, xs = C.bbox_slices(zone, int(3 * sig[-1]) + 2)
    L = skin.lab[0, ys, xs]
    # Fill outside the zone with the local skin mean so eyes, brows and hair next to the
    # zone do not make rings of false blobs at its edge.
    zt = torch.from_numpy(zone[ys, xs].copy()).to(L.device)
    bg = C.masked_blur(L, zt, sig[-1] * 2)
    L = torch.where(zt, L, bg)
    blurred = [C.blur(L, s) for s in sig]
    k = SCALE_STEP
    dog = torch.stack([(blurred[i + 1] - blurred[i]) / (k - 1)
                       for i in range(len(sig) - 1)])          # (S, h, w), dark blob > 0
    thr = CONTRAST_MIN * DOG_GAIN
    cand = (dog > thr) & zt[None]
    cand[0] = False   # the smallest and largest scales only bracket the extrema
    cand[-1] = False
    idx, vals = C.local_maxima_3d(dog, cand)
    if len(idx) == 0:
        return empty
    s_idx, yy, xx = idx[:, 0], idx[:, 1], idx[:, 2]
    round_ = _roundness(blurred, sig, s_idx, yy, xx) >= ROUNDNESS_MIN
    s_idx, yy, xx, vals = s_idx[round_], yy[round_], xx[round_], vals[round_]
    # scale of DoG_i is the geometric mean of its two blurs
    s_mid = np.array([math.sqrt(sig[i] * sig[i + 1]) for i in range(len(sig) - 1)])
    radii = s_mid[s_idx] * math.sqrt(2)
    pts = C.index_to_xy(yy + ys.start, xx + xs.start)
    depth = vals / DOG_GAIN
    keep = _suppress_overlaps(pts, radii, depth)
    return pts[keep], radii[keep], depth[keep]


def _roundness(blurred, sig, s_idx, yy, xx) -> np.ndarray:
    """l2 / l1 of the Hessian at each detection's own scale: 1 for a round blob, ~0 along a
    line or fold (where DoG also peaks; SIFT's edge test, Lowe 2004)."""
    out = np.zeros(len(s_idx))
    for i in np.unique(s_idx):
        sel = np.flatnonzero(s_idx == i)
        g = blurred[i + 1]
        h = max(1, int(round(sig[i + 1] / 2)))
        H, W = g.shape
        y = torch.from_numpy(yy[sel]).to(g.device)
        x = torch.from_numpy(xx[sel]).to(g.device)

        def at(dy, dx):
            return g[(y + dy).clamp(0, H - 1), (x + dx).clamp(0, W - 1)]

        c = at(0, 0)
        dxx = at(0, h) - 2 * c + at(0, -h)
        dyy = at(h, 0) - 2 * c + at(-h, 0)
        dxy = (at(h, h) - at(h, -h) - at(-h, h) + at(-h, -h)) / 4
        half, disc = (dxx + dyy) / 2, torch.sqrt(((dxx - dyy) / 2) ** 2 + dxy ** 2)
        l1, l2 = half + disc, half - disc
        out[sel] = (l2 / l1.clamp_min(1e-6)).cpu().numpy()
    return out


def _suppress_overlaps(pts, radii, depth):
    """One detection per blob. First a blob inside the radius of a larger one that is at
    least NESTED_DEPTH_RATIO as deep is absorbed by it (a big dark dot also answers at small
    scales along its rim); then of blobs closer than the larger radius the deepest stays."""
    if len(pts) == 0:
        return np.zeros(0, int)
    from scipy.spatial import cKDTree

    tree = cKDTree(pts)
    rmax = float(radii.max())
    alive = np.ones(len(pts), bool)
    for j in range(len(pts)):
        for i in tree.query_ball_point(pts[j], rmax):
            if radii[i] > radii[j] and math.dist(pts[i], pts[j]) < radii[i] \
                    and depth[i] >= NESTED_DEPTH_RATIO * depth[j]:
                alive[j] = False
                break
    for i in np.argsort(-depth):
        if not alive[i]:
            continue
        for j in tree.query_ball_point(pts[i], rmax):
            if j != i and alive[j] and math.dist(pts[i], pts[j]) < max(radii[i], radii[j]):
                alive[j] = False
    return np.flatnonzero(alive)
