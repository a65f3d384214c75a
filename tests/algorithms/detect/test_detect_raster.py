"""Mask geometry: padding grows or shrinks by the asked pixels, blur feathers outward only.

Ring widths are measured on the mask itself: along a row through a box's centre, and as the
mean distance of the white / grey edges from the shape for a circle.
"""
from __future__ import annotations

import doctest

import numpy as np
import pytest
from shapely.geometry import Point, box

from algorithms.detect import raster
from algorithms.detect.raster import feather, mask_image, pad

SIZE = (200, 160)


def _row_extent(mask, row, *, low=0):
    cols = np.flatnonzero(mask[row] > low)
    return (int(cols[0]), int(cols[-1]) + 1) if cols.size else None


def test_doctests():
    assert doctest.testmod(raster).failed == 0


def test_box_without_padding_or_blur_is_exact():
    m = mask_image([box(50, 40, 150, 120)], SIZE, shape="box")
    assert m.shape == (160, 200) and m.dtype == np.uint8
    assert set(np.unique(m)) == {0, 255}
    assert int((m == 255).sum()) == 100 * 80
    assert _row_extent(m, 80) == (50, 150)


@pytest.mark.parametrize("padding", [-20, -7, -1, 1, 6, 15])
def test_padding_moves_every_edge_by_padding(padding):
    m = mask_image([box(50, 40, 150, 120)], SIZE, padding=padding, shape="box")
    assert _row_extent(m, 80) == (50 - padding, 150 + padding)
    cols = np.flatnonzero(m[:, 100])
    assert (int(cols[0]), int(cols[-1]) + 1) == (40 - padding, 120 + padding)
    assert int((m == 255).sum()) == (100 + 2 * padding) * (80 + 2 * padding)


def test_negative_padding_can_remove_a_shape():
    m = mask_image([box(50, 40, 60, 50), box(100, 40, 180, 120)], SIZE, padding=-6,
                   shape="box")
    assert m[45, 55] == 0 and m[80, 140] == 255


@pytest.mark.parametrize("blur", [1, 4, 9, 20])
def test_blur_feathers_outward_only(blur):
    sharp = mask_image([box(50, 40, 150, 120)], SIZE, padding=3, shape="box")
    soft = mask_image([box(50, 40, 150, 120)], SIZE, padding=3, blur=blur, shape="box")
    # the white area is the same: the feather is all outside it
    assert np.array_equal(soft == 255, sharp == 255)
    # along the centre row: white 47..153, grey ring of blur - 1 px each side, then black
    assert _row_extent(soft, 80, low=254) == (47, 153)
    assert _row_extent(soft, 80) == (47 - (blur - 1), 153 + (blur - 1))
    ramp = soft[80, 153:153 + blur].astype(int)
    expected = np.rint(255 * (1 - np.arange(1, blur + 1) / blur)).astype(int)
    assert np.abs(ramp - expected).max() <= 5   # chamfer distance: within 2 %
    assert np.all(np.diff(ramp) <= 0)
    # nothing beyond the ring
    far = np.ones_like(soft, bool)
    far[37 - (blur - 1):123 + (blur - 1), 47 - (blur - 1):153 + (blur - 1)] = False
    assert not soft[far].any()


def test_circle_rings_have_the_asked_widths():
    r, padding, blur = 30.0, 8, 12
    m = mask_image([Point(100, 80).buffer(r, quad_segs=64)], SIZE, padding=padding, blur=blur)
    yy, xx = np.mgrid[0:160, 0:200]
    dist = np.hypot(xx + 0.5 - 100, yy + 0.5 - 80)
    white_edge = dist[m == 255].max()
    grey = (m > 0) & (m < 255)
    assert abs(white_edge - (r + padding)) < 1.0
    assert abs(dist[grey].max() - (r + padding + blur)) < 1.0
    assert dist[grey].min() > r + padding - 0.5


def test_pad_validates_shape_and_range():
    with pytest.raises(ValueError, match="box, contour"):
        pad(box(0, 0, 1, 1), 1, shape="circle")
    with pytest.raises(ValueError, match="padding"):
        pad(box(0, 0, 1, 1), 10_000)
    with pytest.raises(ValueError, match="blur"):
        mask_image([box(0, 0, 1, 1)], SIZE, blur=-1)


def test_shapes_outside_the_photo_are_clipped():
    m = mask_image([box(-50, -50, 10, 10)], SIZE, padding=5, blur=3, shape="box")
    assert m[0, 0] == 255 and m[14, 14] == 255 and m[20, 20] == 0


def test_feather_of_an_empty_mask_is_empty():
    assert not feather(np.zeros((5, 5), np.uint8), 3).any()
