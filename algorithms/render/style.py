"""How a mask is drawn: :class:`Style` (the request's options) and the default palettes.

A :class:`Style` carries the options of the anchor API's mask request: ``fill_override``
(:attr:`Style.fill`), ``polyline_line_thickness`` (:attr:`Style.line_thickness`) and
``concentric_lines``, plus the name of the palette (one per algorithm) that gives the colours
when no fill is forced.

Each palette is one saturated colour (cyan, yellow, magenta, lime, ...) for lines, outlines and
translucent fills, a dark translucent halo drawn around every line, and a two-colour ramp for
heatmap levels. The bright colour carries the mark on dark skin and the dark halo carries it on
light skin; tests/algorithms/render/test_render_palette.py checks both on the darkest and
the lightest of the test portraits.
"""
from __future__ import annotations

import hashlib
import json
import numbers
from dataclasses import asdict, dataclass

__all__ = [
    "RENDER_VERSION", "Palette", "Style", "DEFAULT_PALETTE", "FALLBACK_PALETTE",
    "default_style", "palette_for",
]

# Bump when the drawing changes visibly: it is part of Style.cache_key(), so cached renders
# made by an older renderer are not served again.
RENDER_VERSION = 1

RGB = tuple[int, int, int]
RGBA = tuple[int, int, int, int]


@dataclass(frozen=True)
class Palette:
    """The colours of one algorithm's masks.

    Parameters
    ----------
    colour : RGB
        Lines, outlines, point rings and polygon fills (the fill with ``fill_alpha``).
    fill_alpha : int
        Opacity 0-255 of polygon and point fills (lines are opaque).
    halo : RGBA
        Drawn just around every line, under it, so the line reads on light skin too.
    heat : tuple of RGB
        Heatmap ramp: the colour of the outermost (lowest) level, then of the innermost.
    heat_alpha : tuple of int
        Opacity 0-255 of the outermost and of the innermost heatmap level.
    """

    colour: RGB
    fill_alpha: int = 80
    halo: RGBA = (0, 0, 0, 190)
    heat: tuple[RGB, RGB] | None = None
    heat_alpha: tuple[int, int] = (70, 170)

    @property
    def heat_colours(self) -> tuple[RGB, RGB]:
        return self.heat or (self.colour, self.colour)


FALLBACK_PALETTE = Palette(colour=(0, 229, 255))  # cyan

DEFAULT_PALETTE: dict[str, Palette] = {
    "pores": Palette(colour=(0, 229, 255)),  # cyan
    "lines": Palette(colour=(255, 221, 0)),  # yellow
    "redness": Palette(colour=(255, 100, 240), heat=((255, 150, 235), (235, 0, 255))),  # magenta
    "pigmentation": Palette(colour=(120, 255, 0)),  # lime
    "acne": Palette(colour=(255, 100, 240)),  # magenta
    "uniformness": Palette(colour=(0, 229, 255), heat=((120, 255, 0), (0, 200, 255))),  # lime-cyan
    "eye_area_condition": Palette(colour=(255, 150, 0)),  # orange
    "facial_landmarks": Palette(colour=(0, 255, 120), fill_alpha=200),  # green
    "skin": Palette(colour=(0, 200, 255), fill_alpha=90),  # azure, translucent: skin shows
}


def palette_for(name: str | None) -> Palette:
    """The palette called ``name`` (an algorithm's tech_name), else the fallback (cyan)."""
    return DEFAULT_PALETTE.get(name, FALLBACK_PALETTE) if name else FALLBACK_PALETTE


def _colour(value) -> RGBA | None:
    if value is None:
        return None
    ok = (isinstance(value, (tuple, list)) and len(value) in (3, 4)
          and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= v <= 255
                  for v in value))
    if not ok:
        raise ValueError("fill_override must be a list of 3 (RGB) or 4 (RGBA) integers 0-255; "
                         f"got {value!r}")
    return tuple(int(v) for v in value) + ((255,) if len(value) == 3 else ())


@dataclass(frozen=True)
class Style:
    """Drawing options of one rendered mask (validated on construction).

    Parameters
    ----------
    fill : RGB or RGBA, optional
        ``fill_override``: 3 or 4 integers 0-255. Replaces the palette colour of every part of
        the mask (lines, fills, heatmap levels); its alpha scales the opacity of all of them
        (RGB means alpha 255, the palette's own look in another colour).
    line_thickness : float, optional
        ``polyline_line_thickness``: stroke width as a fraction (0, 1] of the image's shorter
        side, never drawn under 1 px. Applies to polylines, outlines and concentric lines.
    concentric_lines : bool
        Heatmaps: iso-contour lines of the levels instead of filled levels. Polygons: the
        outline and inward offset rings instead of a fill.
    palette : str, optional
        Name of a palette in :data:`DEFAULT_PALETTE` (an algorithm's tech_name); None is the
        fallback palette.

    Examples
    --------
    >>> Style(fill=(255, 0, 0)).fill
    (255, 0, 0, 255)
    >>> Style(line_thickness=2)
    Traceback (most recent call last):
    ...
    ValueError: line_thickness (polyline_line_thickness) must be a number > 0 and <= 1; got 2
    """

    fill: RGBA | None = None
    line_thickness: float | None = None
    concentric_lines: bool = False
    palette: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "fill", _colour(self.fill))
        t = self.line_thickness
        if t is not None:
            if (not isinstance(t, numbers.Real) or isinstance(t, bool) or not 0 < t <= 1):
                raise ValueError("line_thickness (polyline_line_thickness) must be a number > 0 "
                                 f"and <= 1; got {t!r}")
            object.__setattr__(self, "line_thickness", float(t))
        if not isinstance(self.concentric_lines, bool):
            raise ValueError(f"concentric_lines must be true or false; got "
                             f"{self.concentric_lines!r}")
        if self.palette is not None and self.palette not in DEFAULT_PALETTE:
            raise ValueError(f"palette must be one of {', '.join(DEFAULT_PALETTE)}; "
                             f"got {self.palette!r}")

    @property
    def colours(self) -> Palette:
        """The palette in force: the named one, with ``fill`` applied when given."""
        base = palette_for(self.palette)
        if self.fill is None:
            return base
        r, g, b, a = self.fill
        scale = a / 255
        return Palette(colour=(r, g, b), fill_alpha=round(base.fill_alpha * scale),
                       halo=base.halo[:3] + (round(base.halo[3] * scale),), heat=None,
                       heat_alpha=tuple(round(h * scale) for h in base.heat_alpha))

    @property
    def line_alpha(self) -> int:
        """Opacity 0-255 of lines: the alpha of ``fill``, else opaque."""
        return self.fill[3] if self.fill else 255

    def line_width(self, width: int, height: int) -> float | None:
        """``line_thickness`` in pixels for an image of this size (>= 1), or None if unset."""
        if self.line_thickness is None:
            return None
        return max(1.0, self.line_thickness * min(width, height))

    def cache_key(self) -> str:
        """A short stable hash of the style and the renderer version, for render caches.

        >>> Style().cache_key() == Style(fill=None).cache_key()
        True
        """
        doc = json.dumps({"render_version": RENDER_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(doc.encode()).hexdigest()[:16]


def default_style(tech_name: str | None = None) -> Style:
    """The style of an algorithm's masks when the request sets no option.

    >>> default_style("pores").palette
    'pores'
    >>> default_style("age").palette is None
    True
    """
    return Style(palette=tech_name if tech_name in DEFAULT_PALETTE else None)
