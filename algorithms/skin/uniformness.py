"""Uniformness: how even the skin's colour is at the scale of a few millimetres.

Method (docs/algorithms.md#uniformness): band-pass each CIELAB channel (masked Gaussian at
FINE_MM minus one at COARSE_MM, both over the skin zone: lighting gradients are slower than
COARSE_MM and drop out), take out of the L* band the shading the landmark mesh predicts
(:func:`shading_removed`) and, on the nose's steep walls, weigh it down
(:func:`nose_weight`), weigh down the shine around specular highlights (SHINE_MM), take
the colour difference magnitude U = sqrt(dL^2 + da^2 + db^2) (a local Delta E), and smooth
it at SMOOTH_MM. The heatmap shows U >= LEVELS[k]; the score maps
the mean U over the skin: 100 * exp(-(mean U - U_FLOOR) / U_REF).
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from algorithms.base import Algorithm, MetricSpec, register
from algorithms.skin.areas import SKIN_REGIONS
from algorithms.skin.filters import HALVE_SIGMA, double, halve, masked_blur
from algorithms.skin.geometry import bbox_slices, heatmap_features
from algorithms.skin.scores import (area_results, exp_score, low_resolution_result,
                                    main_metric, make_result, numeric)
from algorithms.skin.skin_image import SkinImage, prepare, require_face
from algorithms.types import Mask

ZONE = SKIN_REGIONS
AREAS = ("forehead", "nose", "left_cheek", "right_cheek", "chin", "left_eye_area",
         "right_eye_area")
FINE_MM = 0.5
COARSE_MM = 5.0
SMOOTH_MM = 2.0
LEVELS = (2.1, 3.0, 4.2, 6.0)   # Delta E units; level 0 outermost
MIN_AREA_MM2 = 6.0
U_FLOOR = 1.2   # Delta E of camera noise and fine texture that even skin still shows
U_REF = 3.4     # mean Delta E above the floor at which the score is 36.8 (the slope: see docs)
# The mesh's triangles are 2-5 mm across and its slope is constant on each: unsmoothed,
# their steps enter the fitted shading as edges of their own (normals smoothed at 0.7 mm
# gave london_021's cheeks 12 % more band-passed L* than at 3 mm, and its nose no less).
NORMAL_SMOOTH_MM = 3.0
# The nose's walls turn by 30-70 degrees within a few mm, finer than the mesh resolves, so
# the shading that is left there is weighed down: L* counts fully up to 30 degrees and not
# at all from 55 (tan of the angle to the image plane: the mesh's depth slope).
NOSE_FLAT, NOSE_STEEP = math.tan(math.radians(30.0)), math.tan(math.radians(55.0))
# A specular highlight's light falls off over a few mm around the part the skin mask leaves
# out: there skin lighter and less saturated than around it is the shine, and counts in
# proportion to its distance from the highlight, in full from SHINE_MM.
SHINE_MM = 5.0


@register
class Uniformness(Algorithm):
    tech_name = "uniformness"
    version = "1.4.0"
    mask_types = ("heatmap_mask",)
    required_px_per_mm = 2.0  # its finest band (FINE_MM = 0.5 mm) must span a pixel: 2 px/mm
    areas = AREAS
    description = (f"Local colour difference (band-passed CIELAB, {FINE_MM:g}-{COARSE_MM:g} "
                   "mm) as a heatmap; score from its mean over the skin.")
    metrics = (
        MetricSpec("uniformness_score", "bad_good_line", None,
                   f"100*exp(-(mean local Delta E - {U_FLOOR:g}) / {U_REF:g})"),
        MetricSpec("mean_local_delta_e", "numeric", "Delta E"),
        MetricSpec("uneven_share", "numeric", "%",
                   "skin share at heatmap level >= 0"),
        MetricSpec("lightness_variation", "numeric", "L*",
                   "std of band-passed L*"),
        MetricSpec("redness_variation", "numeric", "a*"),
        MetricSpec("yellowness_variation", "numeric", "b*"),
    )

    def analyse(self, image, face):
        face = require_face(face)
        if (low := low_resolution_result(type(self), face)) is not None:
            return low
        skin = prepare(face)
        zone = skin.mask(ZONE) & skin.skin_mask.colour
        u, bands = unevenness(skin, zone)
        feats = heatmap_features(u, zone, LEVELS, skin.px(1) ** 2 * MIN_AREA_MM2)

        def metrics(mask, full=False):
            vals = u[mask]
            mean = float(vals.mean()) if vals.size else 0.0
            subs = [numeric("uniformness", "mean_local_delta_e", mean, "Delta E"),
                    numeric("uniformness", "uneven_share",
                            100 * float((vals >= LEVELS[0]).mean()) if vals.size else 0.0,
                            "%")]
            if full:
                for name, unit, b in zip(("lightness_variation", "redness_variation",
                                          "yellowness_variation"), ("L*", "a*", "b*"), bands):
                    subs.append(numeric("uniformness", name, float(b[mask].std()), unit))
            return main_metric("uniformness", "uniformness_score",
                               exp_score(mean - U_FLOOR, U_REF)), subs

        main, subs = metrics(zone, full=True)

        def per_area(a):
            m = skin.area_mask(a)
            return metrics(m) if skin.area_visible(a) else None

        return make_result(type(self), face, main, subs, area_results(AREAS, per_area),
                           (Mask("heatmap_mask", "uniformness", tuple(feats)),))


def unevenness(skin: SkinImage, zone: np.ndarray):
    """``(U map (H, W), band-passed (L, a, b) maps)`` as numpy, zero outside the zone box.

    Computed on the half-size level of the pyramid (2 px/mm still resolves FINE_MM) and
    interpolated back: a quarter of the work for the same smooth maps.
    """
    u = np.zeros(skin.shape, np.float32)
    bands = np.zeros((3, *skin.shape), np.float32)
    if not zone.any():
        return u, bands
    ys, xs = bbox_slices(zone, int(3 * skin.px(COARSE_MM)) + 2)
    lab = skin.lab[:, ys, xs]
    zt = torch.from_numpy(zone[ys, xs].copy()).to(lab.device)
    zf = zt.to(lab.dtype)
    # half size: (lab * zone) and zone blurred 1 px and subsampled; their ratio is the
    # masked lab at half size, the mask where most of a pixel's neighbourhood is skin
    num, den = halve(lab * zf), halve(zf)
    zh = den > 0.5
    lab_h = num / den.clamp_min(1e-3)

    def sig(mm: float) -> float:  # a blur of `mm` after the 1 px halving blur, in half px
        return float(np.sqrt(max(skin.px(mm) ** 2 - HALVE_SIGMA ** 2, 0.25)) / 2)

    def band_pass(x: torch.Tensor) -> torch.Tensor:
        return masked_blur(x, zh, sig(FINE_MM)) - masked_blur(x, zh, sig(COARSE_MM))

    band = band_pass(lab_h)
    # No exposure rescaling: rescaling differences by (L_REF + 16) / (median L* + 16) made a
    # photo's exposure cancel, but it cannot tell exposure from skin tone and inflated the
    # unevenness of dark skin by up to 1.7x (black faces scored 38 against 78). Raw CIELAB
    # differences are alike across skin tones on the development portraits, and +-10 %
    # brightness moves them by ~7 % (< 5 points): docs/algorithms.md#uniformness.
    #
    # The face's shape is not slower than COARSE_MM everywhere: the nose's walls and the
    # cheeks turning to the ears shade within a few mm, which lit the nose on almost every
    # face. Only L* is corrected: shading moves a* and b* far less, and fitting them too
    # raised the b* band on london_042's cheeks by 40 % (the fit's own noise).
    slope = torch.from_numpy(
        np.ascontiguousarray(skin.surface_slope[ys, xs].transpose(2, 0, 1))
    ).to(lab.device)
    if bool(slope.abs().sum() > 0):
        slope_h = halve(slope)
        basis = normal_basis(masked_blur(slope_h, slope_h.abs().sum(0) > 0,
                                         sig(NORMAL_SMOOTH_MM)))
        # smooth at 3 mm, the basis is its own FINE_MM blur: only the coarse one is taken
        band[0] = shading_removed(band[0], basis - masked_blur(basis, zh, sig(COARSE_MM)), zh)
        nose = halve(torch.from_numpy(skin.area_mask("nose")[ys, xs].copy()).to(lab.dtype)
                     .to(lab.device)[None])[0] > 0.5
        band[0] = band[0] * torch.where(nose, nose_weight(slope_h), 1.0)
    highlights = skin.skin_mask.highlights[ys, xs]
    if highlights.any():
        dist = cv2.distanceTransform((~highlights).astype(np.uint8), cv2.DIST_L2, 5)
        near = halve(torch.from_numpy(np.clip(dist / skin.px(SHINE_MM), 0, 1)
                                      .astype(np.float32)).to(lab.device)[None])
        # shine adds white light: L* up, a* and b* (positive on skin) down
        shine = torch.cat((band[:1] > 0, band[1:] < 0))
        band = torch.where(shine, band * near, band)
    mag = torch.sqrt((band ** 2).sum(0))
    uh = masked_blur(mag, zh, sig(SMOOTH_MM))
    shape = lab.shape[-2:]
    u[ys, xs] = double(uh, shape).cpu().numpy()
    bands[:, ys, xs] = double(band, (3, *shape)).cpu().numpy()
    return u, bands


def normal_basis(slope: torch.Tensor) -> torch.Tensor:
    """(8, H, W) second-order spherical harmonics of the surface normal (without the
    constant) for a (2, H, W) depth slope: Lambertian shading under any distant lighting is
    within a few per cent of a sum of these (Ramamoorthi & Hanrahan 2001)."""
    gx, gy = slope[0], slope[1]
    norm = torch.sqrt(1 + gx ** 2 + gy ** 2)
    nx, ny, nz = -gx / norm, -gy / norm, 1 / norm
    return torch.stack((nx, ny, nz, nx * ny, nx * nz, ny * nz, nx ** 2 - ny ** 2,
                        3 * nz ** 2 - 1))


def shading_removed(band_l: torch.Tensor, basis: torch.Tensor, valid: torch.Tensor
                    ) -> torch.Tensor:
    """The band-passed L* less its least-squares fit by the band-passed shading basis.

    The fit is made in the band itself, at the scale that is measured: a fit of L* by
    the basis over the whole face lets the slow regional tone differences (forehead against
    cheek) set the coefficients. Pixels off by more than 3 robust spreads (blotches, shine)
    are left out of a second fit, so a blotch is not explained away as shading.
    """
    x = basis[:, valid].T.double().cpu().numpy()[::2]
    y = band_l[valid].double().cpu().numpy()[::2]
    if len(y) < 10 * x.shape[1]:
        return band_l
    keep = np.ones(len(y), bool)
    for _ in range(2):
        xk = x[keep]  # normal equations: 8 unknowns, a tenth of lstsq's time
        beta = np.linalg.solve(xk.T @ xk + 1e-9 * np.eye(x.shape[1]), xk.T @ y[keep])
        r = y - x @ beta
        keep = np.abs(r) < 3 * 1.4826 * np.median(np.abs(r)) + 1e-6
    fit = torch.einsum("k,khw->hw", torch.from_numpy(beta).to(basis), basis)
    return band_l - fit


def nose_weight(slope: torch.Tensor) -> torch.Tensor:
    """1 where the surface faces the camera within 30 degrees, 0 beyond 55, linear in the
    slope between."""
    s = torch.hypot(slope[0], slope[1])
    return ((NOSE_STEEP - s) / (NOSE_STEEP - NOSE_FLAT)).clamp(0.0, 1.0)
