"""Draw masks over a photo: :func:`render`.

Each mask is drawn into one-channel anti-aliased coverage buffers with OpenCV (fixed-point
coordinates, ``LINE_AA``), then blended over the photo once, layer by layer (translucent fill,
dark halo, opaque line), only where something was drawn (:mod:`._composite`). Per mask type:

- ``point_mask``: a circle of the point's ``radius``: an opaque ring just inside its edge, a
  halo just outside, the inside clear (the pore or spot stays visible);
- ``polygon_mask``: translucent fill (holes stay the photo) and an outline; with
  ``concentric_lines`` the outline and inward offset rings, no fill. A polygon's ``intensity``
  in [0, 1] scales its fill from 40 % to 100 % of the style's opacity;
- ``polyline_mask``: strokes with round joins and caps, ``width`` px each (or the style's);
- ``heatmap_mask``: nested levels (``level`` 0 = outermost) filled with a colour ramp; with
  ``concentric_lines`` their iso-contour lines, coloured by level.

Every line gets a dark halo one pixel (more for thick lines) on each side, under it, so the
bright palette colours also read on light skin.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
import shapely

from algorithms.types import Mask

from . import _common as common
from . import _geometry as geo
from ._composite import DIFF, INDEXED, PLAIN, Layer, composite, coverage_lut
from .style import Palette, Style

__all__ = ["render"]

# coverage buffers: drawn fills, drawn lines, heatmap level of iso-lines, dilation, erosion
FILL, LINE, INDEX, GROWN, SHRUNK = range(5)
HALO_FULL = 96  # halo coverage counted as full from here up


def render(image: np.ndarray, masks: Sequence[Mask], *, style: Style) -> np.ndarray:
    """Draw ``masks`` over ``image``, anti-aliased, in order.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        The photo, RGB. Not modified.
    masks : sequence of Mask
        Geometry in the image's pixel coordinates (x right, y down, pixel centres at i + 0.5).
    style : Style
        Colours and options; see :class:`~algorithms.render.style.Style`.

    Returns
    -------
    (H, W, 3) uint8 ndarray
        A new image; a copy of ``image`` when there is nothing to draw.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> from algorithms.types import Feature, Mask
    >>> photo = np.full((64, 64, 3), 128, np.uint8)
    >>> pores = Mask("point_mask", "pores", (Feature(shapely.Point(32, 32), {"radius": 6}),))
    >>> out = render(photo, [pores], style=Style(fill=(255, 0, 0)))
    >>> out.shape, bool((out != photo).any()), int(photo[32, 32, 0])
    ((64, 64, 3), True, 128)
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be an (H, W, 3) uint8 RGB array; got {image.dtype} "
                         f"{image.shape}")
    out = np.array(image, order="C", copy=True)
    if masks:
        bufs = _POOL.take(out.shape[0], out.shape[1])
        canvas = _Canvas(out, bufs)
        for mask in masks:
            canvas.draw(mask, style)
        _POOL.give(bufs)  # clean again: each mask cleared what it drew (not after an error)
    return out


