"""``analyse_face``: photo -> FaceGeometry of its largest face (the face layer's entry point)."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import shapely
from shapely.affinity import affine_transform
from shapely.geometry import box as shapely_box

from algorithms.face.detection import Detection, _as_rgb, detect_faces
from algorithms.face.landmark_model import PRESENCE_THRESHOLD, landmarks_from_detection
from algorithms.face.pose import head_pose
from algorithms.face.regions import build_regions
from algorithms.face.restore import restore
from algorithms.face.roi import Pyramid
from algorithms.face.scale import estimate_scale
from algorithms.face.types import FaceGeometry, NoFaceError, apply_affine

__all__ = ["analyse_face", "face_from_landmarks", "DETECTORS"]


def face_from_landmarks(pyr: Pyramid, points: np.ndarray, z: np.ndarray | None, *,
                        detection: Detection | None = None, face_count: int = 1
                        ) -> FaceGeometry:
    """Everything derived from landmarks: scale, restored image, regions, pose."""
    w, h = pyr.size
    scale = estimate_scale(points)
    restored = restore(pyr, points, scale.px_per_mm)
    pts_r = apply_affine(restored.from_original, points)
    # The photo's own area in restored pixels: a face cut by the frame keeps its regions
    # inside the photo.
    m = restored.from_original
    photo = affine_transform(shapely_box(0, 0, w, h),
                             [m[0, 0], m[0, 1], m[1, 0], m[1, 1], m[0, 2], m[1, 2]])
    regions = {}
    for name, g in build_regions(pts_r).items():
        if not photo.contains(g):
            g = g.intersection(photo)
        regions[name] = g if not g.is_empty else shapely.Polygon()
    pose = head_pose(points, z) if z is not None else None
    if detection is None:
        x0, y0 = points.min(0)
        x1, y1 = points.max(0)
        box, score = (float(x0), float(y0), float(x1), float(y1)), 1.0
    else:
        box, score = detection.box, detection.score
    return FaceGeometry(image_size=(w, h), landmarks=np.asarray(points, np.float64),
                        box=box, detection_score=float(score), face_count=int(face_count),
                        px_per_mm=scale.px_per_mm, restored=restored, regions=regions,
                        landmarks_z=None if z is None else np.asarray(z, np.float64),
                        pose=pose)


DETECTORS = ("both", "auto", "short", "full")
# A close-up that cuts the face (forehead, chin or cheeks out of the frame) defeats the
# detector, which was trained on whole faces: it finds nothing, or a box on part of the
# face and a mesh slid down it (measured: london_107 and 099 framed at 0.6-0.7 of their
# face's height, as a 12 MP close-up of nose and cheeks: no face, or the mesh's mouth on
# the chin). On a face within CUT_MARGIN of the frame's edge (or none found), detection
# runs again on the photo padded by PAD_FRACTION of its larger side with neutral grey, where
# the whole face fits, and the landmarks are shifted back (some outside the photo: the
# regions are cut to it).
CUT_MARGIN = 0.01
PAD_FRACTION = 0.3
PAD_GREY = (128, 128, 128)
# The padded search works on the photo reduced to this side first: a face cut by the frame
# fills it, and the landmark model reads it at 256 px anyway; a padded 12 MP copy would be
# 35 MP (100 MB).
PAD_WORK_SIDE = 1280


def analyse_face(image: np.ndarray, *, detector: str = "both") -> FaceGeometry:
    """Face geometry of the largest face in an RGB uint8 photo (H, W, 3).

    Detects faces (upright, then turned), keeps those the landmark model confirms, reads
    the 478 landmarks of the largest one and derives the scale, restored image, regions and
    pose. ``face_count`` tells how many faces were found.

    Parameters
    ----------
    image : (H, W, 3) uint8 array
        The original photo, RGB (grey or RGBA accepted), EXIF orientation applied.
    detector : {"both", "auto", "short", "full"}
        Which BlazeFace models look for faces (see :func:`detect_faces`). "both" (default)
        also finds small background faces that short range misses, for ``face_count``;
        "auto" saves the full-range pass (~4 ms) when short range finds a face.

    Raises
    ------
    NoFaceError
        No face in the photo.

    Examples
    --------
    >>> from skimage import data
    >>> face = analyse_face(data.astronaut())                 # doctest: +SKIP
    >>> face.landmarks.shape, face.restored.size              # doctest: +SKIP
    ((478, 2), (1024, 1024))
    """
    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {', '.join(DETECTORS)}; got {detector!r}")
    rgb = _as_rgb(image)
    pyr = Pyramid(rgb)
    detections = detect_faces(pyr, model=detector)
    found = _largest_confirmed(pyr, detections)
    if found is None or _cut_by_frame(found[1].box, pyr.size):
        padded = _found_padded(rgb, detector)
        if padded is not None:
            found, detections = padded
    if found is None:
        raise NoFaceError("no face found in the image" if not detections else
                          "a face was detected but its landmarks could not be found")
    lm, det = found
    return face_from_landmarks(pyr, lm.points, lm.z, detection=det,
                               face_count=len(detections))


def _largest_confirmed(pyr: Pyramid, detections):
    """(landmarks, detection) of the largest face the landmark model confirms, or None."""
    for det in detections:          # largest first
        lm = landmarks_from_detection(pyr, det)
        if lm.presence >= PRESENCE_THRESHOLD:
            return lm, det
    return None


def _cut_by_frame(box, size) -> bool:
    w, h = size
    x0, y0, x1, y1 = box
    m = CUT_MARGIN * max(w, h)
    return x0 < m or y0 < m or x1 > w - m or y1 > h - m


def _found_padded(rgb: np.ndarray, detector: str):
    """:func:`_largest_confirmed` on the photo (reduced to PAD_WORK_SIDE) padded with grey,
    mapped back to the photo's pixels, with the padded photo's detections; None when it
    finds no face."""
    k = min(1.0, PAD_WORK_SIDE / max(rgb.shape[:2]))
    small = rgb if k == 1.0 else cv2.resize(
        rgb, (round(rgb.shape[1] * k), round(rgb.shape[0] * k)), interpolation=cv2.INTER_AREA)
    pad = int(round(PAD_FRACTION * max(small.shape[:2])))
    big = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=PAD_GREY)
    pyr = Pyramid(big)
    detections = detect_faces(pyr, model=detector)
    found = _largest_confirmed(pyr, detections)
    if found is None:
        return None
    lm, det = found

    def back(xy):
        return (np.asarray(xy, np.float64) - pad) / k

    x0, y0 = back(det.box[:2])
    x1, y1 = back(det.box[2:])
    det = dataclasses.replace(det, box=(float(x0), float(y0), float(x1), float(y1)),
                              keypoints=back(det.keypoints))
    lm = dataclasses.replace(lm, points=back(lm.points),
                             z=np.asarray(lm.z, np.float64) / k)
    return (lm, det), detections
