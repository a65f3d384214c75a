"""Derive ``algorithms/face/mesh_data.json`` from our own landmarks on the six portraits.

Run once by hand (``.venv/bin/python tests/data/make_mesh_data.py``) after a change to the
landmark pipeline; the output is committed. It holds two things:

* ``mirror``: for each of the 478 landmark indices, the index of its mirror image (the same
  point on the other side of the face; the 28 midline points map to themselves). Found by
  matching the mean portrait mesh against its own reflection (Hungarian assignment in 3D,
  re-aligned until stable); it is an involution, and the iris points follow the mesh.
* ``frontal``: a frontal, left-right symmetric mean mesh (468 x 3; x right, y down, z away
  from the camera; unit = the distance between the eye corners 33 and 263 / 100), the mean
  of the six portraits (frontal studio photos) and their reflections. Head pose is the
  rotation that best maps it onto a face's 3D mesh (algorithms/face/pose.py), so "frontal"
  means "as frontal as these six studio portraits on average".

The portraits: Face Research Lab London Set, CC BY 4.0 (see tests/data/photos/README.md).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.optimize import linear_sum_assignment

from algorithms.face import detection, landmark_model
from algorithms.face.roi import Pyramid

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ROOT / "tests" / "data" / "photos"
OUT = ROOT / "algorithms" / "face" / "mesh_data.json"
IRIS_MIRROR = [473, 476, 475, 474, 477, 468, 471, 470, 469, 472]


def umeyama(src, dst, with_scale=True):
    """Similarity (s, R, t) minimising |s R src + t - dst|^2."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a / len(a))
    d = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2, 2] = -1
    r = u @ d @ vt
    s = (sig * np.diag(d)).sum() / ((a ** 2).sum() / len(a)) if with_scale else 1.0
    return s, r, mu_d - s * r @ mu_s


def main():
    shapes = []
    for p in sorted(PHOTOS.glob("london_*.jpg")):
        with Image.open(p) as im:
            img = np.asarray(im.convert("RGB"))
        pyr = Pyramid(img)
        lm = landmark_model.landmarks_from_detection(pyr, detection.detect_faces(pyr)[0])
        shapes.append(np.column_stack([lm.points[:468], lm.z[:468]]))
    # Generalised Procrustes: align every mesh to the running mean.
    mean = shapes[0] - shapes[0].mean(0)
    for _ in range(5):
        aligned = []
        for sh in shapes:
            sc, r, t = umeyama(sh, mean)
            aligned.append((sc * (r @ sh.T)).T + t)
        mean = np.mean(aligned, 0)
    # Turn the mean to the portraits' mean orientation in their cameras.
    rots = [umeyama(mean, sh)[1] for sh in shapes]
    u, _, vt = np.linalg.svd(np.mean(rots, 0))
    cam = (u @ vt @ (mean - mean.mean(0)).T).T
    # Mirror map: match the mesh against its reflection, re-aligning until stable.
    mirrored = cam * [-1, 1, 1]
    for _ in range(10):
        cost = np.linalg.norm(mirrored[:, None] - cam[None], axis=2)
        _, perm = linear_sum_assignment(cost)
        _, r, t = umeyama(mirrored, cam[perm], with_scale=False)
        mirrored = (r @ mirrored.T).T + t
    assert (perm[perm] == np.arange(468)).all(), "mirror map is not an involution"
    # Face frame: x = normal of the symmetry plane (pairs' differences), z = the camera axis
    # made orthogonal to it. Yaw and roll become zero by symmetry; pitch stays the
    # portraits' mean pitch in their cameras.
    diffs = cam[np.arange(468)] - cam[perm]
    diffs = diffs[np.linalg.norm(diffs, axis=1) > 1e-6]
    x = np.linalg.svd(diffs, full_matrices=False)[2][0]
    if np.dot(x, cam[263] - cam[33]) < 0:
        x = -x
    z = np.array([0.0, 0.0, 1.0]) - x[2] * x
    z /= np.linalg.norm(z)
    y = np.cross(z, x)
    frontal = (cam - (cam[33] + cam[263]) / 2) @ np.stack([x, y, z]).T
    frontal *= 100.0 / np.linalg.norm(frontal[263] - frontal[33])
    frontal = (frontal + (frontal * [-1, 1, 1])[perm]) / 2   # exactly symmetric
    mirror = [int(i) for i in perm] + IRIS_MIRROR
    OUT.write_text(json.dumps({
        "about": "Derived by tests/data/make_mesh_data.py from our landmarks on the six "
                 "portraits of tests/data/photos (Face Research Lab London Set, CC BY 4.0, "
                 "DeBruine & Jones 2017, doi:10.6084/m9.figshare.5047666.v5).",
        "mirror": mirror,
        "frontal_units": "x right, y down, z away from the camera; eye corners 33-263 = 100",
        "frontal": [[round(float(v), 2) for v in row] for row in frontal],
    }, separators=(",", ":")))
    print(f"wrote {OUT}; midline points: {int((perm == np.arange(468)).sum())}")


if __name__ == "__main__":
    main()
