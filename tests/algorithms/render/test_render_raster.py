"""Properties of the raster renderer: size, purity, widths, anti-aliasing, holes, options."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import shapely

from algorithms.types import Feature, Mask
from algorithms.render import Style, default_style, render
from algorithms.render._geometry import cv_thickness

GREY = 128


def flat(h=96, w=96, value=GREY) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def changed(out, base) -> np.ndarray:
    return (out != base).any(axis=2)


def polygon_mask(*geoms, **props) -> Mask:
    return Mask("polygon_mask", "acne", tuple(Feature(g, dict(props)) for g in geoms))


def line_mask(*coords, **props) -> Mask:
    return Mask("polyline_mask", "lines",
                tuple(Feature(shapely.LineString(c), dict(props)) for c in coords))


def point_mask(*xyr) -> Mask:
    return Mask("point_mask", "pores",
                tuple(Feature(shapely.Point(x, y), {"radius": r}) for x, y, r in xyr))


def heat_mask(centre=(48, 48), radii=(36, 24, 12)) -> Mask:
    return Mask("heatmap_mask", "redness", tuple(
        Feature(shapely.Point(*centre).buffer(r, quad_segs=16), {"level": k, "value": k})
        for k, r in enumerate(radii)))


ALL_MASKS = [point_mask((30, 30, 8)), polygon_mask(shapely.box(50, 50, 80, 80)),
             line_mask([(5, 90), (90, 5)]), heat_mask()]


@pytest.mark.parametrize("mask", ALL_MASKS, ids=lambda m: m.mask_type)
@pytest.mark.parametrize("shape", [(96, 96), (61, 137), (137, 61)])
def test_output_is_a_new_image_of_the_input_size_and_the_input_is_untouched(mask, shape):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    before = image.copy()
    out = render(image, [mask], style=default_style(None))
    assert out.shape == image.shape and out.dtype == np.uint8
    assert out is not image and not np.shares_memory(out, image)
    np.testing.assert_array_equal(image, before)


def test_no_masks_gives_the_image_unchanged_as_a_new_array():
    image = flat()
    for masks in ([], (), [Mask("point_mask", "pores", ())]):
        out = render(image, masks, style=Style())
        np.testing.assert_array_equal(out, image)
        assert out is not image


def test_non_contiguous_input_is_accepted():
    image = np.ascontiguousarray(np.full((96, 192, 3), GREY, np.uint8))[:, ::2]
    out = render(image, [ALL_MASKS[1]], style=Style())
    assert out.shape == (96, 96, 3) and changed(out, image).any()


@pytest.mark.parametrize("bad", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8),
                                 np.zeros((8, 8, 3), np.float32)])
def test_bad_image_is_refused(bad):
    with pytest.raises(ValueError, match="uint8"):
        render(bad, ALL_MASKS, style=Style())


def test_holes_stay_the_photo():
    outer = shapely.Point(48, 48).buffer(40)
    holed = outer.difference(shapely.Point(48, 48).buffer(15))
    image = flat()
    out = render(image, [polygon_mask(holed)], style=Style(fill=(255, 0, 0)))
    hole = (slice(40, 57), slice(40, 57))  # well inside the 15 px hole, clear of its outline
    np.testing.assert_array_equal(out[hole], image[hole])
    assert out[48, 20, 0] > GREY + 30  # the filled ring is red-tinted


def test_anti_aliased_edges_have_intermediate_values():
    image = flat()
    out = render(image, [polygon_mask(shapely.Polygon([(10, 10), (85, 30), (30, 85)]))],
                 style=Style(fill=(255, 0, 0)))
    red = out[..., 0][changed(out, image)]
    assert len(np.unique(red)) > 20  # a hard-edged fill would show a handful of values


def test_line_width_is_never_under_one_pixel():
    image = flat()
    style = Style(line_thickness=1e-6, fill=(255, 0, 0))
    assert style.line_width(96, 96) == 1.0
    out = render(image, [line_mask([(5, 48.3), (90, 48.3)])], style=style)
    column = out[:, 48].astype(int)
    core = (column[:, 0] - column[:, 1]) / 255  # red minus green: the line, not its halo
    assert core.max() > 0.6 and core.clip(0).sum() >= 0.9  # >= 1 px of full coverage


def test_line_thickness_sets_the_stroke_width():
    image = flat()

    def red_width(fraction):
        out = render(image, [line_mask([(5, 48.3), (90, 48.3)])],
                     style=Style(line_thickness=fraction, fill=(255, 0, 0)))
        column = out[:, 48].astype(int)
        return ((column[:, 0] - column[:, 1]) / (255 - GREY)).clip(0, 1).sum()

    widths = [red_width(px / 96) for px in (1, 4, 8, 16)]
    assert widths == sorted(widths)
    assert abs(widths[2] - 8) <= 1.5 and abs(widths[3] - 16) <= 1.5


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 6, 7, 8, 10, 15])
def test_cv_thickness_draws_the_nearest_width(width):
    measured = {1: 1.4}  # thickness -> anti-aliased width, measured (docs/decisions.md)
    t = cv_thickness(width)
    drawn = measured.get(t, t + 1.5)
    assert abs(drawn - width) <= 1.0 or (width < 2.5 and t == 1)


def test_fill_override_rgb_colours_lines_opaquely():
    out = render(flat(), [line_mask([(5, 48), (90, 48)])],
                 style=Style(fill=(255, 0, 0), line_thickness=8 / 96))
    assert tuple(out[48, 48]) == (255, 0, 0)


def test_fill_override_alpha_zero_draws_nothing():
    image = flat()
    out = render(image, ALL_MASKS, style=Style(fill=(255, 0, 0, 0)))
    np.testing.assert_array_equal(out, image)


def test_fill_override_alpha_scales_opacity():
    image = flat()
    mask = [polygon_mask(shapely.box(20, 20, 76, 76))]
    full = render(image, mask, style=Style(fill=(255, 0, 0)))
    half = render(image, mask, style=Style(fill=(255, 0, 0, 128)))
    assert 0 < half[48, 48, 0] - GREY < full[48, 48, 0] - GREY


def test_polygon_intensity_scales_the_fill():
    image = flat()
    weak = render(image, [polygon_mask(shapely.box(20, 20, 76, 76), intensity=0.0)],
                  style=Style(fill=(255, 0, 0)))
    strong = render(image, [polygon_mask(shapely.box(20, 20, 76, 76), intensity=1.0)],
                    style=Style(fill=(255, 0, 0)))
    assert GREY < weak[48, 48, 0] < strong[48, 48, 0]


def test_point_is_a_ring_with_a_clear_centre():
    image = flat()
    out = render(image, [point_mask((48, 48, 12))], style=Style(fill=(0, 255, 0)))
    np.testing.assert_array_equal(out[44:53, 44:53], image[44:53, 44:53])
    ring = out[48, 57:62].astype(int)
    assert (ring[:, 1] - ring[:, 0]).max() > 150  # the green ring, just inside the edge
    assert not changed(out, image)[:, :30].any()  # nothing far outside


def test_polygon_concentric_lines_leave_the_middle_unfilled():
    image = flat()
    square = polygon_mask(shapely.box(8, 8, 88, 88))
    filled = render(image, [square], style=Style(fill=(255, 0, 0)))
    rings = render(image, [square], style=Style(fill=(255, 0, 0), concentric_lines=True))
    assert changed(filled, image)[48, 48]
    assert not changed(rings, image)[40:57, 40:57].any()  # beyond the last inward ring
    assert changed(rings, image)[48, 8:35].sum() >= 5  # outline + rings cross this row


def test_heatmap_inner_levels_are_stronger():
    image = flat()
    out = render(image, [heat_mask()], style=Style(fill=(255, 0, 0)))
    tint = out[48, :, 0].astype(int) - GREY
    assert tint[48] > tint[48 - 18] > tint[48 - 30] > 0 == tint[2]


def test_heatmap_concentric_lines_are_iso_contours():
    image = flat()
    out = render(image, [heat_mask()], style=Style(concentric_lines=True, fill=(255, 0, 0)))
    row = changed(out, image)[48]
    assert not row[48] and not row[48 - 30]  # inside the levels: not filled
    for r in (36, 24, 12):
        assert row[48 - r - 1:48 - r + 2].any()  # a line on each level's boundary


def test_heatmap_level_defaults_to_feature_order():
    features = tuple(Feature(shapely.Point(48, 48).buffer(r)) for r in (30, 15))
    out = render(flat(), [Mask("heatmap_mask", "h", features)], style=Style(fill=(255, 0, 0)))
    assert out[48, 48, 0] > out[48, 22, 0] > GREY


def test_masks_blend_in_order_and_buffers_are_cleared_between_them():
    image = flat()
    style = default_style("acne")
    both = render(image, [ALL_MASKS[3], ALL_MASKS[1]], style=style)
    one_by_one = render(render(image, [ALL_MASKS[3]], style=style), [ALL_MASKS[1]], style=style)
    np.testing.assert_array_equal(both, one_by_one)


def test_repeated_and_concurrent_renders_agree():
    image = flat(200, 300)
    masks = ALL_MASKS
    first = render(image, masks, style=Style())
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda _: render(image, masks, style=Style()), range(8)))
    for out in outs:
        np.testing.assert_array_equal(out, first)


@pytest.mark.parametrize("geom", [
    shapely.box(200, 200, 300, 300),  # outside
    shapely.box(-50, -50, 10, 10),  # partly outside, top-left
    shapely.box(90, 90, 300, 300),  # partly outside, bottom-right
    shapely.Polygon(),  # empty
    shapely.GeometryCollection([shapely.box(10, 10, 30, 30), shapely.Point(60, 60),
                                shapely.MultiPolygon([shapely.box(40, 40, 50, 50)])]),
])
def test_odd_geometry_is_drawn_or_ignored_without_error(geom):
    image = flat()
    out = render(image, [polygon_mask(geom), line_mask([(0, 0), (95, 95)])], style=Style())
    assert out.shape == image.shape


def test_geometry_outside_the_image_changes_nothing():
    image = flat()
    masks = [polygon_mask(shapely.box(200, 200, 300, 300)), point_mask((-50, -50, 5)),
             line_mask([(500, 0), (600, 10)])]
    np.testing.assert_array_equal(render(image, masks, style=Style()), image)
    # and leaves nothing behind for the next render
    np.testing.assert_array_equal(render(image, [], style=Style()), image)


def test_edges_of_the_image_are_drawn():
    image = flat(50, 53)  # width not a multiple of 8
    out = render(image, [polygon_mask(shapely.box(30, 30, 80, 80))], style=Style(fill=(255, 0, 0)))
    assert changed(out, image)[49, 52] and changed(out, image)[35, 52]


@pytest.mark.parametrize("style", [Style(), Style(concentric_lines=True)],
                         ids=["filled", "concentric"])
def test_coverage_buffers_are_left_clean_for_the_next_render(style):
    from algorithms.render import raster

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (150, 203, 3), dtype=np.uint8)
    render(image, ALL_MASKS, style=style)
    assert raster._POOL.free and not any(bufs.any() for bufs in raster._POOL.free)


def test_odd_properties_fall_back_to_defaults():
    image = flat()
    odd = [float("inf"), float("nan"), "abc", None, -3, 1e30]
    masks = [
        Mask("point_mask", "p", tuple(Feature(shapely.Point(10 + 12 * i, 20), {"radius": v})
                                      for i, v in enumerate(odd))),
        Mask("polyline_mask", "l", tuple(
            Feature(shapely.LineString([(5, 30 + 10 * i), (90, 30 + 10 * i)]), {"width": v})
            for i, v in enumerate(odd))),
        Mask("polygon_mask", "g", tuple(Feature(shapely.box(5, 5, 40, 40), {"intensity": v})
                                        for v in odd)),
        Mask("heatmap_mask", "h", tuple(
            Feature(shapely.Point(60, 60).buffer(30 - 4 * i), {"level": v})
            for i, v in enumerate(odd))),
    ]
    for concentric in (False, True):
        out = render(image, masks, style=Style(concentric_lines=concentric))
        assert changed(out, image).any()
