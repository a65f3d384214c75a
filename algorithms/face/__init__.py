"""Face layer: detection, 478 landmarks, named skin regions, restored face, quality."""
from algorithms.face.types import REGION_NAMES, FaceGeometry, NoFaceError, Restored, apply_affine

__all__ = ["REGION_NAMES", "FaceGeometry", "NoFaceError", "Restored", "apply_affine"]
