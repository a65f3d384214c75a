"""Masks as an SVG document: :func:`render_svg` (the v5 ``svg_masks`` output).

The same picture as :func:`~algorithms.render.raster.render`, as vectors: circles, paths
with ``fill-rule="evenodd"`` (holes), strokes with round joins and caps, heatmap levels as
rings (each level minus the ones inside it, so translucent levels do not stack), concentric
lines, and the same dark halo under every line (a wider stroke drawn first). With
``background`` (``mask_over_image``) the encoded photo is embedded under the masks as a
data-URI ``<image>``.

Geometry is in continuous pixel coordinates (pixel centres at i + 0.5), which is SVG's own
convention: coordinates are written as they are.
"""
from __future__ import annotations

import base64
from typing import Sequence
from xml.sax.saxutils import quoteattr

import numpy as np
import shapely

from algorithms.types import Mask

from . import _common as common
from . import _geometry as geo
from .encode import CONTENT_TYPES
from .style import Palette, Style

__all__ = ["render_svg", "SVG_CONTENT_TYPE"]

SVG_CONTENT_TYPE = "image/svg+xml"


def render_svg(masks: Sequence[Mask], *, width: int, height: int, style: Style,
               background: bytes | None = None, background_type: str = "image/jpeg") -> bytes:
    """An SVG document of ``width`` x ``height`` px with ``masks`` drawn as vectors.

    Parameters
    ----------
    masks : sequence of Mask
        Geometry in the image's pixel coordinates.
    width, height : int
        Size of the image the geometry belongs to (the SVG's size and viewBox).
    style : Style
        Colours and options, as for the raster renderer.
    background : bytes, optional
        The encoded photo to show under the masks (``mask_over_image``).
    background_type : str
        Its MIME type: image/jpeg, image/png or image/webp.

    Returns
    -------
    bytes
        UTF-8 SVG.

    Examples
    --------
    >>> import shapely
    >>> from algorithms.types import Feature, Mask
    >>> from algorithms.render.style import Style
    >>> acne = Mask("polygon_mask", "acne", (Feature(shapely.box(2, 2, 10, 10)),))
    >>> svg = render_svg([acne], width=16, height=16, style=Style())
    >>> svg.startswith(b"<?xml") and b'fill-rule="evenodd"' in svg
    True
    """
    width, height = int(width), int(height)
    if width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive; got {width}x{height}")
    if background_type not in CONTENT_TYPES.values():
        raise ValueError(f"background_type must be one of {', '.join(CONTENT_TYPES.values())}; "
                         f"got {background_type!r}")
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" '
           f'xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}">']
    if background is not None:
        data = base64.b64encode(bytes(background)).decode("ascii")
        out.append(f'<image x="0" y="0" width="{width}" height="{height}" '
                   f'preserveAspectRatio="none" xlink:href="data:{background_type};base64,'
                   f'{data}"/>')
    widths = common.widths(style, width, height)
    pal = style.colours
    out.append('<g>')
    for mask in masks:
        out.append(f'<g class={quoteattr("mask " + mask.mask_type)} '
                   f'data-name={quoteattr(str(mask.name))}>')
        drawer = {"point_mask": _points, "polygon_mask": _polygons,
                  "polyline_mask": _polylines, "heatmap_mask": _heatmap}[mask.mask_type]
        out.extend(drawer(mask, style, pal, widths))
        out.append("</g>")
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out).encode("utf-8")


# ---------------------------------------------------------------------- mask types
def _points(mask: Mask, style: Style, pal: Palette, widths) -> list[str]:
    xy, radii = common.points(mask)
    if not len(xy):
        return []
    outline = widths[2]
    ring, halo = common.ring_width(outline), common.halo_radius(outline)
    halos = [f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r + halo / 2)}"/>'
             for (x, y), r in zip(xy.tolist(), radii.tolist())]
    rings = [f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(max(r - ring / 2, 0.01))}"/>'
             for (x, y), r in zip(xy.tolist(), radii.tolist())]
    return [f'<g class="halo" fill="none" {_stroke(pal.halo[:3], pal.halo[3], halo)}>',
            *halos, "</g>",
            f'<g class="shapes" fill="none" {_stroke(pal.colour, style.line_alpha, ring)}>',
            *rings, "</g>"]


def _polylines(mask: Mask, style: Style, pal: Palette, widths) -> list[str]:
    geoms = [f.geometry for f in mask.features]
    lines, index = geo.explode(geoms, "line")
    polys, pindex = geo.explode(geoms, "polygon")
    stroke = common.line_widths(mask, widths[0], widths[1])
    items = [(_line_d(line), stroke[i]) for line, i in zip(lines, index.tolist())]
    items += [(_polygon_d(p), stroke[i]) for p, i in zip(polys, pindex.tolist())]
    if not items:
        return []
    halos = [f'<path d="{d}" stroke-width="{_n(w + 2 * common.halo_radius(w))}"/>'
             for d, w in items]
    paths = [f'<path d="{d}" stroke-width="{_n(w)}"/>' for d, w in items]
    return [f'<g class="halo" fill="none" {_stroke(pal.halo[:3], pal.halo[3])}>',
            *halos, "</g>",
            f'<g class="shapes" fill="none" {_stroke(pal.colour, style.line_alpha)}>',
            *paths, "</g>"]


