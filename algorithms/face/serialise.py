"""A :class:`FaceGeometry` as JSON-ready data and back (the service stores one per image).

Everything but the restored pixels, which are stored apart as an image: a reloaded face
gives identical results (tests/algorithms/test_pipeline.py).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import shapely
from shapely import wkt

from algorithms.face.types import FaceGeometry, Restored

__all__ = ["face_to_dict", "face_from_dict"]


def face_to_dict(face: FaceGeometry) -> dict[str, Any]:
    """Everything of a FaceGeometry but the restored pixels, as JSON-ready data."""
    return {
        "image_size": list(face.image_size),
        "landmarks": face.landmarks.tolist(),  # unrounded: a reloaded face scores the same
        "box": [float(v) for v in face.box],
        "detection_score": float(face.detection_score),
        "face_count": int(face.face_count),
        "px_per_mm": float(face.px_per_mm),
        "restored": {"size": list(face.restored.size),
                     "to_original": face.restored.to_original.tolist(),
                     "from_original": face.restored.from_original.tolist(),
                     "px_per_mm": float(face.restored.px_per_mm)},
        "regions": {name: shapely.to_wkt(geom, rounding_precision=3)
                    for name, geom in face.regions.items()},
        "landmarks_z": (None if face.landmarks_z is None
                        else face.landmarks_z.tolist()),
        "pose": None if face.pose is None else [float(v) for v in face.pose],
    }


def face_from_dict(data: Mapping[str, Any], restored_image: np.ndarray) -> FaceGeometry:
    """Inverse of :func:`face_to_dict`, given the stored restored image."""
    r = data["restored"]
    restored = Restored(image=restored_image,
                        to_original=np.asarray(r["to_original"], dtype=np.float64),
                        from_original=np.asarray(r["from_original"], dtype=np.float64),
                        px_per_mm=float(r["px_per_mm"]))
    return FaceGeometry(
        image_size=tuple(data["image_size"]),
        landmarks=np.asarray(data["landmarks"], dtype=np.float64),
        box=tuple(data["box"]), detection_score=float(data["detection_score"]),
        face_count=int(data["face_count"]), px_per_mm=float(data["px_per_mm"]),
        restored=restored,
        regions={name: wkt.loads(text) for name, text in data["regions"].items()},
        landmarks_z=(None if data.get("landmarks_z") is None
                     else np.asarray(data["landmarks_z"], dtype=np.float64)),
        pose=None if data.get("pose") is None else tuple(data["pose"]))
