"""Shading on the face's turning surfaces, told apart from pigment (docs/algorithms.md#pigmentation).

Where the surface turns away from the camera (the nose's side walls, the groove between the
nose and the inner eye corner, the alae) it receives less light and is darker, and the light
that reaches it has bounced off skin, so the shade is reddish-brown as well: its melanin
index rises by about half its darkening (dM / D ~ 0.5-0.7 on the portraits), where melanin
alone rises by about as much as it darkens (~1). A darkening there is therefore only taken
for pigment when its colour is clearly melanin's.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

STEEP_SLOPE = math.tan(math.radians(45.0))  # the mesh's depth slope: the surface turned
                                            # 45 deg or more from the image plane
STEEP_SHARE = 0.1          # ... on at least this share of the spot and the skin around it
GROW_MM = 1.5              # the skin around it: the mesh's triangles are coarse (its
                           # nasofacial groove lies a mm or two off the photo's)
SHADE_RATIO = 0.75         # colour clearly melanin's: dM / D at least this


def is_shading(spot_mask: np.ndarray, ratio: float, slope_len: np.ndarray,
               px_per_mm: float) -> bool:
    """Whether a darkened component is shade on a turning surface: part of it or of the skin
    within GROW_MM lies on a surface turned STEEP_SLOPE or more, and its melanin excess per
    unit of darkening is under SHADE_RATIO. ``slope_len``: the length of
    :func:`algorithms.skin.line_zones.surface_slope` per pixel."""
    if ratio >= SHADE_RATIO:
        return False
    r = max(int(round(GROW_MM * px_per_mm)), 1)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    ys, xs = np.nonzero(spot_mask)
    y0, y1 = max(ys.min() - r, 0), min(ys.max() + r + 1, spot_mask.shape[0])
    x0, x1 = max(xs.min() - r, 0), min(xs.max() + r + 1, spot_mask.shape[1])
    around = cv2.dilate(spot_mask[y0:y1, x0:x1].astype(np.uint8), disc).astype(bool)
    return float((slope_len[y0:y1, x0:x1][around] > STEEP_SLOPE).mean()) >= STEEP_SHARE
