"""What the raster and the SVG renderers share: sizes, the reading of features, levels.

Both draw the same picture: the same widths, radii, rings, level colours and opacities, so an
SVG mask and a JPEG mask of one result look alike.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import shapely

from algorithms.types import Mask

from . import _geometry as geo
from .style import Palette, Style

DEFAULT_LINE_FRACTION = 0.0015  # polyline width without `width` or line_thickness (3 px at 2K)
DEFAULT_OUTLINE_FRACTION = 0.001  # outlines, rings and iso-lines (2 px at 2K; never under 1 px)
DEFAULT_RADIUS = 2.0  # px, a point without `radius`
MIN_RADIUS = 1.0  # px: smaller points are drawn this big, to be seen
MAX_SIZE = 1e4  # px: radii and widths beyond are clipped (and non-numbers take the default)
CONCENTRIC_RINGS = 5  # polygon rings drawn inside the outline with concentric_lines
MIN_INTENSITY_OPACITY = 0.4  # fill opacity factor of a polygon of intensity 0


def number(value, default: float, low: float = 0.0, high: float = MAX_SIZE) -> float:
    """``value`` as a float clipped to [low, high]; ``default`` when it is not a number."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return default
    return min(high, max(low, x)) if math.isfinite(x) else default


def numbers(values: list, default: float, low: float = 0.0,
            high: float = MAX_SIZE) -> np.ndarray:
    """:func:`number` of each value, vectorised when they all convert (None is missing)."""
    try:
        arr = np.array(values, dtype=np.float64)  # None -> nan
    except (TypeError, ValueError):
        return np.array([number(v, default, low, high) for v in values], dtype=np.float64)
    arr[~np.isfinite(arr)] = default
    return np.clip(arr, low, high)


def widths(style: Style, width: int, height: int) -> tuple[float | None, float, float]:
    """(forced line width or None, default polyline width, outline width) in px."""
    forced = style.line_width(width, height)
    short = min(width, height)
    return (forced, max(1.0, DEFAULT_LINE_FRACTION * short),
            forced or max(1.0, DEFAULT_OUTLINE_FRACTION * short))


def halo_radius(width: float) -> int:
    """Halo width on each side of a line: 1 px, a third of the line's width when thicker."""
    return max(1, round(float(width) / 3))


def ring_width(outline: float) -> int:
    """Width of a point's ring, just inside its edge."""
    return max(1, round(outline / 2))


def points(mask: Mask) -> tuple[np.ndarray, np.ndarray]:
    """Centres (n, 2) and radii (n,) of a point mask (radii at least :data:`MIN_RADIUS`)."""
    parts, index = geo.explode([f.geometry for f in mask.features], "point")
    xy = shapely.get_coordinates(parts)
    features = mask.features
    radii = numbers([features[i].properties.get("radius") for i in index.tolist()],
                    DEFAULT_RADIUS, MIN_RADIUS)
    return xy, radii


def line_widths(mask: Mask, forced: float | None, default: float) -> np.ndarray:
    """Stroke width of each feature of a polyline mask, px (>= 1)."""
    if forced:
        return np.full(len(mask.features), forced)
    return numbers([f.properties.get("width") for f in mask.features], default, 1.0)


def intensity_opacity(intensity) -> float:
    """Fill opacity factor of a polygon: 1, or down to 40 % for an ``intensity`` in [0, 1)."""
    return MIN_INTENSITY_OPACITY + (1 - MIN_INTENSITY_OPACITY) * number(intensity, 1.0, 0.0, 1.0)


def concentric(polys: np.ndarray, outline: float) -> Iterator[np.ndarray]:
    """The polygons shrunk by 1, 2 ... :data:`CONCENTRIC_RINGS` ring spacings, while any is
    left (single polygons; their rings are the inward offset lines)."""
    spacing = max(3.0, 3 * outline)
    for k in range(1, CONCENTRIC_RINGS + 1):
        shapes, _ = geo.explode(shapely.buffer(polys, -k * spacing, quad_segs=4), "polygon")
        if not len(shapes):
            return
        yield shapes


def heat_levels(mask: Mask) -> tuple[np.ndarray, np.ndarray, int]:
    """A heatmap's polygons sorted by level (outermost first), their levels, level count."""
    polys, index = geo.explode([f.geometry for f in mask.features], "polygon")
    levels = np.array([int(number(mask.features[i].properties.get("level"), i, 0, 254))
                       for i in index.tolist()], dtype=int)
    order = np.argsort(levels, kind="stable")
    n = int(levels.max()) + 1 if len(levels) else 0
    return polys[order], levels[order], n


def level_colours(pal: Palette, n: int) -> tuple[np.ndarray, np.ndarray]:
    """RGB (n, 3) and opacity 0-1 (n,) of heatmap levels 0..n-1, low to high."""
    t = np.linspace(0.0, 1.0, n) if n > 1 else np.ones(1)
    low, high = (np.array(c, np.float64) for c in pal.heat_colours)
    a0, a1 = pal.heat_alpha
    return low + (high - low) * t[:, None], (a0 + (a1 - a0) * t) / 255
