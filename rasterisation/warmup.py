"""Pay the one-time costs of a process before its first request, not during it.

A fresh gunicorn worker would otherwise spend its first masks request importing torch and
the algorithm modules, loading the face models and loading (or compiling) the renderer's
numba kernel: seconds, measured in docs/benchmarks.md. ``rasterisation serve`` calls
:func:`warm_up` in each worker after the fork (gunicorn's ``post_worker_init``).
"""
from __future__ import annotations

import logging
import time

import numpy as np

__all__ = ["warm_up"]

log = logging.getLogger(__name__)


def warm_up() -> float:
    """Import, load and compile what a masks request needs; return the seconds it took."""
    import shapely

    from algorithms import registry
    from algorithms.face import analyse_face, NoFaceError
    from algorithms.types import Feature, Mask
    from algorithms.render import default_style, encode, render

    start = time.perf_counter()
    registry.names()  # imports every algorithm module (and torch)
    try:  # loads the detector and landmark interpreters of this thread
        analyse_face(np.full((128, 128, 3), 128, np.uint8))
    except NoFaceError:
        pass
    canvas = np.full((32, 32, 3), 128, np.uint8)
    masks = [Mask("point_mask", "p", (Feature(shapely.Point(8, 8), {"radius": 2.0}),)),
             Mask("polyline_mask", "l", (Feature(shapely.LineString([(2, 2), (30, 20)])),)),
             Mask("polygon_mask", "g", (Feature(shapely.box(4, 4, 20, 20)),)),
             Mask("heatmap_mask", "h", (Feature(shapely.box(2, 2, 28, 28),
                                                {"level": 0, "value": 1.0}),))]
    encode(render(canvas, masks, style=default_style("pores")))
    # the anonymiser's CenterFace session (its int8 file is built here if `models fetch`
    # did not build it: seconds, once per machine)
    from algorithms.detect import centerface

    centerface.load()
    seconds = time.perf_counter() - start
    log.info("worker warmed up in %.1f s", seconds)
    return seconds
