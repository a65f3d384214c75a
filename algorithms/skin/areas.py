"""Areas: which face regions make up each reported area and how much skin an area needs
(the per-area mask and :func:`~algorithms.skin.skin_image.features_by_area` are in
:mod:`algorithms.skin.skin_image`).

Examples
--------
>>> AREA_REGIONS["forehead"]
('forehead', 'glabella')
"""
from __future__ import annotations

from typing import Mapping

__all__ = ["AREA_REGIONS", "SKIN_REGIONS", "CM2", "AREA_MIN_MM2"]

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
