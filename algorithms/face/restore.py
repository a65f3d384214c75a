"""The restored face: cropped, centred, eyes level, at a fixed size and face scale.

Definition (all coordinates continuous: pixel (i, j) covers [i, i+1) x [j, j+1)):

* size RESTORED_SIZE x RESTORED_SIZE = 1024 x 1024 px, RGB;
* the iris centres (landmarks 468 and 473) lie on one horizontal line, RESTORED_IPD = 256 px
  apart, the subject's right iris on the left, their midpoint at RESTORED_EYE_CENTER =
  (512, 384). On the portraits the face oval then spans about x 210-815 and y 165-855;
* outside the photo the restored image is black.

A similarity transform (rotation, uniform scale, translation) maps original pixels to
restored ones (``from_original``); ``to_original`` is its inverse. Points, shapely
geometries and results go through either with ``apply_affine`` / ``AnalysisResult.transformed``
and come back exactly (round trip ~1e-12 px). The image is sampled bilinearly from the finest
level of the photo's pyramid at most 2x finer than the restored image, so a 12 MP face is
not aliased.

With IPD fixed, the restored image's millimetre scale is ``256 / IPD_mm`` px/mm: about
4.06 px/mm for a 63 mm IPD, measured per face (``Restored.px_per_mm``).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from algorithms.face import indices as ix
from algorithms.face.roi import Pyramid
from algorithms.face.types import Restored

__all__ = ["RESTORED_SIZE", "RESTORED_IPD", "RESTORED_EYE_CENTER", "restore_transform",
           "restore", "invert_affine"]

RESTORED_SIZE = 1024
RESTORED_IPD = 256.0
RESTORED_EYE_CENTER = (512.0, 384.0)
MAX_DOWNSAMPLE = 2.0


def invert_affine(m: np.ndarray) -> np.ndarray:
    a = np.linalg.inv(m[:, :2])
    return np.hstack([a, -a @ m[:, 2:3]])


def restore_transform(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(from_original, to_original) 2x3 matrices for a face's (478, 2) landmarks.

    Examples
    --------
    >>> m, inv = restore_transform(face.landmarks)                   # doctest: +SKIP
    >>> apply_affine(m, face.landmarks[[468, 473]])                  # doctest: +SKIP
    array([[384., 384.],
           [640., 384.]])
    """
    p = np.asarray(points, dtype=np.float64)
    a, b = p[ix.RIGHT_IRIS_CENTER], p[ix.LEFT_IRIS_CENTER]
    d = b - a
    ipd = float(np.hypot(*d))
    if not ipd > 0:
        raise ValueError("iris centres coincide")
    angle = math.atan2(d[1], d[0])
    s = RESTORED_IPD / ipd
    c, sn = math.cos(angle), math.sin(angle)
    lin = s * np.array([[c, sn], [-sn, c]])        # rotate by -angle, then scale
    mid = (a + b) / 2
    from_original = np.hstack([lin, (np.asarray(RESTORED_EYE_CENTER) - lin @ mid)[:, None]])
    return from_original, invert_affine(from_original)


def _index_convention(m: np.ndarray) -> np.ndarray:
    """The same map for OpenCV's pixel indices (pixel centre at i, not i + 0.5)."""
    out = m.copy()
    out[:, 2] = m[:, :2] @ [0.5, 0.5] + m[:, 2] - 0.5
    return out


def restore(image: np.ndarray | Pyramid, points: np.ndarray, px_per_mm: float) -> Restored:
    """The restored image of the face with landmarks ``points`` (original pixels).

    ``px_per_mm`` is the original photo's scale; the restored one follows from the transform.

    Examples
    --------
    >>> r = restore(photo, face.landmarks, face.px_per_mm)           # doctest: +SKIP
    >>> r.size                                                       # doctest: +SKIP
    (1024, 1024)
    """
    pyr = image if isinstance(image, Pyramid) else Pyramid(np.ascontiguousarray(image))
    from_original, to_original = restore_transform(points)
    scale = float(np.sqrt(abs(np.linalg.det(from_original[:, :2]))))
    lvl, fx, fy = pyr.for_scale(scale, MAX_DOWNSAMPLE)
    # restored -> level pixels (continuous), then to OpenCV's index convention
    to_level = np.diag([fx, fy]) @ to_original
    out = cv2.warpAffine(lvl, _index_convention(to_level), (RESTORED_SIZE, RESTORED_SIZE),
                         flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return Restored(image=out, to_original=to_original, from_original=from_original,
                    px_per_mm=float(px_per_mm) * scale)
