"""Shade on the face's turning surfaces, told apart from pigment (docs/algorithms.md#pigmentation).

Where the surface turns away from the camera (the nose's side walls beside the inner eye
corner, the face's outline) it receives less light, and the light that reaches it has
bounced off skin, so the shade is reddish-brown too: its melanin index rises by about half
its darkening (dM / D ~ 0.5-0.7 on the portraits), where melanin alone rises by about as
much as it darkens. Colour alone does not settle it (JPEG's coarse chroma leaves real spots
at 0.55-0.75 as well), so a darkening is shade when, besides, it follows the surface: over
the spot and the skin around it, the darker, the more the surface is turned (the landmark
mesh's depth slope, :func:`algorithms.skin.surface.surface_slope`). A pigment spot's
darkness has nothing to do with the slope beneath it.
"""
from __future__ import annotations

import cv2
import numpy as np

from algorithms.skin.geometry import disc
from algorithms.skin.surface import FORESHORTENED_SLOPE

STEEP_SHARE = 0.1          # of the spot and the skin around it turned FORESHORTENED_SLOPE
                           # (60 deg) or more from the image plane
GROW_MM = 1.5              # the skin around it: the mesh's triangles are coarse (its
                           # nasofacial groove lies a mm or two off the photo's)
FOLLOW_CORR = 0.55         # correlation of darkness with the slope there: shade 0.58-0.80
                           # on the portraits, injected melanin spots <= 0.49
SHADE_RATIO = 0.75         # colour clearly melanin's (dM / D at least this) is pigment
__all__ = ["is_shading", "FOLLOW_CORR", "SHADE_RATIO", "STEEP_SHARE", "GROW_MM"]


def is_shading(spot_mask: np.ndarray, ratio: float, slope_len: np.ndarray,
               density: np.ndarray, zone: np.ndarray, px_per_mm: float) -> bool:
    """Whether a darkened component is shade on a turning surface: its melanin excess per
    unit of darkening is under SHADE_RATIO, STEEP_SHARE of it and the zone's skin within
    GROW_MM lies on a surface turned FORESHORTENED_SLOPE or more, and there ``density`` (the
    smoothed optical density) correlates with ``slope_len`` (the mesh's depth slope per
    pixel) by FOLLOW_CORR or more."""
    if ratio >= SHADE_RATIO:
        return False
    kernel = disc(GROW_MM * px_per_mm)
    r = kernel.shape[0] // 2
    ys, xs = np.nonzero(spot_mask)
    y0, y1 = max(ys.min() - r, 0), min(ys.max() + r + 1, spot_mask.shape[0])
    x0, x1 = max(xs.min() - r, 0), min(xs.max() + r + 1, spot_mask.shape[1])
    around = (cv2.dilate(spot_mask[y0:y1, x0:x1].astype(np.uint8), kernel).astype(bool)
              & zone[y0:y1, x0:x1])
    slope = slope_len[y0:y1, x0:x1][around]
    if slope.size < 3 or float((slope > FORESHORTENED_SLOPE).mean()) < STEEP_SHARE:
        return False
    dens = density[y0:y1, x0:x1][around]
    if slope.std() < 1e-6 or dens.std() < 1e-6:
        return False
    return float(np.corrcoef(dens, slope)[0, 1]) >= FOLLOW_CORR
