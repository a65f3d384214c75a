"""Style: validation of the request options, cache keys, default palettes."""
from __future__ import annotations

import re

import pytest

from algorithms.render import DEFAULT_PALETTE, Style, default_style
from algorithms.render.style import FALLBACK_PALETTE

TECH_NAMES = ("pores", "lines", "redness", "pigmentation", "acne", "uniformness",
              "eye_area_condition", "facial_landmarks")


def test_rgb_fill_gets_opaque_alpha_and_rgba_is_kept():
    assert Style(fill=(1, 2, 3)).fill == (1, 2, 3, 255)
    assert Style(fill=[1, 2, 3, 4]).fill == (1, 2, 3, 4)
    assert Style().fill is None


@pytest.mark.parametrize("fill", [(1, 2), (1, 2, 3, 4, 5), (256, 0, 0), (-1, 0, 0),
                                  (1.5, 2, 3), ("1", 2, 3), (True, 0, 0), "red", 7])
def test_bad_fill_is_refused_naming_the_field(fill):
    with pytest.raises(ValueError, match="fill_override"):
        Style(fill=fill)


@pytest.mark.parametrize("t", [0, -0.1, 1.01, 2, float("nan"), True, "0.1"])
def test_bad_line_thickness_is_refused_naming_the_field(t):
    with pytest.raises(ValueError, match="polyline_line_thickness"):
        Style(line_thickness=t)


def test_line_thickness_is_a_fraction_of_the_shorter_side_never_under_one_px():
    assert Style(line_thickness=1).line_thickness == 1.0
    assert Style(line_thickness=0.01).line_width(4000, 3000) == pytest.approx(30)
    assert Style(line_thickness=0.0001).line_width(4000, 3000) == 1.0
    assert Style().line_width(100, 100) is None


def test_other_fields_are_validated():
    with pytest.raises(ValueError, match="concentric_lines"):
        Style(concentric_lines="yes")
    with pytest.raises(ValueError, match="palette"):
        Style(palette="no-such-algorithm")


def test_cache_key_is_short_stable_and_tells_styles_apart():
    key = Style(fill=(1, 2, 3)).cache_key()
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    assert key == Style(fill=[1, 2, 3, 255]).cache_key()  # same style, same key
    others = [Style(), Style(fill=(1, 2, 4)), Style(fill=(1, 2, 3, 254)),
              Style(fill=(1, 2, 3), line_thickness=0.1), Style(fill=(1, 2, 3), palette="pores"),
              Style(fill=(1, 2, 3), concentric_lines=True)]
    assert len({key, *(s.cache_key() for s in others)}) == len(others) + 1


def test_every_algorithm_with_masks_has_a_palette():
    for name in TECH_NAMES:
        assert name in DEFAULT_PALETTE
        assert default_style(name) == Style(palette=name)
        assert default_style(name).colours == DEFAULT_PALETTE[name]
    assert default_style("age").colours == FALLBACK_PALETTE
    assert default_style(None).palette is None


def test_fill_override_replaces_palette_colours_and_scales_their_opacity():
    pal = Style(fill=(10, 20, 30, 128), palette="redness").colours
    base = DEFAULT_PALETTE["redness"]
    assert pal.colour == (10, 20, 30) and pal.heat_colours == ((10, 20, 30), (10, 20, 30))
    assert pal.fill_alpha == round(base.fill_alpha * 128 / 255)
    assert pal.halo[3] == round(base.halo[3] * 128 / 255)
    assert Style(fill=(10, 20, 30, 128)).line_alpha == 128
