"""The default detector of the video pipeline: faces, cheaper than the photo path.

Video frames come 25 a second and the tracker absorbs a detection's wobble, so the photo
anonymiser's search (iris model, a re-centred second mesh pass, turned copies of the photo)
is dropped; what is kept finds the same faces down to ~5 % of the frame's height. The
pipeline hands it the frame reduced to ``detect_size`` (its long side, default 960 px):
BlazeFace sees every frame through a 128 or 192 px input anyway, so a 1080p frame brings
nothing the reduced one lacks except a sharper crop for the landmark model.
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from algorithms.detect.types import Detected

__all__ = ["face_detector", "MAX_FACES"]

MAX_FACES = 64


def face_detector(threshold: float = 0.5, *, detector: str = "video",
                  max_faces: int = MAX_FACES) -> Callable[[np.ndarray], list[Detected]]:
    """Faces as a per-frame function RGB -> detections.

    ``"video"`` (default): BlazeFace short + full range on the whole frame and the full-range
    model on square tiles of the frame's height (two on 16:9), each detection
    confirmed by the landmark model, whose same single pass (memoised) gives the face oval;
    no iris model, no re-centred second mesh pass, no search of turned frames: 3x cheaper
    than the photo path at 1080p, and the tracker absorbs a detection's wobble. A face's box
    is the union of the detector's box and the oval's bounds, as for photos.
    ``"tiled"``: the photo anonymiser's own detection (adds the full-range model on tiles:
    faces down to ~2 % of the frame's width; ~2x slower at 1080p).
    """
    from algorithms.detect.faces import _tile_centres, detect_face_shapes, part_contour
    from algorithms.face.detection import _SPECS, _detections, _verified, detect_faces
    from algorithms.face.landmark_model import _mesh, face_roi
    from algorithms.face.roi import Pyramid, Roi, crop

    if detector not in ("video", "tiled", "short", "full", "both"):
        raise ValueError(f"detector must be video, tiled, short, full or both; got {detector!r}")

    def detect_tiled(rgb: np.ndarray) -> list[Detected]:
        return detect_face_shapes(Pyramid(rgb), detector=detector, parts=("face",),
                                  confidence=threshold, max_faces=max_faces)

    def _whole_and_halves(pyr, threshold):
        # the whole frame (short + full range), plus the full-range model on square tiles
        # of the frame's short side along its long side (2 on a 16:9 frame): faces of ~5 %
        # of the frame's height are found (the whole 16:9 frame alone needs ~9 %)
        found = detect_faces(pyr, model="both", min_score=threshold, verify=False,
                             try_rotations=False)
        w, h = pyr.size
        side = min(w, h)
        if max(w, h) > 1.2 * side:
            size = _SPECS["full"].size
            for c in _tile_centres(max(w, h), side):
                roi = Roi(c, h / 2, side, side) if w > h else Roi(w / 2, c, side, side)
                canvas, m = crop(pyr, roi, size, size, border=cv2.BORDER_CONSTANT)
                found += _detections(canvas, m, "full", threshold)
        kept = []
        for d in sorted(found, key=lambda d: (-d.area, -d.score)):
            x0, y0, x1, y1 = d.box
            if not any(max(0.0, min(x1, k.box[2]) - max(x0, k.box[0]))
                       * max(0.0, min(y1, k.box[3]) - max(y0, k.box[1])) > 0.5 * d.area
                       for k in kept):
                kept.append(d)
        return sorted(_verified(pyr, kept), key=lambda d: -d.area)

    def detect_video(rgb: np.ndarray) -> list[Detected]:
        pyr = Pyramid(rgb)
        h, w = rgb.shape[:2]
        out = []
        for det in _whole_and_halves(pyr, threshold)[:max_faces]:
            mesh, _ = _mesh(pyr, face_roi(det, pyr.size))      # memoised: the verify pass
            contour = part_contour(mesh[:, :2], "face")
            x0, y0, x1, y1 = contour.bounds if not contour.is_empty else det.box
            bx = det.box
            box = (max(0.0, min(x0, bx[0])), max(0.0, min(y0, bx[1])),
                   min(float(w), max(x1, bx[2])), min(float(h), max(y1, bx[3])))
            out.append(Detected("face", det.score, contour, box, "contour"))
        return out

    return detect_video if detector == "video" else detect_tiled
