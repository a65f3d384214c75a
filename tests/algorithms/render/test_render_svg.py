"""SVG output: valid XML of the right size, one element per feature, options, background."""
from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import shapely

from algorithms.types import Feature, Mask
from algorithms.render import Style, default_style, encode, render_svg

NS = {"svg": "http://www.w3.org/2000/svg"}
XLINK = "{http://www.w3.org/1999/xlink}href"

POINTS = Mask("point_mask", "pores", tuple(
    Feature(shapely.Point(10 + 7 * i, 20), {"radius": 3}) for i in range(5)))
HOLED = shapely.Point(40, 40).buffer(20).difference(shapely.Point(40, 40).buffer(8))
POLYGONS = Mask("polygon_mask", "acne", (
    Feature(HOLED, {"intensity": 0.5}), Feature(shapely.box(70, 70, 90, 90))))
LINES = Mask("polyline_mask", "lines", (
    Feature(shapely.LineString([(5, 5), (50, 30), (90, 10)]), {"width": 3}),
    Feature(shapely.MultiLineString([[(5, 90), (30, 80)], [(40, 90), (60, 85)]]))))
HEAT = Mask("heatmap_mask", "redness", tuple(
    Feature(shapely.Point(50, 50).buffer(r), {"level": k}) for k, r in enumerate((40, 25, 10))))


def parse(svg: bytes) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def shapes(root: ET.Element, mask_type: str) -> ET.Element:
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        if g.get("class") == f"mask {mask_type}":
            return g.find("svg:g[@class='shapes']", NS)
    raise AssertionError(f"no {mask_type} group")


def test_document_has_the_image_size():
    root = parse(render_svg([POINTS], width=120, height=80, style=Style()))
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("120", "80",
                                                                            "0 0 120 80")
    assert root.find("svg:image", NS) is None  # no background asked for


def test_one_element_per_feature_and_a_halo_under_each():
    root = parse(render_svg([POINTS, POLYGONS, LINES, HEAT], width=100, height=100,
                            style=default_style(None)))
    assert len(shapes(root, "point_mask").findall("svg:circle", NS)) == 5
    assert len(shapes(root, "polygon_mask").findall("svg:path", NS)) == 2
    assert len(shapes(root, "polyline_mask").findall("svg:path", NS)) == 3  # multi: 2 parts
    assert len(shapes(root, "heatmap_mask").findall("svg:path", NS)) == 3
    halos = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "halo"]
    assert sum(len(g) for g in halos) == 5 + 2 + 3  # the heatmap's fills have none


def test_holes_are_even_odd_subpaths_and_lines_have_round_joins():
    root = parse(render_svg([POLYGONS, LINES], width=100, height=100, style=Style()))
    polygons = shapes(root, "polygon_mask")
    assert polygons.get("fill-rule") == "evenodd"
    d = polygons.findall("svg:path", NS)[0].get("d")
    assert d.count("M") == 2 and d.count("Z") == 2  # exterior and hole
    lines = shapes(root, "polyline_mask")
    assert lines.get("stroke-linejoin") == "round" and lines.get("stroke-linecap") == "round"
    assert [p.get("stroke-width") for p in lines.findall("svg:path", NS)][0] == "3"


def test_heatmap_levels_do_not_stack():
    root = parse(render_svg([HEAT], width=100, height=100, style=Style()))
    paths = shapes(root, "heatmap_mask").findall("svg:path", NS)
    # the two outer levels are rings (a hole where the next level is), the innermost a disc
    assert [p.get("d").count("M") for p in paths] == [2, 2, 1]
    opacities = [float(p.get("fill-opacity")) for p in paths]
    assert opacities == sorted(opacities)


def test_concentric_lines():
    root = parse(render_svg([POLYGONS, HEAT], width=100, height=100,
                            style=Style(concentric_lines=True, palette="redness")))
    rings = shapes(root, "polygon_mask")
    assert rings.get("fill") == "none"
    assert len(rings.findall("svg:path", NS)) > 2  # outlines and inward rings
    iso = shapes(root, "heatmap_mask").findall("svg:path", NS)
    assert len(iso) == 3 and len({p.get("stroke") for p in iso}) > 1  # coloured by level


def test_fill_override_and_thickness():
    root = parse(render_svg([LINES], width=100, height=200,
                            style=Style(fill=(1, 2, 3, 51), line_thickness=0.05)))
    lines = shapes(root, "polyline_mask")
    assert lines.get("stroke") == "rgb(1,2,3)" and lines.get("stroke-opacity") == "0.2"
    assert {p.get("stroke-width") for p in lines.findall("svg:path", NS)} == {"5"}


def test_mask_over_image_embeds_the_photo():
    photo = encode(np.full((20, 30, 3), 99, np.uint8), format="png")
    root = parse(render_svg([POINTS], width=30, height=20, style=Style(), background=photo,
                            background_type="image/png"))
    image = root[0]
    assert image.tag == "{http://www.w3.org/2000/svg}image"  # under the masks
    prefix, data = image.get(XLINK).split(",", 1)
    assert prefix == "data:image/png;base64" and base64.b64decode(data) == photo


def test_names_are_escaped():
    mask = Mask("point_mask", 'a<b & "c"', POINTS.features)
    root = parse(render_svg([mask], width=50, height=50, style=Style()))
    assert any(g.get("data-name") == 'a<b & "c"'
               for g in root.iter("{http://www.w3.org/2000/svg}g"))


@pytest.mark.parametrize("kwargs", [{"background": b"x", "background_type": "text/html"},
                                    {"width": 0}])
def test_bad_arguments_are_refused(kwargs):
    args = {"width": 10, "height": 10, **kwargs}
    with pytest.raises(ValueError):
        render_svg([POINTS], style=Style(), **args)


def test_empty_masks_make_an_empty_drawing():
    root = parse(render_svg([Mask("point_mask", "p", ())], width=10, height=10, style=Style()))
    assert not list(root.iter("{http://www.w3.org/2000/svg}circle"))
