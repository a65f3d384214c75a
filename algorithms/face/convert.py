"""Move an AnalysisResult between the restored and the original photo's coordinates."""
from __future__ import annotations

from algorithms.face.types import FaceGeometry
from algorithms.types import AnalysisResult, check_image_type

__all__ = ["restored_to_original", "original_to_restored", "to_image_type"]


def restored_to_original(result: AnalysisResult, face: FaceGeometry) -> AnalysisResult:
    """``result`` (restored coordinates) in the original photo's pixels.

    Examples
    --------
    >>> original = restored_to_original(result, face)                # doctest: +SKIP
    >>> (original.width, original.height) == face.image_size         # doctest: +SKIP
    True
    """
    if result.image_type == "original":
        return result
    w, h = face.image_size
    return result.transformed(face.restored.to_original, width=w, height=h,
                              image_type="original")


def original_to_restored(result: AnalysisResult, face: FaceGeometry) -> AnalysisResult:
    """``result`` (original coordinates) in the restored image's pixels."""
    if result.image_type == "restored":
        return result
    w, h = face.restored.size
    return result.transformed(face.restored.from_original, width=w, height=h,
                              image_type="restored")


def to_image_type(result: AnalysisResult, face: FaceGeometry | None,
                  image_type: str) -> AnalysisResult:
    """``result`` in ``image_type`` coordinates (a result without a face stays as it is)."""
    check_image_type(image_type)
    if face is None or result.image_type == image_type:
        return result
    if image_type == "original":
        return restored_to_original(result, face)
    return original_to_restored(result, face)


