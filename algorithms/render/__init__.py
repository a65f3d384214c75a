"""Pure drawing: mask geometry + style -> pixels or SVG, and the encoders.

No Flask, database or storage here (a test checks the imports), so the same code serves the
HTTP endpoints, the ``rasterisation analyse`` command and notebooks.

Examples
--------
>>> import numpy as np, shapely
>>> from algorithms.types import Feature, Mask
>>> from algorithms.render import default_style, encode, render
>>> photo = np.full((64, 64, 3), 200, np.uint8)
>>> lines = Mask("polyline_mask", "fine_lines",
...              (Feature(shapely.LineString([(8, 8), (56, 40)])),))
>>> jpeg = encode(render(photo, [lines], style=default_style("lines")))
>>> jpeg[:2]
b'\\xff\\xd8'
"""
from .encode import CONTENT_TYPES, EXTENSIONS, OUTPUT_FORMATS, encode
from .raster import render
from .style import DEFAULT_PALETTE, RENDER_VERSION, Palette, Style, default_style
from .svg import render_svg

__all__ = [
    "render", "render_svg", "encode", "OUTPUT_FORMATS", "CONTENT_TYPES", "EXTENSIONS",
    "Style", "Palette", "DEFAULT_PALETTE", "default_style", "RENDER_VERSION",
]
