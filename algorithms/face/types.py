"""Data types of the face layer, shared by every algorithm.

``FaceGeometry`` is what ``algorithms.face.analyse_face`` returns for the largest face of a
photo. Everything an algorithm needs is here: the restored face image (canonical input of
the skin algorithms), the affine maps between restored and original pixels, the
millimetre scale and the named skin regions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
from shapely.affinity import affine_transform
from shapely.geometry.base import BaseGeometry

from algorithms.types import check_image_type

__all__ = ["NoFaceError", "Restored", "FaceGeometry", "apply_affine", "REGION_NAMES",
           "Detection", "KEYPOINT_NAMES"]

# Named skin regions (left/right are the subject's).
REGION_NAMES = (
    "forehead", "glabella", "nose", "left_cheek", "right_cheek", "chin",
    "left_under_eye", "right_under_eye", "left_crows_feet", "right_crows_feet",
    "left_nasolabial", "right_nasolabial", "perioral", "face_skin",
)

# The six keypoints, in the model's order. "Right"/"left" are the subject's: the subject's
# right eye is on the left of an unmirrored photo.
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion",
                  "left_ear_tragion")


class NoFaceError(ValueError):
    """No face was found where one is needed."""


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map ``(N, 2)`` points through a ``2x3`` affine matrix."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


@dataclass(frozen=True, eq=False)
class Restored:
    """The face cropped, centred and rotated upright (eyes level) at a fixed scale."""

    image: np.ndarray            # (S, S, 3) uint8 RGB
    to_original: np.ndarray      # 2x3: restored pixel -> original pixel
    from_original: np.ndarray    # 2x3: original pixel -> restored pixel
    px_per_mm: float             # scale of the restored image

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return w, h


@dataclass(frozen=True, eq=False)
class FaceGeometry:
    image_size: tuple[int, int]          # original (width, height)
    landmarks: np.ndarray                # (478, 2) float, original pixel coordinates
    box: tuple[float, float, float, float]  # detection box x0, y0, x1, y1 (original)
    detection_score: float
    face_count: int                      # faces found in the photo (the largest is used)
    px_per_mm: float                     # scale in the original photo
    restored: Restored
    regions: Mapping[str, BaseGeometry] = field(default_factory=dict)  # restored coordinates
    landmarks_z: np.ndarray | None = None   # (478,) relative depth, original pixel scale
    pose: tuple[float, float, float] | None = None  # yaw, pitch, roll in degrees (pose.py)

    @property
    def landmarks_restored(self) -> np.ndarray:
        return apply_affine(self.restored.from_original, self.landmarks)

    def regions_in(self, image_type: str) -> dict[str, BaseGeometry]:
        """Regions in ``restored`` or ``original`` pixel coordinates."""
        if image_type == "restored":
            return dict(self.regions)
        check_image_type(image_type)
        m = self.restored.to_original
        params = [m[0, 0], m[0, 1], m[1, 0], m[1, 1], m[0, 2], m[1, 2]]
        return {k: affine_transform(g, params) for k, g in self.regions.items()}


@dataclass(frozen=True, eq=False)
class Detection:
    """One face: box (x0, y0, x1, y1) and six keypoints, original pixels."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray = field(repr=False)   # (6, 2), KEYPOINT_NAMES order
    model: str = "short"

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def to_dict(self) -> dict:
        return {"box": [round(float(v), 2) for v in self.box], "score": round(self.score, 4),
                "keypoints": {n: [round(float(x), 2), round(float(y), 2)]
                              for n, (x, y) in zip(KEYPOINT_NAMES, self.keypoints)},
                "model": self.model}
