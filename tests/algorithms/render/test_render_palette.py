"""The default palettes read on every skin tone: checked on the darkest and the lightest of the
test portraits (tests/data/photos, Face Research Lab London Set, CC BY 4.0).

A line reads when it stands out from what is around it: its bright colour against dark skin,
its dark halo against light skin, and the line against its own halo on both (WCAG's 3:1
contrast ratio for graphics). Translucent fills must change the skin's colour visibly
(CIE76 colour difference). Both are checked from the palette's colours and on real pixels.
"""
from __future__ import annotations

import numpy as np
import pytest
import shapely
from skimage.color import rgb2lab

from algorithms.types import Feature, Mask
from algorithms.render import DEFAULT_PALETTE, Style, render
from algorithms.render.style import FALLBACK_PALETTE

PALETTES = {**DEFAULT_PALETTE, "fallback": FALLBACK_PALETTE}
SKIN = (slice(600, 800), slice(500, 850))  # cheeks, nose and upper lip of the 1350 px portraits
LINE_Y = 700.0
MIN_CONTRAST = 3.0
MIN_FILL_DELTA_E = 10.0


def luminance(rgb) -> float:
    c = np.asarray(rgb, np.float64) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(c @ [0.2126, 0.7152, 0.0722])


def contrast(a, b) -> float:
    la, lb = sorted((luminance(a), luminance(b)))
    return (lb + 0.05) / (la + 0.05)


def over(colour, alpha, skin) -> np.ndarray:
    return np.asarray(skin, float) * (1 - alpha / 255) + np.asarray(colour, float) * alpha / 255


def delta_e(a, b) -> float:
    lab = rgb2lab(np.asarray([[a, b]], np.float64) / 255)[0]
    return float(np.linalg.norm(lab[0] - lab[1]))


@pytest.fixture(scope="module")
def extremes(portraits) -> dict[str, np.ndarray]:
    """The darkest and the lightest portrait, by the luminance of their median skin."""
    photos = portraits
    skin = {name: luminance(np.median(p[SKIN].reshape(-1, 3), axis=0))
            for name, p in photos.items()}
    darkest, lightest = min(skin, key=skin.get), max(skin, key=skin.get)
    assert (darkest, lightest) == ("london_042", "london_107")  # as the photos' README says
    return {"darkest": photos[darkest], "lightest": photos[lightest]}


def skin_of(photo) -> np.ndarray:
    return np.median(photo[SKIN].reshape(-1, 3), axis=0)


@pytest.mark.parametrize("name", PALETTES)
def test_palette_colours_read_on_dark_and_light_skin(name, extremes):
    pal = PALETTES[name]
    for which, photo in extremes.items():
        skin = skin_of(photo)
        halo = over(pal.halo[:3], pal.halo[3], skin)
        assert contrast(pal.colour, halo) >= MIN_CONTRAST, (name, which, "line on its halo")
        assert max(contrast(pal.colour, skin), contrast(halo, skin)) >= MIN_CONTRAST, (
            name, which, "line and halo on the skin")
        assert delta_e(over(pal.colour, pal.fill_alpha, skin), skin) >= MIN_FILL_DELTA_E
        low, high = pal.heat_colours
        assert delta_e(over(low, pal.heat_alpha[0], skin), skin) >= MIN_FILL_DELTA_E
        assert delta_e(over(high, pal.heat_alpha[1], skin), skin) >= 2 * MIN_FILL_DELTA_E


@pytest.mark.parametrize("name", PALETTES)
def test_rendered_lines_read_on_the_darkest_and_lightest_portraits(name, extremes):
    """A default-width line across the cheeks: the line's pixels against its halo's, and the
    better of the two against the skin around, on real rendered pixels."""
    for which, photo in extremes.items():
        # through the centres of row LINE_Y (pixel centres are at i + 0.5)
        mask = Mask("polyline_mask", "l", (Feature(shapely.LineString(
            [(500, LINE_Y + 0.5), (850, LINE_Y + 0.5)])),))
        out = render(photo, [mask], style=Style(palette=None if name == "fallback" else name))
        band = out[int(LINE_Y) - 8:int(LINE_Y) + 9, 520:830].astype(np.float64)
        rows = np.median(band, axis=1)  # (17, 3): the median colour of each row
        line = rows[8]  # the line's centre
        halo = min((rows[i] for i in (6, 7, 9, 10)), key=luminance)  # darkest border row
        around = np.median(np.concatenate([rows[:3], rows[-3:]]), axis=0)
        assert contrast(line, halo) >= MIN_CONTRAST, (name, which, line, halo)
        assert max(contrast(line, around), contrast(halo, around)) >= MIN_CONTRAST, (
            name, which, line, halo, around)
