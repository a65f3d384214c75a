"""478 face landmarks: MediaPipe's face_landmark (468 mesh points) + iris_landmark (2 x 5).

Follows MediaPipe's face mesh graph in static-image mode:

1. ROI from the detection: its box, turned so the eye keypoints are level, made square on
   the long side and enlarged 1.5x (``face_detection_front_detection_to_roi``).
2. face_landmark on that ROI sampled to 192 x 192 (values in [0, 1], border replicated):
   468 points (x, y, z) and a face-presence score (sigmoid; below 0.5 means "no face").
3. For each eye, an ROI on its two corners (33-133 and 362-263), square, 2.3x
   (``iris_landmark_landmarks_to_roi``), sampled to 64 x 64; the second eye is mirrored so
   the model always sees the same side. iris_landmark gives 71 eye-contour points and 5 iris
   points (centre, then four on the iris edge). The iris points are appended: 468-472 for
   the eye of mesh points 33/133 (the subject's right eye), 473-477 for the eye of 362/263
   (the subject's left eye), as in MediaPipe's refined face mesh. The 71 contour points
   could replace the mesh's eye points (MediaPipe's iris graph does, ``REFINE_EYES``); they
   are left out because they moved the eye points away from MediaPipe's refined mesh.
4. Faces far from upright or upside down: see :func:`_settle`.

Every point is returned in the original photo's pixels; z is in the same pixel scale
(relative depth, smaller is nearer the camera).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from algorithms import model_files
from algorithms.face.roi import Pyramid, Roi, crop, roi_from_points
from algorithms.face.types import Detection

__all__ = ["Landmarks", "landmarks_from_detection", "landmarks_from_roi", "roi_from_landmarks",
           "face_presence", "face_roi",
           "EYE_REFINE_INDICES", "REFINE_EYES"]

MESH_SIZE = 192
IRIS_SIZE = 64
MESH_ROI_SCALE = 1.5
IRIS_ROI_SCALE = 2.3
PRESENCE_THRESHOLD = 0.5
UPRIGHT_LOGIT = 15.0    # presence logit under which the upside-down reading is tried too
MAX_PASSES = 4
REROI_ANGLE = 10.0      # degrees
REROI_SHIFT = 0.15      # fraction of the ROI size
# Replace the mesh's eye points by the iris model's eye contours (MediaPipe iris graph).
REFINE_EYES = False

# Mesh index of each of the iris model's 71 eye-contour points, first eye (33/133) then the
# second (362/263): eye contour, then rings ("halos") further out, as in MediaPipe's
# UpdateFaceLandmarksCalculator.
EYE_REFINE_INDICES = np.array([
    # eye lower contour, upper contour (without corners)
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
    # halo x2 lower, upper
    130, 25, 110, 24, 23, 22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190,
    # halo x3 lower, upper
    226, 31, 228, 229, 230, 231, 232, 233, 244, 113, 225, 224, 223, 222, 221, 189,
    # halo x4 upper (eyebrow inner contour)
    35, 124, 46, 53, 52, 65,
    # halo x5 lower, upper (eyebrow outer contour)
    143, 111, 117, 118, 119, 120, 121, 128, 245, 156, 70, 63, 105, 66, 107, 55, 193,
    # second eye, same order
    263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
    359, 255, 339, 254, 253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414,
    446, 261, 448, 449, 450, 451, 452, 453, 464, 342, 445, 444, 443, 442, 441, 413,
    265, 353, 276, 283, 282, 295,
    372, 340, 346, 347, 348, 349, 350, 357, 465, 383, 300, 293, 334, 296, 336, 285, 417,
]).reshape(2, 71)


@dataclass(frozen=True, eq=False)
class Landmarks:
    points: np.ndarray        # (478, 2) original pixels
    z: np.ndarray             # (478,) relative depth, pixels
    presence: float           # face-presence probability of face_landmark
    roi: Roi                  # the face ROI the mesh was read from


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x)))))


def _mesh(pyr: Pyramid, roi: Roi) -> tuple[np.ndarray, float]:
    """(468 x 3 mesh, face-presence logit) on ``roi``, memoised per photo.

    The verification pass of detect_faces and the first pass here read the same ROI.
    """
    cache = pyr.memo.setdefault("mesh", {})
    if roi not in cache:
        cache[roi] = _run_mesh(pyr, roi)
    mesh, logit = cache[roi]
    return mesh.copy(), logit


def _run_mesh(pyr: Pyramid, roi: Roi) -> tuple[np.ndarray, float]:
    img, m = crop(pyr, roi, MESH_SIZE, MESH_SIZE)
    tensor = (img.astype(np.float32) * (1.0 / 255.0))[None]
    raw, score = model_files.run("face_landmark", tensor)
    pts = raw.reshape(468, 3).astype(np.float64)
    xy = pts[:, :2] @ m[:, :2].T + m[:, 2]
    z = pts[:, 2] * (roi.width / MESH_SIZE)
    return np.column_stack([xy, z]), float(score.reshape(-1)[0])


def _eye(pyr: Pyramid, p0, p1, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    box = (min(p0[0], p1[0]), min(p0[1], p1[1]), max(p0[0], p1[0]), max(p0[1], p1[1]))
    roi = roi_from_points(p0, p1, box, scale=IRIS_ROI_SCALE)
    img, m = crop(pyr, roi, IRIS_SIZE, IRIS_SIZE, flip=flip)
    tensor = (img.astype(np.float32) * (1.0 / 255.0))[None]
    contour, iris = model_files.run("iris_landmark", tensor)
    zscale = roi.width / IRIS_SIZE

    def project(raw, n):
        p = raw.reshape(n, 3).astype(np.float64)
        xy = p[:, :2] @ m[:, :2].T + m[:, 2]
        return np.column_stack([xy, p[:, 2] * zscale])

    return project(contour, 71), project(iris, 5)


def _settle(pyr: Pyramid, roi: Roi) -> tuple[np.ndarray, float, Roi]:
    """Run the mesh on ``roi``; re-run it on the mesh's own ROI while that differs a lot.

    MediaPipe (static images) reads the mesh once, from the detection's ROI. The mesh model
    leans towards the orientation of the ROI it is given, so when the mesh's own ROI (eye
    corners 33 -> 263 level, its bounds, 1.5x) is turned more than REROI_ANGLE degrees from
    the ROI used, or moved or resized by more than REROI_SHIFT of its size, the mesh is read
    again from its own ROI, at most MAX_PASSES times in all.

    Upside-down faces: the detectors report them with their eyes level but the wrong way up,
    and the mesh model then still finds "a face", less surely. The presence logit tells: 22-43
    the right way up on our photos, 1.5-12 upside down. Below UPRIGHT_LOGIT the ROI turned by
    180 degrees is read too and the surer reading wins.

    A face whose detection is good takes one pass: exactly MediaPipe's result.
    """
    runs = [(*_mesh(pyr, roi), roi)]
    if runs[0][1] < UPRIGHT_LOGIT:
        r = Roi(roi.cx, roi.cy, roi.width, roi.height, roi.angle + math.pi)
        runs.append((*_mesh(pyr, r), r))
    mesh, logit, roi = max(runs, key=lambda t: t[1])
    flipped = len(runs) > 1 and roi is runs[1][2]
    for k in range(MAX_PASSES - 1):
        new = roi_from_landmarks(mesh[:, :2])
        turn = abs(math.degrees(math.remainder(new.angle - roi.angle, 2 * math.pi)))
        shift = math.hypot(new.cx - roi.cx, new.cy - roi.cy) / roi.width
        resize = abs(math.log(new.width / roi.width))
        # An upside-down detection's box is unreliable: read the mesh's own ROI at least once.
        settled = turn <= REROI_ANGLE and shift <= REROI_SHIFT and resize <= REROI_SHIFT
        if settled and not (flipped and k == 0):
            break
        roi = new
        mesh, logit = _mesh(pyr, roi)
    return mesh, _sigmoid(logit), roi


def landmarks_from_roi(pyr: Pyramid, roi: Roi) -> Landmarks:
    mesh, presence, roi = _settle(pyr, roi)
    eyes = [_eye(pyr, mesh[33, :2], mesh[133, :2], flip=False),
            _eye(pyr, mesh[362, :2], mesh[263, :2], flip=True)]
    if REFINE_EYES:
        for k, (contour, _) in enumerate(eyes):
            mesh[EYE_REFINE_INDICES[k], :2] = contour[:, :2]
    # Iris z is relative to its eye crop: express it relative to the mesh like the contour.
    irises = []
    for k, (contour, iris) in enumerate(eyes):
        offset = np.mean(mesh[EYE_REFINE_INDICES[k, :16], 2] - contour[:16, 2])
        iris = iris + [0.0, 0.0, offset]
        if k == 1:
            # The second eye was read mirrored: put its edge points back in the first eye's
            # order (centre, then the image-right, top, image-left and bottom edge points).
            iris = iris[[0, 3, 2, 1, 4]]
        irises.append(iris)
    pts = np.concatenate([mesh, irises[0], irises[1]])
    return Landmarks(points=pts[:, :2], z=pts[:, 2], presence=presence, roi=roi)


def face_roi(det: Detection, image_size=None) -> Roi:
    """MediaPipe's ROI from a detection: eye keypoints level, square, 1.5x."""
    return roi_from_points(det.keypoints[0], det.keypoints[1], det.box, scale=MESH_ROI_SCALE)


def roi_from_landmarks(points: np.ndarray) -> Roi:
    """MediaPipe's tracking ROI from a mesh: eye corners 33 -> 263 level, bounds, square, 1.5x."""
    x0, y0 = points[:468].min(0)
    x1, y1 = points[:468].max(0)
    return roi_from_points(points[33], points[263], (x0, y0, x1, y1), scale=MESH_ROI_SCALE)


def face_presence(pyr: Pyramid, det: Detection) -> float:
    """The landmark model's face-presence probability on a detection's ROI.

    One pass; a second one on the ROI turned upside down when the first says "no face".
    """
    roi = face_roi(det, pyr.size)
    logit = _mesh(pyr, roi)[1]
    if logit < 0:
        logit = max(logit, _mesh(pyr, Roi(roi.cx, roi.cy, roi.width, roi.height,
                                          roi.angle + math.pi))[1])
    return _sigmoid(logit)


def landmarks_from_detection(pyr: Pyramid, det: Detection) -> Landmarks:
    return landmarks_from_roi(pyr, face_roi(det, pyr.size))
