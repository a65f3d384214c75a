"""Index tables of the 478-point face mesh (MediaPipe order).

"Left" and "right" are the subject's: the subject's right eye (mesh points 33-133, iris
468-472) is on the left of an unmirrored photo. The contours of the face oval, eyes, brows
and lips are MediaPipe's published ones; the nostril outlines and everything in
``regions.py`` are ours. ``MIRROR`` maps each index to its mirror image on the other side of
the face (derived from the mesh itself; see tests/data/make_mesh_data.py).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = [
    "FACE_OVAL", "LIPS_OUTER", "LIPS_INNER", "RIGHT_EYE", "LEFT_EYE", "RIGHT_BROW", "LEFT_BROW",
    "RIGHT_NOSTRIL", "LEFT_NOSTRIL", "RIGHT_IRIS", "LEFT_IRIS", "RIGHT_IRIS_CENTER",
    "LEFT_IRIS_CENTER", "MOUTH_CORNERS", "has_mesh", "mirror", "mirror_indices", "frontal_mesh",
    "NUM_LANDMARKS",
]

NUM_LANDMARKS = 478

# Closed loops, in order.
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
             400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54,
             103, 67, 109)
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37,
              39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82,
              81, 80, 191)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
# Brow: upper edge outer -> inner, then lower edge inner -> outer.
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
# Nostril openings, with a little of the alar rim.
RIGHT_NOSTRIL = (218, 237, 238, 20, 60, 75, 59, 219)
LEFT_NOSTRIL = (438, 457, 458, 250, 290, 305, 289, 439)
# Iris: centre, then edge points (image-right, top, image-left, bottom of an upright face).
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)
RIGHT_IRIS_CENTER = 468
LEFT_IRIS_CENTER = 473
MOUTH_CORNERS = (61, 291)   # the subject's right, then left


@lru_cache(maxsize=1)
def _mesh_data() -> dict:
    return json.loads((Path(__file__).with_name("mesh_data.json")).read_text())


@lru_cache(maxsize=1)
def mirror() -> np.ndarray:
    """(478,) int: ``mirror()[i]`` is the index of the point mirroring point ``i``."""
    m = np.asarray(_mesh_data()["mirror"], dtype=np.intp)
    m.setflags(write=False)
    return m


def mirror_indices(indices) -> tuple[int, ...]:
    """The same polyline on the other side of the face."""
    m = mirror()
    return tuple(int(m[i]) for i in indices)


@lru_cache(maxsize=1)
def frontal_mesh() -> np.ndarray:
    """(468, 3) symmetric frontal mesh (x right, y down, z away; eye corners 100 apart)."""
    f = np.asarray(_mesh_data()["frontal"], dtype=np.float64)
    f.setflags(write=False)
    return f


def has_mesh(points) -> bool:
    """Whether ``points`` are real landmarks (a hand-made face carries an empty mesh).

    >>> import numpy as np
    >>> has_mesh(np.zeros((NUM_LANDMARKS, 2)))
    False
    """
    pts = np.asarray(points)
    return bool(len(pts) == NUM_LANDMARKS and np.ptp(pts[:, :2], axis=0).min() > 0)
