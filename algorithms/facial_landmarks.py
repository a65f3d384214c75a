"""``facial_landmarks``: the 478 face-mesh points as a point mask (MediaPipe index order).

Points 0-467 are MediaPipe's face_landmark mesh, 468-472 the iris of the subject's right
eye (centre first), 473-477 the iris of the subject's left eye, so the published MediaPipe
index maps apply. Each point carries its ``index`` and a drawing ``radius`` (0.5 mm).
The result is in restored coordinates, like every face algorithm; the service maps it to
the original photo through the face's affine transform.
"""
from __future__ import annotations

import numpy as np
from shapely.geometry import Point

from algorithms.face import indices as ix
from algorithms.face.scale import estimate_scale
from algorithms.face.types import FaceGeometry, NoFaceError
from algorithms.base import Algorithm, MetricSpec, register
from algorithms.types import AnalysisResult, Feature, Mask, Metric

__all__ = ["FacialLandmarks", "landmark_features"]

POINT_RADIUS_MM = 0.5


def landmark_features(points: np.ndarray, *, radius: float) -> tuple[Feature, ...]:
    """One point Feature per landmark with its ``index`` and ``radius`` (pixels).

    Examples
    --------
    >>> feats = landmark_features(np.zeros((478, 2)), radius=2.0)
    >>> len(feats), feats[473].properties["index"]
    (478, 473)
    """
    return tuple(Feature(Point(float(x), float(y)), {"index": i, "radius": float(radius)})
                 for i, (x, y) in enumerate(np.asarray(points, dtype=np.float64)[:, :2]))


@register
class FacialLandmarks(Algorithm):
    tech_name = "facial_landmarks"
    version = "1.0.0"
    mask_types = ("point_mask",)
    description = ("478 face-mesh points in MediaPipe order (468 mesh + 2 x 5 iris) from "
                   "MediaPipe's face_landmark and iris_landmark models run with LiteRT.")
    metrics = (
        MetricSpec("px_per_mm", "numeric", "px/mm",
                   "scale of the original photo from the iris diameter (11.7 mm)"),
        MetricSpec("interpupillary_distance", "numeric", "mm",
                   "distance between the iris centres at that scale"),
    )

    def analyse(self, image: np.ndarray, face: FaceGeometry | None) -> AnalysisResult:
        if face is None:
            raise NoFaceError("facial_landmarks needs a face and none was found in the image")
        pts = face.landmarks_restored
        radius = POINT_RADIUS_MM * face.restored.px_per_mm
        scale = estimate_scale(face.landmarks)
        w, h = face.restored.size
        return AnalysisResult(
            algorithm_tech_name=self.tech_name, version=self.version, image_type="restored",
            width=w, height=h,
            sub_metrics=(
                Metric("facial_landmarks", "px_per_mm", float(face.px_per_mm), "numeric",
                       "px/mm"),
                Metric("facial_landmarks", "interpupillary_distance", float(scale.ipd_mm),
                       "numeric", "mm"),
            ),
            masks=(Mask("point_mask", "facial_landmarks",
                        landmark_features(pts, radius=radius)),),
            feedback={"face_count": int(face.face_count), "scale_method": scale.method,
                      "index_order": "mediapipe_face_mesh_478",
                      "iris": {"right": list(ix.RIGHT_IRIS), "left": list(ix.LEFT_IRIS)}},
        )
