"""Head pose (yaw, pitch, roll in degrees) from the 3D face mesh.

face_landmark gives each of the 468 points a depth z in the same pixel scale as x and y
(weak perspective). The pose is the rotation of the best similarity transform (Umeyama's
least squares) from a frontal, symmetric reference mesh (``indices.frontal_mesh``: the mean
of the six frontal studio portraits and their mirror images) onto the face's (x, y, z).
That rotation is split as R = Rz(roll) Ry(-yaw) Rx(-pitch) (x right, y down, z away from
the camera): pitch and yaw are turns of the head in its own frame, roll the turn of the
whole face in the image plane, so a photo turned by 90 degrees changes roll only.

* yaw: positive when the face turns towards the image's right (the subject's left in an
  unmirrored photo);
* pitch: positive when the chin goes up;
* roll: positive when the face is turned clockwise in the image.

Zero is "as frontal as the portraits on average" (their pitch is the reference). The mesh's
depth is a learnt guess, so expect a few degrees of error, more at large angles where the
model leans towards frontal.
"""
from __future__ import annotations

import math

import numpy as np

from algorithms.face.indices import frontal_mesh

__all__ = ["head_pose", "rigid_fit"]


def rigid_fit(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (s, R, t) minimising |s R src + t - dst|^2 (Umeyama 1991)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a / len(a))
    d = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2, 2] = -1
    r = u @ d @ vt
    s = float((sig * np.diag(d)).sum() / ((a ** 2).sum() / len(a)))
    return s, r, mu_d - s * r @ mu_s


def _rotation_2d(points: np.ndarray) -> np.ndarray:
    """Rotation from 2D points alone: an affine camera fitted to the reference mesh.

    Least squares for A (2x3) and t in ``points ~ A X + t``; A's rows are scaled rows of the
    rotation, so they are orthonormalised (SVD) and completed by their cross product.
    """
    x = frontal_mesh()
    xc = x - x.mean(0)
    pc = points[:468] - points[:468].mean(0)
    a = np.linalg.lstsq(xc, pc, rcond=None)[0].T          # (2, 3)
    u, _, vt = np.linalg.svd(a, full_matrices=False)
    r2 = u @ vt                                             # nearest orthonormal rows
    return np.vstack([r2, np.cross(r2[0], r2[1])])


def head_pose(points: np.ndarray, z: np.ndarray | None = None) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a face from its landmarks.

    Parameters
    ----------
    points : (478, 2) or (468, 2) array
        Landmarks in pixels.
    z : (478,) array, optional
        Their depths (``Landmarks.z``). Without them the rotation comes from the 2D points
        alone (affine camera), slightly less precise.

    Examples
    --------
    >>> yaw, pitch, roll = head_pose(face.landmarks, face.landmarks_z)   # doctest: +SKIP
    """
    pts = np.asarray(points, np.float64)
    if z is None:
        r = _rotation_2d(pts)
    else:
        obs = np.column_stack([pts[:468], np.asarray(z, np.float64)[:468]])
        _, r, _ = rigid_fit(frontal_mesh(), obs)
    return _angles(r)


def _angles(r: np.ndarray) -> tuple[float, float, float]:
    # r = Rz(roll) Ry(-yaw) Rx(-pitch): pitch and yaw in the face's own frame, then the
    # in-plane roll, so turning the photo changes roll only.
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, r[2, 0]))))
    pitch = -math.degrees(math.atan2(r[2, 1], r[2, 2]))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    return yaw, pitch, roll