class _BufferPool:
    """Coverage buffers kept between renders: a fresh 20-60 MB zeroed allocation costs more
    than the drawing (glibc serves it from the heap and clears all of it).

    Bounded twice: at most ``keep`` sets and ``max_bytes`` in all (default 128 MiB, two
    sets of a 12 MP picture); a set larger than that (a 50 MP upload) is not kept at all.
    """

    def __init__(self, keep: int = 2, max_bytes: int = 128 * 1024 * 1024):
        self.keep = keep
        self.max_bytes = max_bytes
        self.free: list[np.ndarray] = []
        self.lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.free)

    def take(self, h: int, w: int) -> np.ndarray:
        shape = (5, h, -(-w // 8) * 8)
        with self.lock:
            for i, bufs in enumerate(self.free):
                if bufs.shape == shape:
                    return self.free.pop(i)
        return np.zeros(shape, np.uint8)

    def give(self, bufs: np.ndarray) -> None:
        if bufs.nbytes > self.max_bytes:
            return
        with self.lock:
            self.free.insert(0, bufs)
            del self.free[self.keep:]
            while sum(b.nbytes for b in self.free) > self.max_bytes:
                self.free.pop()  # the oldest


_POOL = _BufferPool()


@dataclass
class _Plan:
    """What a mask drew into the buffers and how to blend it."""

    bounds: tuple[float, float, float, float]
    margin: float
    layers: list[Layer]
    morph: tuple[tuple[int, int, int, int], ...] = ()  # (cv2.MORPH_*, src, dst, radius)


class _Canvas:
    """Draws masks one by one over ``out`` with the all-zero coverage buffers ``bufs``
    (5, H, W rounded up to 8), which it leaves all zero again."""

    def __init__(self, out: np.ndarray, bufs: np.ndarray):
        self.out = out
        self.h, self.w = out.shape[:2]
        self.bufs = bufs

    def draw(self, mask: Mask, style: Style) -> None:
        """Draw one mask into the buffers, blend it into ``out``, clear the buffers."""
        if not mask.features:
            return
        drawer = {"point_mask": self._points, "polygon_mask": self._polygons,
                  "polyline_mask": self._polylines, "heatmap_mask": self._heatmap}[mask.mask_type]
        plan = drawer(mask, style, style.colours, common.widths(style, self.w, self.h))
        if plan is None:
            return
        minx, miny, maxx, maxy = plan.bounds
        m = plan.margin + 4
        if not all(map(math.isfinite, (minx, miny, maxx, maxy, m))):
            x0, y0, x1, y1 = 0, 0, self.w, self.h
        else:
            x0 = max(0, math.floor(minx - m)) // 8 * 8
            y0 = max(0, math.floor(miny - m))
            x1 = min(self.w, math.ceil(maxx + m) + 1)
            y1 = min(self.h, math.ceil(maxy + m) + 1)
        if x1 <= x0 or y1 <= y0:  # all outside: forget what OpenCV clipped into the padding
            self.bufs[:] = 0
            return
        roi = self.bufs[:, y0:y1, x0:x0 + -(-(x1 - x0) // 8) * 8]
        for op, src, dst, radius in plan.morph:
            kernel = np.ones((2 * radius + 1,) * 2, np.uint8)
            cv2.morphologyEx(roi[src], op, kernel, dst=roi[dst])
        composite(self.out, self.bufs, plan.layers, (y0, y1, x0, x1))  # clears what it read
        if any(layer.aux == INDEX for layer in plan.layers):
            roi[INDEX] = 0  # drawn a little wider than the lines whose blocks were visited

    # ------------------------------------------------------------------ mask types
    def _points(self, mask: Mask, style: Style, pal: Palette, widths) -> _Plan | None:
        """Circles: an opaque ring just inside each disc's edge and a halo just outside; the
        inside is left clear so the spot itself stays visible."""
        xy, radii = common.points(mask)
        if not len(xy):
            return None
        drawn = np.round(np.maximum(radii - geo.CIRCLE_INSET, 0.1) * geo.ONE).astype(int)
        fill = self.bufs[FILL]
        for (x, y), r in zip(geo.fixed(xy).tolist(), drawn.tolist()):
            cv2.circle(fill, (x, y), r, 255, -1, cv2.LINE_AA, geo.SHIFT)
        outline = widths[2]
        ring, halo = common.ring_width(outline), common.halo_radius(outline)
        layers = [Layer(DIFF, GROWN, _halo_lut(pal), aux=FILL),
                  Layer(DIFF, FILL, coverage_lut(pal.colour, style.line_alpha), aux=SHRUNK,
                        within=True)]
        return _Plan(_bounds(xy), radii.max() + halo, layers,
                     ((cv2.MORPH_DILATE, FILL, GROWN, halo), (cv2.MORPH_ERODE, FILL, SHRUNK, ring)))

    def _polylines(self, mask: Mask, style: Style, pal: Palette, widths) -> _Plan | None:
        """Strokes (polygons' rings as closed strokes) with round joins and caps."""
        geoms = [f.geometry for f in mask.features]
        lines, index = geo.explode(geoms, "line")
        polys, pindex = geo.explode(geoms, "polygon")
        if not len(lines) and not len(polys):
            return None
        stroke = common.line_widths(mask, widths[0], widths[1])
        thickness = {w: geo.cv_thickness(w) for w in set(stroke.tolist())}
        strokes: dict[tuple[int, bool], list[np.ndarray]] = {}
        for arr, i in zip(geo.line_coords(lines), index.tolist()):
            strokes.setdefault((thickness[stroke[i]], False), []).append(arr)
        rings = geo.Rings(polys)
        for rs, i in zip(rings.fixed(), pindex.tolist()):
            strokes.setdefault((thickness[stroke[i]], True), []).extend(rs)
        line = self.bufs[LINE]
        for (t, closed), arrs in strokes.items():
            cv2.polylines(line, arrs, closed, 255, t, cv2.LINE_AA, geo.SHIFT)
        widest = float(stroke.max())
        halo = common.halo_radius(widest)
        bounds = _union(_bounds(shapely.get_coordinates(lines)), rings.bounds)
        return _Plan(bounds, widest + halo, _halo_and_line(style, pal), _dilate_line(halo))

    def _polygons(self, mask: Mask, style: Style, pal: Palette, widths) -> _Plan | None:
        """Translucent fill (holes left out) and outline; or outline and inward rings."""
        polys, index = geo.explode([f.geometry for f in mask.features], "polygon")
        if not len(polys):
            return None
        outline = widths[2]
        t = geo.cv_thickness(outline)
        line = self.bufs[LINE]
        rings = geo.Rings(polys)
        cv2.polylines(line, rings.flat(), True, 255, t, cv2.LINE_AA, geo.SHIFT)
        layers = _halo_and_line(style, pal)
        if style.concentric_lines:
            for shapes in common.concentric(polys, outline):
                cv2.polylines(line, geo.Rings(shapes).flat(), True, 255, t, cv2.LINE_AA,
                              geo.SHIFT)
        else:
            fill = self.bufs[FILL]
            values = [round(255 * common.intensity_opacity(
                mask.features[i].properties.get("intensity"))) for i in index.tolist()]
            for rs, v in zip(rings.fixed(geo.FILL_INSET), values):
                if rs:
                    cv2.fillPoly(fill, rs, v, cv2.LINE_AA, geo.SHIFT)
            layers.insert(0, Layer(PLAIN, FILL, coverage_lut(pal.colour, pal.fill_alpha)))
        halo = common.halo_radius(outline)
        return _Plan(rings.bounds, outline + halo, layers, _dilate_line(halo))

    def _heatmap(self, mask: Mask, style: Style, pal: Palette, widths) -> _Plan | None:
        """Nested levels filled with a ramp; or their iso-lines coloured by level."""
        polys, levels, n = common.heat_levels(mask)
        if not len(polys):
            return None
        steps = _level_values(n)
        values = steps[levels].tolist()
        colours, alphas = common.level_colours(pal, n)
        rings = geo.Rings(polys)
        if not style.concentric_lines:
            fill = self.bufs[FILL]
            for rs, v in zip(rings.fixed(geo.FILL_INSET), values):
                if rs:
                    cv2.fillPoly(fill, rs, v, cv2.LINE_AA, geo.SHIFT)
            return _Plan(rings.bounds, 1, [Layer(PLAIN, FILL, _ramp_lut(colours, alphas, steps))])
        outline = widths[2]
        t = geo.cv_thickness(outline)
        line, index_buf = self.bufs[LINE], self.bufs[INDEX]
        for rs, v in zip(rings.fixed(), values):
            if rs:
                cv2.polylines(line, rs, True, 255, t, cv2.LINE_AA, geo.SHIFT)
                cv2.polylines(index_buf, rs, True, v, t + 2, cv2.LINE_8, geo.SHIFT)
        lut_colours = np.zeros((256, 3))
        for k in range(n - 1, -1, -1):  # each value up to a level's own takes its colour
            lut_colours[: steps[k] + 1] = colours[k]
        lut = (lut_colours, np.full(256, style.line_alpha / 255))
        halo = common.halo_radius(outline)
        return _Plan(rings.bounds, outline + halo,
                     _halo_and_line(style, pal, lut, colour_src=INDEX), _dilate_line(halo))


# ---------------------------------------------------------------------- helpers
def _halo_and_line(style: Style, pal: Palette, lut=None, colour_src: int = -1) -> list[Layer]:
    """Layers of a dark halo around LINE (its dilation), then LINE itself (coloured from
    ``lut`` by the values of buffer ``colour_src`` when given)."""
    halo = Layer(PLAIN, GROWN, _halo_lut(pal))
    if colour_src >= 0:
        line = Layer(INDEXED, LINE, lut, aux=colour_src, within=True)
    else:
        line = Layer(PLAIN, LINE, coverage_lut(pal.colour, style.line_alpha), within=True)
    return [halo, line]


def _halo_lut(pal: Palette):
    return coverage_lut(pal.halo[:3], pal.halo[3], full=HALO_FULL)


def _dilate_line(radius: int):
    return ((cv2.MORPH_DILATE, LINE, GROWN, radius),)


def _bounds(xy: np.ndarray) -> tuple[float, float, float, float]:
    """(min x, min y, max x, max y) of coordinates; an empty box (max < min) if none."""
    if not len(xy):
        return (0.0, 0.0, -1.0, -1.0)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def _union(a, b) -> tuple[float, float, float, float]:
    if a[2] < a[0]:
        return b
    if b[2] < b[0]:
        return a
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _level_values(n: int) -> np.ndarray:
    """Buffer value of heatmap levels 0..n-1 (n <= 255): 255 (k + 1) / n, rounded."""
    return np.round(255 * (np.arange(n) + 1) / n).astype(int)


def _ramp_lut(colours: np.ndarray, alphas: np.ndarray, steps: np.ndarray):
    """LUT of a level buffer drawn with ``steps``: values between two levels (their
    anti-aliased border) blend the two, values under level 0 fade it out."""
    xs = np.concatenate([[0.0], steps])
    rgb = np.concatenate([colours[:1], colours])
    a = np.concatenate([[0.0], alphas])
    v = np.arange(256, dtype=np.float64)
    lut_colours = np.stack([np.interp(v, xs, rgb[:, c]) for c in range(3)], axis=1)
    return lut_colours, np.interp(v, xs, a)
