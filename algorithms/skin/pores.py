"""Pores: dark round blobs of 0.05-0.5 mm radius, found at the photo's own resolution.

Size (docs/algorithms.md#pores): a facial pore is the opening of a pilosebaceous follicle,
radius 0.05-0.5 mm; "visible" pores are 0.1-0.6 mm2 in area (radius 0.18-0.44 mm) and
"enlarged" ones 0.3-0.6 mm2 (Lee et al., Dermatol Surg 2016; 42: 277-285); clinical pore
counts start at 250 um (Flament et al., Clin Cosmet Investig Dermatol 2015; 8: 85-93). What
is larger is a spot (acne, pigmentation), not a pore.

Resolution: the restored face (~4 px/mm) cannot show them, so the search runs on a native
view (:mod:`algorithms.skin.native`): the pore zone cut from the original photo at its own
scale, at most 12 px/mm. A blob is only looked for at radii of at least MIN_RADIUS_PX
(1.5 px: a pore spanning 3 px; below, a dark pixel or JPEG noise looks the same).

Method: in the zone, L* is blurred at a geometric series of scales; each pair of
neighbouring scales gives a difference of Gaussians DoG = (G(s_hi) - G(s_lo)) / (k - 1),
which approximates the scale-normalised Laplacian and answers a dark disk of radius
r = s * sqrt(2) with a value proportional to its depth whatever its size. The detection
radii are fixed in millimetres (R_SCORE_MM * SCALE_STEP**j), so every photo measures on
the same physical levels; one level below and one above only bracket the extrema. Local
maxima over (scale, y, x) deeper than CONTRAST_MIN L* whose Hessian is round (not a stretch
of a fold or a hair) are pores.

Score and distance: the main score counts only pores of radius >= R_SCORE_MM (0.25 mm),
which any photo of at least ``required_px_per_mm`` = 1.5 px / 0.25 mm = 6 px/mm resolves.
So a close and a far photo of one person score alike as long as both reach 6 px/mm; finer
pores that only the close one resolves are drawn (they add to the picture) but not scored.
Below 6 px/mm the main score is null and ``feedback.problems`` holds ``low_resolution``
(with ``measures.needed_px_per_mm`` and ``actual_px_per_mm``); the picture then shows only
the pores the photo resolves (none when it resolves no pore radius at all).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from shapely.geometry import Point

from algorithms.base import Algorithm, MetricSpec, register
from algorithms.face.regions import feature_polygons
from algorithms.skin.filters import blur, local_maxima_3d, masked_blur
from algorithms.skin.geometry import bbox_slices, index_to_xy, rasterise
from algorithms.skin.scores import (LOW_RESOLUTION, exp_score, main_metric, make_result,
                                    scored_by_area)
from algorithms.skin.skin_image import prepare, require_face
from algorithms.skin.spots import robust_sigma
from algorithms.skin import native as N
from algorithms.types import Feature, Mask, Metric

ZONE = ("forehead", "glabella", "nose", "left_cheek", "right_cheek", "chin")
AREAS = ("forehead", "nose", "left_cheek", "right_cheek", "chin")

R_MIN_MM = 0.05       # physical range of a pore's radius (Lee et al. 2016)
R_MAX_MM = 0.50
R_SCORE_MM = 0.25     # pores this large or larger make the score (Flament et al. 2015: 250 um)
MIN_RADIUS_PX = 1.5   # smallest radius looked for, in pixels of the working resolution
REQUIRED_PX_PER_MM = MIN_RADIUS_PX / R_SCORE_MM   # 6 px/mm: the scored pores are resolved
SCALE_STEP = 2 ** (1 / 3)   # ratio of neighbouring detection radii (3 per octave)
# Response of the normalised DoG to a dark disk of depth d is ~ DOG_GAIN * d (measured on
# drawn disks over the radius range); a pore is a blob at least CONTRAST_MIN deep.
DOG_GAIN = 0.60
CONTRAST_MIN = 5.0    # depth in L* units at L* = 65 (see log_lightness)
# A pore must also clear NOISE_Z robust sigmas of the finest searched DoG level over the zone
# (skin texture, sensor and JPEG noise: 2-2.5x larger on the dark portraits than on light
# ones on the log scale); at 4 the dark faces scored 30 points under the light ones on noise.
NOISE_Z = 8.0
LOG_GAIN = 81.0       # = 65 + 16: log-lightness in L* units at L* = 65
CONTRAST_FULL = 10.0  # depth at which a pore counts fully in the score
NESTED_DEPTH_RATIO = 0.6  # a larger blob this deep absorbs the small ones inside it
ROUNDNESS_MIN = 0.35  # Hessian l2/l1 at the blob: below it the "blob" is a stretch of line
DENSITY_REF = 10.0    # weighted scored pores per cm2 at which the score is 36.8 (= 100/e)
# A brow's sparse outer hairs reach beyond the dense part the mesh traces; at pore
# resolution their follicles and cut shafts are dark dots. On the 36 portraits upscaled 3x,
# pores 4-6 mm from the mesh's brow were 1.7x as dense as farther out (5-8x on light faces
# with dark brows, e.g. london_121, 118, 063; not on the dark faces), so pores keep this
# far from the brows (the skin mask alone keeps BROW_MARGIN_MM + BORDER_BAND_MM = 4 mm).
BROW_FRINGE_MM = 6.0


def detection_radii_mm(px_per_mm: float) -> list[float]:
    """The radii (mm) searched at ``px_per_mm``: R_SCORE_MM * SCALE_STEP**j within
    [R_MIN_MM, R_MAX_MM] and >= MIN_RADIUS_PX; empty when the photo resolves none."""
    lo = max(R_MIN_MM, MIN_RADIUS_PX / float(px_per_mm))
    step = math.log(SCALE_STEP)
    j0 = math.ceil(math.log(lo / R_SCORE_MM) / step - 1e-9)
    j1 = math.floor(math.log(R_MAX_MM / R_SCORE_MM) / step + 1e-9)
    return [R_SCORE_MM * SCALE_STEP ** j for j in range(j0, j1 + 1)]


@register
class Pores(Algorithm):
    tech_name = "pores"
    version = "2.4.0"
    mask_types = ("point_mask",)
    areas = AREAS
    required_px_per_mm = REQUIRED_PX_PER_MM
    description = (f"Dark round blobs {R_MIN_MM:g}-{R_MAX_MM:g} mm in radius (those the photo "
                   f"resolves, at most {N.NATIVE_CAP_PX_PER_MM:g} px/mm) found by "
                   "scale-normalised DoG on L* at the photo's own resolution; score from the "
                   f"clarity-weighted number of pores >= {R_SCORE_MM:g} mm per cm2, null "
                   f"(low_resolution) below {REQUIRED_PX_PER_MM:g} px/mm.")
    metrics = (
        MetricSpec("pores_score", "bad_good_line", None,
                   f"100*exp(-clarity-weighted pores >= {R_SCORE_MM:g} mm per cm2 / "
                   f"{DENSITY_REF:g}); null below {REQUIRED_PX_PER_MM:g} px/mm"),
        MetricSpec("pores_number", "numeric", None,
                   f"pores of radius >= {R_SCORE_MM:g} mm in the pore zone"),
        MetricSpec("pores_density", "density", "1/cm2",
                   f"pores of radius >= {R_SCORE_MM:g} mm per cm2 of the zone"),
        MetricSpec("pores_drawn_number", "numeric", None,
                   "every pore drawn, finer ones included"),
        MetricSpec("pores_min_radius", "numeric", "mm",
                   "smallest pore radius this photo resolves (searched)"),
        MetricSpec("pores_mean_radius", "numeric", "mm", "mean radius of the drawn pores"),
        MetricSpec("pores_mean_contrast", "numeric", "L*", "mean depth of the drawn pores"),
    )

    def analyse(self, image, face):
        face = require_face(face)
        skin = prepare(face)
        zone = analysed_zone(skin)
        view = N.native_view(image, face, zone, key="pores")
        resolved = view.px_per_mm >= REQUIRED_PX_PER_MM - 1e-6
        radii_mm = detection_radii_mm(view.px_per_mm)
        pts, radii, depth = detect(view, radii_mm)          # restored px, mm, L*: drawn
        # The score: pores >= R_SCORE_MM found on the view at exactly REQUIRED_PX_PER_MM,
        # so a close and a far photo are scored on the same pixels per mm.
        spts, sradii, sdepth = np.zeros((0, 2)), np.zeros(0), np.zeros(0)
        if resolved:
            ref = N.native_view(image, face, zone, key="pores-score", cap=REQUIRED_PX_PER_MM)
            spts, sradii, sdepth = detect(ref, detection_radii_mm(ref.px_per_mm))
        weight = np.clip((sdepth - CONTRAST_MIN) / (CONTRAST_FULL - CONTRAST_MIN), 0.0, 1.0)
        weight = 0.25 + 0.75 * weight  # every pore counts at least a quarter
        scored = sradii >= R_SCORE_MM - 1e-9

        def metrics(sel, region):
            cm2 = max(skin.px2_to_cm2(region.sum()), 1e-6)
            if not resolved:
                return (Metric("pores", "pores_score", None, "bad_good_line"),
                        [_num("pores", "pores_number", None),
                         _num("pores", "pores_density", None, "1/cm2", "density")])
            n = int((sel & scored).sum())
            score = exp_score(float(weight[sel & scored].sum()) / cm2, DENSITY_REF)
            return (main_metric("pores", "pores_score", score),
                    [_num("pores", "pores_number", n),
                     _num("pores", "pores_density", n / cm2, "1/cm2", "density")])

        main, subs, areas = scored_by_area(skin, spts, zone, metrics, AREAS)
        subs += [_num("pores", "pores_drawn_number", len(pts)),
                 _num("pores", "pores_min_radius",
                      round(radii_mm[0], 4) if radii_mm else None, "mm"),
                 _num("pores", "pores_mean_radius",
                      float(radii.mean()) if len(pts) else None, "mm"),
                 _num("pores", "pores_mean_contrast",
                      float(depth.mean()) if len(pts) else None, "L*")]
        feedback = {"problems": [] if resolved else [LOW_RESOLUTION],
                    "measures": {"needed_px_per_mm": REQUIRED_PX_PER_MM,
                                 "actual_px_per_mm": round(float(face.px_per_mm), 3),
                                 "working_px_per_mm": round(view.px_per_mm, 3)}}
        r_px = radii * skin.px_per_mm   # restored pixels, as every point feature's radius
        features = tuple(Feature(Point(float(x), float(y)),
                                 {"radius": float(r), "intensity": float(d)})
                         for (x, y), r, d in zip(pts, r_px, depth))
        return make_result(type(self), face, main, subs, areas,
                           (Mask("point_mask", "pores", features),), feedback=feedback)


def analysed_zone(skin) -> np.ndarray:
    """Where pores are looked for (restored pixels): the skin mask's core of ZONE without
    the brows' fringe."""
    return skin.finding_zone(ZONE) & ~brow_fringe(skin)


