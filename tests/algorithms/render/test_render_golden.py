"""Golden images: each mask type and style option rendered at 96 x 96 over a synthetic photo,
compared with the PNGs committed in tests/data/golden/ within a tolerance.

After an intended change of the drawing, look at the new pictures and regenerate them:

    RASTERISATION_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest \
        tests/algorithms/render -k golden

(and bump ``RENDER_VERSION`` in algorithms/render/style.py so cached renders are redone).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import shapely
from PIL import Image

from algorithms.types import Feature, Mask
from algorithms.render import Style, default_style, render

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "data" / "golden"
REGENERATE = os.environ.get("RASTERISATION_REGENERATE_GOLDEN") == "1"
SIZE = 96
MAX_MEAN_ABS_DIFF = 0.5  # per channel, 0-255
MAX_DIFFERING_FRACTION = 0.01  # pixels off by more than 16 in any channel
DIFFERING = 16


def photo() -> np.ndarray:
    """A skin-toned gradient with some texture: deterministic, no decoder involved."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    base = np.array([200.0, 150.0, 125.0])
    shade = 0.75 + 0.25 * (x + y) / (2 * SIZE)
    texture = 6 * np.sin(x / 3.0) * np.cos(y / 4.0)
    img = base[None, None, :] * shade[..., None] + texture[..., None]
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def points() -> Mask:
    return Mask("point_mask", "pores", (
        Feature(shapely.Point(20.3, 24.6), {"radius": 4.0}),
        Feature(shapely.Point(55.5, 30.0), {"radius": 9.0}),
        Feature(shapely.MultiPoint([(30, 70), (75.25, 72.75)]), {"radius": 12.5}),
        Feature(shapely.Point(88, 10)),  # default radius
    ))


def polygons() -> Mask:
    ring = shapely.Point(34, 36).buffer(24, quad_segs=16)
    holed = ring.difference(shapely.Point(34, 36).buffer(10, quad_segs=16))
    return Mask("polygon_mask", "acne", (
        Feature(holed),
        Feature(shapely.Polygon([(60, 60), (90, 66), (70, 90), (58, 80)]), {"intensity": 0.2}),
        Feature(shapely.box(62.4, 8.6, 86.2, 30.3), {"intensity": 1.0}),
    ))


def polylines() -> Mask:
    return Mask("polyline_mask", "lines", (
        Feature(shapely.LineString([(8, 80), (30, 40), (50, 78), (88, 20)])),
        Feature(shapely.LineString([(10, 12.5), (85, 16.25)]), {"width": 4.0}),
        Feature(shapely.MultiLineString([[(12, 90), (40, 92)], [(60, 90), (90, 86)]]),
                {"width": 1.0}),
    ))


def heatmap() -> Mask:
    centre = shapely.Point(48, 48)
    levels = []
    for k, r in enumerate((40, 28, 16)):
        shape = centre.buffer(r, quad_segs=16)
        if k == 1:  # a level with a second blob
            shape = shape.union(shapely.Point(78, 20).buffer(10, quad_segs=16))
        levels.append(Feature(shape, {"level": k, "value": 0.2 + 0.3 * k}))
    return Mask("heatmap_mask", "redness", tuple(levels))


CASES = {
    "point_default": (points, default_style("pores")),
    "point_fill_rgba": (points, Style(fill=(255, 40, 0, 160))),
    "polygon_default": (polygons, default_style("acne")),
    "polygon_fill_rgb": (polygons, Style(fill=(255, 0, 0))),
    "polygon_fill_rgba": (polygons, Style(fill=(0, 60, 255, 128))),
    "polygon_concentric": (polygons, Style(concentric_lines=True, palette="pigmentation")),
    "polygon_thickness": (polygons, Style(line_thickness=0.04, palette="acne")),
    "polyline_default": (polylines, default_style("lines")),
    "polyline_fill_rgb": (polylines, Style(fill=(0, 255, 0), palette="lines")),
    "polyline_thickness": (polylines, Style(line_thickness=0.06, palette="lines")),
    "polyline_thin": (polylines, Style(line_thickness=0.0001, palette="lines")),
    "heatmap_default": (heatmap, default_style("redness")),
    "heatmap_fill_rgba": (heatmap, Style(fill=(0, 200, 255, 200))),
    "heatmap_concentric": (heatmap, Style(concentric_lines=True, palette="uniformness")),
    "all_types_overlapping": (lambda: [heatmap(), polygons(), polylines(), points()],
                              default_style(None)),
}


def rendered(name: str) -> np.ndarray:
    make, style = CASES[name]
    masks = make()
    return render(photo(), masks if isinstance(masks, list) else [masks], style=style)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    out = rendered(name)
    path = GOLDEN_DIR / f"{name}.png"
    if REGENERATE:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        Image.fromarray(out).save(path)
        pytest.skip(f"regenerated {path.name}")
    assert path.exists(), (f"missing golden {path}; run with "
                           "RASTERISATION_REGENERATE_GOLDEN=1 to create it")
    with Image.open(path) as im:
        golden = np.asarray(im.convert("RGB"))
    assert golden.shape == out.shape
    diff = np.abs(golden.astype(np.int16) - out.astype(np.int16))
    mean = float(diff.mean())
    differing = float((diff.max(axis=2) > DIFFERING).mean())
    assert mean <= MAX_MEAN_ABS_DIFF and differing <= MAX_DIFFERING_FRACTION, (
        f"{name}: mean abs diff {mean:.3f} (max {MAX_MEAN_ABS_DIFF}), "
        f"{differing:.2%} pixels differ by > {DIFFERING} (max {MAX_DIFFERING_FRACTION:.0%})")


def test_every_case_draws_something():
    base = photo()
    for name in CASES:
        assert (rendered(name) != base).any(axis=2).mean() > 0.01, name
