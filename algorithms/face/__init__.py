"""Face layer: detection, 478 landmarks, named skin regions, restored face, quality.

Pure code (numpy, OpenCV, shapely, LiteRT): no Flask, database or storage. Entry points:

* :func:`analyse_face` (photo -> :class:`FaceGeometry` of the largest face, or NoFaceError);
* :func:`detect_faces` (photo -> list of :class:`Detection`, largest first), for reuse by
  anonymisation and inpainting masks;
* :func:`restored_to_original` (an algorithm's result in restored coordinates -> original).
"""
from algorithms.face.types import REGION_NAMES, FaceGeometry, NoFaceError, Restored, apply_affine
from algorithms.face.detection import Detection, detect_faces  # noqa: E402
from algorithms.face.analyse import analyse_face  # noqa: E402
from algorithms.face.convert import restored_to_original, original_to_restored  # noqa: E402

__all__ = ["REGION_NAMES", "FaceGeometry", "NoFaceError", "Restored", "apply_affine",
           "Detection", "detect_faces", "analyse_face", "restored_to_original",
           "original_to_restored"]