def brow_fringe(skin) -> np.ndarray:
    """The brows grown by BROW_FRINGE_MM, in restored pixels: where pores are not looked
    for, because the brows' sparse outer hairs and their follicles read as pores there."""
    f = feature_polygons(skin.face.landmarks_restored)
    brows = f["right_brow"].union(f["left_brow"])
    return rasterise(brows.buffer(skin.px(BROW_FRINGE_MM)), skin.shape)


def _num(algorithm, tech_name, value, unit=None, widget="numeric") -> Metric:
    """A sub-metric whose value may be null (not measurable on this photo)."""
    return Metric(algorithm, tech_name, None if value is None else float(value), widget, unit)


def log_lightness(L: torch.Tensor) -> torch.Tensor:
    """L* -> LOG_GAIN * ln((L* + 16) / 116) = LOG_GAIN / 3 * ln(Y): lightness on a log scale,
    in L* units at L* = 65 (typical light skin). A pore is a shadow, so its depth is a ratio
    of luminance; on this scale the same shadow reads the same on light and dark skin
    (on L* it reads (L* + 16) / 81 times as deep: 0.6x on skin of L* 35)."""
    return LOG_GAIN * torch.log(((L + 16.0) / 116.0).clamp_min(1e-3))


def blur_scales_px(radii_mm, px_per_mm: float) -> list[float]:
    """Blur scales (px) whose neighbouring pairs give DoG levels at the radii, with one
    bracketing level below and one above: DoG i has scale sqrt(s_i * s_{i+1})."""
    t0 = radii_mm[0] * px_per_mm / math.sqrt(2)      # scale of the first searched level
    n = len(radii_mm) + 2                             # DoG levels with the brackets
    return [t0 * SCALE_STEP ** (i - 1.5) for i in range(n + 1)]


