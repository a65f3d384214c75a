"""Head pose (yaw, pitch, roll in degrees) from the 3D face mesh.

face_landmark gives each of the 468 points a depth z in the same pixel scale as x and y
(weak perspective). The pose is the rotation of the best similarity transform (Umeyama's
least squares) from a frontal, symmetric reference mesh (``indices.frontal_mesh``: the mean
of the six frontal studio portraits and their mirror images) onto the face's (x, y, z).
From that rotation R, with f = R (0, 0, -1) the direction the face looks (towards the
camera when frontal) and r = R (1, 0, 0) its left-to-right axis in the image:

* yaw   = atan2(f_x, -f_z): positive when the face turns towards the image's right (the
  subject's left in an unmirrored photo);
* pitch = atan2(-f_y, -f_z): positive when the chin goes up;
* roll  = atan2(r_y, r_x): positive when the face turns clockwise in the image.

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


def head_pose(points: np.ndarray, z: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of the face with (478, 2) landmarks and (478,) depths."""
    obs = np.column_stack([np.asarray(points, np.float64)[:468], np.asarray(z, np.float64)[:468]])
    _, r, _ = rigid_fit(frontal_mesh(), obs)
    f = r @ np.array([0.0, 0.0, -1.0])
    x = r @ np.array([1.0, 0.0, 0.0])
    yaw = math.degrees(math.atan2(f[0], -f[2]))
    pitch = math.degrees(math.atan2(-f[1], -f[2]))
    roll = math.degrees(math.atan2(x[1], x[0]))
    return yaw, pitch, roll
