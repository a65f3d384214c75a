"""Areas: which face regions make up each reported area, how much skin an area needs,
and which area each found feature lies in.

Examples
--------
>>> AREA_REGIONS["forehead"]
('forehead', 'glabella')
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    from algorithms.skin.skin_image import SkinImage

__all__ = ["AREA_REGIONS", "SKIN_REGIONS", "CM2", "AREA_MIN_MM2", "features_by_area"]

# Reported areas (anchor API names) -> face-layer regions that make them up.
AREA_REGIONS: Mapping[str, tuple[str, ...]] = {
    "forehead": ("forehead", "glabella"),
    "nose": ("nose",),
    "left_cheek": ("left_cheek",),
    "right_cheek": ("right_cheek",),
    "chin": ("chin",),
    "left_eye_area": ("left_under_eye", "left_crows_feet"),
    "right_eye_area": ("right_under_eye", "right_crows_feet"),
}
# Every named skin region (no eyes, brows, nostrils or lips inside); ``face_skin`` is the
# face layer's own outline and is used only to clip these.
SKIN_REGIONS = (
    "forehead", "glabella", "nose", "left_cheek", "right_cheek", "chin", "left_under_eye",
    "right_under_eye", "left_crows_feet", "right_crows_feet", "left_nasolabial",
    "right_nasolabial", "perioral",
)
CM2 = 100.0  # mm2 in one cm2
AREA_MIN_MM2 = 20.0  # a reported area with less visible skin is left out


def features_by_area(points: np.ndarray, skin: SkinImage, areas: Sequence[str]
                     ) -> dict[str, np.ndarray]:
    """For ``(N, 2)`` x, y points: area name -> bool array of the points inside it."""
    h, w = skin.shape
    if len(points) == 0:
        return {a: np.zeros(0, bool) for a in areas}
    xi = np.clip(np.floor(points[:, 0]).astype(int), 0, w - 1)
    yi = np.clip(np.floor(points[:, 1]).astype(int), 0, h - 1)
    return {a: skin.area_mask(a)[yi, xi] for a in areas}
