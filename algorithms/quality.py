"""``quality``: is this photo fit for skin analysis? A score and problem codes, no mask.

The measures (face, size, pose, blur, exposure, evenness of light) and their thresholds are
in :mod:`algorithms.face.photo_quality` and docs/algorithms.md#quality. ``feedback.problems`` lists
codes from no_face, multiple_faces, face_too_small, bad_pose, blurry, under_exposed,
over_exposed, uneven_light. Works without a face (``no_face``, score 0). The one other code,
``low_resolution``, is given by an algorithm in its own feedback (see PROBLEM_CODES).
"""
from __future__ import annotations

import numpy as np

from algorithms.face.photo_quality import assess_quality
from algorithms.face.types import FaceGeometry
from algorithms.base import Algorithm, MetricSpec, register
from algorithms.types import AnalysisResult, Metric

__all__ = ["Quality"]

_SUB = (  # (measure key, metric name, unit)
    ("face_count", "face_count", None),
    ("face_size_px", "face_size", "px"),
    ("yaw_deg", "yaw", "deg"),
    ("pitch_deg", "pitch", "deg"),
    ("roll_deg", "roll", "deg"),
    ("sharpness", "sharpness", None),
    ("highlight_level", "highlight_level", None),
    ("clipped_fraction", "clipped_fraction", None),
    ("evenness_stops", "light_unevenness", "EV"),
)


@register
class Quality(Algorithm):
    tech_name = "quality"
    version = "1.0.0"
    mask_types = ()
    requires_face = False
    description = ("Fitness of the photo for skin analysis: face present, size, pose, blur, "
                   "exposure and evenness of light -> a 0-100 score and problem codes.")
    metrics = (
        MetricSpec("image_quality_score", "bad_good_line", None,
                   "100*sqrt(worst*mean goodness of size, pose, sharpness, exposure, "
                   "evenness); 0 without a face"),
        MetricSpec("face_count", "numeric", None, "faces detected"),
        MetricSpec("face_size", "numeric", "px", "face height in the photo"),
        MetricSpec("yaw", "numeric", "deg", "head turned right (+) / left (-)"),
        MetricSpec("pitch", "numeric", "deg", "chin up (+) / down (-)"),
        MetricSpec("roll", "numeric", "deg", "face turned clockwise in the image"),
        MetricSpec("sharpness", "numeric", None,
                   "RMS Laplacian / mean gradient on the face (blurry below 0.19)"),
        MetricSpec("highlight_level", "numeric", None,
                   "99th percentile of max(R,G,B) on the face, 0-255 (dark below 100)"),
        MetricSpec("clipped_fraction", "numeric", None,
                   "share of face skin with a saturated channel (over above 0.05)"),
        MetricSpec("light_unevenness", "numeric", "EV",
                   "|log2| left/right skin luminance ratio (uneven above 0.75)"),
    )

    def analyse(self, image: np.ndarray, face: FaceGeometry | None) -> AnalysisResult:
        report = assess_quality(image, face)
        if face is not None:
            image_type, (w, h) = "restored", face.restored.size
        else:
            image_type, (w, h) = "original", (int(image.shape[1]), int(image.shape[0]))
        subs = tuple(Metric("quality", name, float(report.measures[key]), "numeric", unit)
                     for key, name, unit in _SUB if key in report.measures)
        return AnalysisResult(
            algorithm_tech_name=self.tech_name, version=self.version, image_type=image_type,
            width=w, height=h,
            main_metric=Metric("quality", "image_quality_score", float(report.score),
                               "bad_good_line"),
            sub_metrics=subs, feedback=report.feedback())