def _polygons(mask: Mask, style: Style, pal: Palette, widths) -> list[str]:
    polys, index = geo.explode([f.geometry for f in mask.features], "polygon")
    if not len(polys):
        return []
    outline = widths[2]
    halo = outline + 2 * common.halo_radius(outline)
    outlines = [_polygon_d(p) for p in polys]
    if style.concentric_lines:
        lines = outlines + [_polygon_d(p) for shapes in common.concentric(polys, outline)
                            for p in shapes]
        return [f'<g class="halo" fill="none" {_stroke(pal.halo[:3], pal.halo[3], halo)}>',
                *(f'<path d="{d}"/>' for d in lines), "</g>",
                f'<g class="shapes" fill="none" '
                f'{_stroke(pal.colour, style.line_alpha, outline)}>',
                *(f'<path d="{d}"/>' for d in lines), "</g>"]
    shapes = []
    for d, i in zip(outlines, index.tolist()):
        k = common.intensity_opacity(mask.features[i].properties.get("intensity"))
        shapes.append(f'<path d="{d}" fill-opacity="{_n(pal.fill_alpha / 255 * k, 3)}"/>')
    return [f'<g class="halo" fill="none" {_stroke(pal.halo[:3], pal.halo[3], halo)}>',
            *(f'<path d="{d}"/>' for d in outlines), "</g>",
            f'<g class="shapes" fill="{_rgb(pal.colour)}" fill-rule="evenodd" '
            f'{_stroke(pal.colour, style.line_alpha, outline)}>',
            *shapes, "</g>"]


def _heatmap(mask: Mask, style: Style, pal: Palette, widths) -> list[str]:
    polys, levels, n = common.heat_levels(mask)
    if not len(polys):
        return []
    colours, alphas = common.level_colours(pal, n)
    if style.concentric_lines:
        outline = widths[2]
        halo = outline + 2 * common.halo_radius(outline)
        lines = [(_polygon_d(p), colours[k]) for p, k in zip(polys, levels.tolist())]
        return [f'<g class="halo" fill="none" {_stroke(pal.halo[:3], pal.halo[3], halo)}>',
                *(f'<path d="{d}"/>' for d, _ in lines), "</g>",
                f'<g class="shapes" fill="none" stroke-width="{_n(outline)}" '
                f'stroke-opacity="{_n(style.line_alpha / 255, 3)}" stroke-linejoin="round" '
                f'stroke-linecap="round">',
                *(f'<path d="{d}" stroke="{_rgb(c)}"/>' for d, c in lines), "</g>"]
    # each level without the levels inside it: translucent levels must not stack
    inner = [shapely.union_all(polys[levels > k]) for k in levels.tolist()]
    shapes = []
    for p, k, cut in zip(polys, levels.tolist(), inner):
        ring = p if shapely.is_empty(cut) else shapely.difference(p, cut)
        for part in geo.explode([ring], "polygon")[0]:
            shapes.append(f'<path d="{_polygon_d(part)}" fill="{_rgb(colours[k])}" '
                          f'fill-opacity="{_n(alphas[k], 3)}"/>')
    return ['<g class="shapes" fill-rule="evenodd" stroke="none">', *shapes, "</g>"]


# ---------------------------------------------------------------------- formatting
def _n(v: float, digits: int = 2) -> str:
    """A number, short: 12.5, 3, 0.25."""
    s = f"{float(v):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def _rgb(c) -> str:
    r, g, b = (int(round(float(v))) for v in c[:3])
    return f"rgb({r},{g},{b})"


def _stroke(colour, alpha: int, width: float | None = None) -> str:
    w = f' stroke-width="{_n(width)}"' if width is not None else ""
    return (f'stroke="{_rgb(colour)}" stroke-opacity="{_n(alpha / 255, 3)}"{w} '
            f'stroke-linejoin="round" stroke-linecap="round"')


def _coords_d(coords: np.ndarray, closed: bool) -> str:
    """Path data of one ring or line: ``M x,y x,y ...`` (pairs after M are line-tos)."""
    if closed and len(coords) > 1:
        coords = coords[:-1]  # the closing vertex repeats the first: Z closes the ring
    pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in coords.tolist())
    return f"M{pts}{'Z' if closed else ''}" if pts else ""


def _line_d(line) -> str:
    coords = shapely.get_coordinates(line)
    closed = shapely.get_type_id(line) == 2  # LinearRing
    return _coords_d(coords, closed)


def _polygon_d(poly) -> str:
    rings = [poly.exterior, *poly.interiors]
    return "".join(_coords_d(np.asarray(r.coords), True) for r in rings)
