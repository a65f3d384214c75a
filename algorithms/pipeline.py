"""One photo through the algorithms: pure orchestration, no Flask, database or storage.

:class:`PhotoAnalysis` holds one photo's decoded pixels, finds its face once, runs each
algorithm once and hands results out in either coordinate space. The HTTP service wraps it
with its caches (database rows, stored objects); ``rasterisation analyse`` uses it directly.

Example
-------
>>> from skimage import data
>>> photo = PhotoAnalysis(data.astronaut())          # doctest: +SKIP
>>> photo.result("pores", image_type="original").main_metric.value   # doctest: +SKIP
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from typing import TYPE_CHECKING

from algorithms import registry
from algorithms.face import FaceGeometry, NoFaceError, analyse_face
from algorithms.face.convert import to_image_type
from algorithms.types import AnalysisResult, check_image_type

if TYPE_CHECKING:
    from algorithms.base import Algorithm

__all__ = ["MaskError", "NoFace", "PhotoAnalysis", "in_image_type", "resolve", "thread_map"]

_UNSET = object()
_POOLS: dict[int, ThreadPoolExecutor] = {}
MAX_POOLS = 2  # thread pools kept (one per thread count asked for; a service uses one)
_POOLS_LOCK = threading.Lock()


def thread_map(function, items, *, threads: int) -> list:
    """``[function(item) for item in items]`` on up to ``threads`` long-lived threads.

    The threads live as long as the process: the face models keep one interpreter per
    thread, so fresh threads per request would rebuild them every time. Created lazily, so a
    gunicorn worker makes its own after the fork.
    """
    items = list(items)
    if threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with _POOLS_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            while len(_POOLS) >= MAX_POOLS:  # bounded: drop the oldest pool's threads
                _POOLS.pop(next(iter(_POOLS))).shutdown(wait=False)
            pool = _POOLS[threads] = ThreadPoolExecutor(max_workers=threads,
                                                        thread_name_prefix="analysis")
    return list(pool.map(function, items))


class MaskError(ValueError):
    """A per-mask failure the client can act on (unknown algorithm, no face, ...)."""


class NoFace(MaskError):
    """The photo has no face: one error, one message, wherever it is found out.

    >>> str(NoFace())[:31]
    'no face was found in this image'
    """

    MESSAGE = ("no face was found in this image: it has no restored image and the algorithms "
               "that need a face have no result (image_type=original serves the others)")

    def __init__(self):
        super().__init__(self.MESSAGE)


def in_image_type(result: AnalysisResult, face: FaceGeometry | None, image_type: str
                  ) -> AnalysisResult:
    """``result`` expressed in ``image_type`` ('original' or 'restored') pixel coordinates.

    Results are computed in one space (restored when a face was used) and mapped through the
    face's stored affine transform, so both spaces always describe the same findings. A
    result of a photo without a face exists in the original space only.
    """
    check_image_type(image_type)
    if result.image_type == image_type:
        return result
    if face is None:
        raise NoFace()
    return to_image_type(result, face, image_type)


def resolve(algorithm) -> "Algorithm":
    """The :class:`~algorithms.base.Algorithm` itself, given it or its tech_name: a request
    looks each name up once, at its edge, and passes the object down.

    >>> resolve("pores").tech_name
    'pores'
    >>> resolve(resolve("pores")) is resolve("pores")
    True
    """
    if not isinstance(algorithm, str):
        return algorithm
    try:
        return registry.get(algorithm)
    except registry.UnknownAlgorithm as exc:
        raise MaskError(str(exc)) from None


class PhotoAnalysis:
    """Lazily computed face geometry and algorithm results of one photo.

    Parameters
    ----------
    image : ndarray
        The original photo, RGB uint8 (H, W, 3), EXIF orientation already applied.
    face : FaceGeometry or None, optional
        A face geometry found earlier (from a cache). Omit it to detect on first use.
    on_result : callable, optional
        ``on_result(tech_name, seconds)`` after each algorithm has run.
    """

    def __init__(self, image: np.ndarray, *, face: FaceGeometry | None | object = _UNSET,
                 on_result=None):
        self.image = image
        self._face = face
        # called as on_result(tech_name, seconds) after each algorithm ran (the service's
        # metrics; the engine itself measures nothing)
        self._on_result = on_result
        self._results: dict[str, AnalysisResult] = {}
        self._lock = threading.Lock()

    @property
    def original_size(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return w, h

    @property
    def face(self) -> FaceGeometry | None:
        """The largest face, or None when there is none (detected once)."""
        if self._face is _UNSET:
            try:
                self._face = analyse_face(self.image)
            except NoFaceError:
                self._face = None
        return self._face  # type: ignore[return-value]

    @property
    def face_computed(self) -> bool:
        return self._face is not _UNSET

    def picture(self, image_type: str) -> np.ndarray:
        """The pixels of ``image_type``: the photo itself or the restored face."""
        check_image_type(image_type)
        if image_type == "original":
            return self.image
        if self.face is None:
            raise NoFace()
        return self.face.restored.image

    def native_result(self, algorithm) -> AnalysisResult:
        """The algorithm's result in the space it computes in (cached per instance);
        ``algorithm`` is the object or its tech_name."""
        algorithm = resolve(algorithm)
        tech_name = algorithm.tech_name
        with self._lock:
            if tech_name in self._results:
                return self._results[tech_name]
        face = self.face
        if face is None and algorithm.requires_face:
            raise NoFace()
        start = time.perf_counter()
        try:
            result = algorithm.analyse(self.image, face)
        except NoFaceError:
            raise NoFace() from None
        if self._on_result is not None:
            self._on_result(tech_name, time.perf_counter() - start)
        with self._lock:
            self._results[tech_name] = result
        return result

    def prefetch(self, tech_names, *, threads: int = 2) -> None:
        """Compute several algorithms' results concurrently (their filters release the GIL).

        Failures are not raised here: :meth:`native_result` raises them again, per name,
        when the caller asks for that result.
        """
        names = [n for n in dict.fromkeys(tech_names)
                 if (n if isinstance(n, str) else n.tech_name) not in self._results]
        if not names:
            return
        self.face  # detect once, before the threads need it

        def compute(name):
            try:
                self.native_result(name)
            except MaskError:
                pass

        thread_map(compute, names, threads=threads)

    def result(self, algorithm, *, image_type: str = "original") -> AnalysisResult:
        """The algorithm's (object or tech_name) result in ``image_type`` coordinates."""
        native = self.native_result(algorithm)
        if native.image_type == image_type:
            return native
        return in_image_type(native, self.face, image_type)