def detect(view: N.NativeSkin, radii_mm):
    """Pores in the native view's zone: ``(points (N, 2) restored px, radii mm, depth L*)``."""
    empty = (np.zeros((0, 2)), np.zeros(0), np.zeros(0))
    zone = view.zone
    if not radii_mm or not zone.any():
        return empty
    sig = blur_scales_px(radii_mm, view.px_per_mm)
    ys, xs = bbox_slices(zone, int(3 * sig[-1]) + 2)
    L = log_lightness(view.lightness[ys, xs])
    # Fill outside the zone with the local skin mean so eyes, brows and hair next to the
    # zone do not make rings of false blobs at its edge.
    zt = torch.from_numpy(zone[ys, xs].copy()).to(L.device)
    bg = masked_blur(L, zt, sig[-1] * 2)
    L = torch.where(zt, L, bg)
    blurred = [blur(L, s) for s in sig]
    k = SCALE_STEP
    dog = torch.stack([(blurred[i + 1] - blurred[i]) / (k - 1)
                       for i in range(len(sig) - 1)])          # (S, h, w), dark blob > 0
    # noise floor: robust sigma of the finest searched level over the zone (skin texture,
    # sensor and JPEG noise); a pore must clear NOISE_Z of it as well as CONTRAST_MIN
    level = dog[1][zt]
    if level.numel() > 200_000:
        level = level[:: level.numel() // 200_000 + 1]
    noise = robust_sigma(level.cpu().numpy())
    thr = max(CONTRAST_MIN * DOG_GAIN, NOISE_Z * noise)
    cand = (dog > thr) & zt[None]
    cand[0] = False   # the bracketing levels only bracket the extrema
    cand[-1] = False
    idx, vals = local_maxima_3d(dog, cand)
    if len(idx) == 0:
        return empty
    s_idx, yy, xx = idx[:, 0], idx[:, 1], idx[:, 2]
    round_ = _roundness(blurred, sig, s_idx, yy, xx) >= ROUNDNESS_MIN
    s_idx, yy, xx, vals = s_idx[round_], yy[round_], xx[round_], vals[round_]
    radii = np.asarray(radii_mm, float)[s_idx - 1]        # DoG level i <-> radii_mm[i - 1]
    pts = index_to_xy(yy + ys.start, xx + xs.start)     # crop pixel centres
    depth = vals / DOG_GAIN
    keep = _suppress_overlaps(pts, radii * view.px_per_mm, depth)
    return view.to_restored(pts[keep]), radii[keep], depth[keep]


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
