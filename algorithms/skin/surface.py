"""The face's surface from the landmark mesh: how far each pixel of the restored face is
turned from the camera.

The mesh's 468 points carry a relative depth (``FaceGeometry.landmarks_z``); over its
Delaunay triangles the depth is a plane, whose gradient (dz/dx, dz/dy) is the tan of the
angle between the skin and the image plane. Lines, pigmentation and uniformness use it to
tell the shading of the face's shape (nose walls, the cheek turning to the ear) from what
lies on the skin; :attr:`algorithms.skin.skin_image.SkinImage.surface_slope` computes it
once per face.

Example
-------
>>> round(float(FORESHORTENED_SLOPE), 3)   # tan 60 deg: foreshortened to half or less
1.732
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from algorithms.face import indices as ix

__all__ = ["FORESHORTENED_SLOPE", "surface_slope"]

# Skin turned further than this from the camera (the mesh's depth slope: tan 60 deg) is
# foreshortened to half its size or less, and the shading of the face's curve there (the
# cheek turning to the ear, a strand of hair lying on it) is steep enough to read as a
# valley: a cheek line there is the outline's shading, not a fold of the skin.
FORESHORTENED_SLOPE = math.tan(math.radians(60.0))


def surface_slope(face, shape) -> np.ndarray:
    """The face surface's depth gradient (dz/dx, dz/dy) at each pixel of the restored face,
    ``(H, W, 2)``: its length is the tan of the angle to the image plane, 0 outside the
    landmark mesh or without landmark depths."""
    out = np.zeros((*shape, 2), np.float32)
    points = face.landmarks_restored
    if face.landmarks_z is None or not ix.has_mesh(points):
        return out
    from scipy.spatial import Delaunay, QhullError

    scale = math.sqrt(abs(np.linalg.det(np.asarray(face.restored.from_original)[:, :2])))
    p = np.asarray(points, np.float64)[:468]           # the mesh (the iris has no depth)
    z = np.asarray(face.landmarks_z, np.float64)[:468] * scale
    try:
        tri = Delaunay(p).simplices
    except QhullError:                                  # a degenerate mesh: no slope known
        return out
    m = np.stack([p[tri[:, 1]] - p[tri[:, 0]], p[tri[:, 2]] - p[tri[:, 0]]], 1)
    dz = np.stack([z[tri[:, 1]] - z[tri[:, 0]], z[tri[:, 2]] - z[tri[:, 0]]], 1)
    ok = np.abs(np.linalg.det(m)) > 1e-6
    grad = np.linalg.solve(m[ok], dz[ok][..., None])[..., 0]
    for t, g in zip(tri[ok], grad):
        cv2.fillConvexPoly(out, np.round(p[t] * 16).astype(np.int32), (float(g[0]), float(g[1])),
                           cv2.LINE_8, 4)
    return out
