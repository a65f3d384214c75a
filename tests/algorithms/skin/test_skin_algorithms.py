"""The eight skin algorithms on a hand-made face geometry (no models needed): what they
return, in which coordinates, with which metrics and areas; the registry around them."""
from __future__ import annotations

import numpy as np
import pytest

from algorithms import registry
from algorithms.face.types import NoFaceError
from algorithms.types import MASK_TYPES, band_label
from benchmarks.handface import EYES, face_from_eyes

SKIN = ("acne", "eye_area_condition", "lines", "pigmentation", "pores", "redness",
        "skin_tone", "uniformness")
EXPECTED_MASKS = {
    "acne": {"polygon_mask"}, "eye_area_condition": {"polygon_mask"},
    "lines": {"polyline_mask", "polygon_mask"}, "pigmentation": {"polygon_mask"},
    "pores": {"point_mask"}, "redness": {"heatmap_mask"}, "skin_tone": set(),
    "uniformness": {"heatmap_mask"},
}
ANCHOR_METRICS = {
    "pores": {"pores_number", "pores_density"},
    "redness": {"redness_local_score", "redness_global_score"},
    "acne": {"number_of_regions", "density_score", "average_intensity_score"},
    "pigmentation": {"number_of_regions", "density_score", "average_intensity_score",
                     "average_region_size", "region_size_std"},
    "eye_area_condition": {"dark_circles_score", "eyes_bags_score", "lacrimal_groove_score"},
    "skin_tone": {"ita"},
}


@pytest.fixture(scope="module")
def hand_face():
    from tests.conftest import load_portrait

    img = load_portrait("london_021")
    return img, face_from_eyes(img, *EYES["london_021"])


@pytest.fixture(scope="module")
def results(hand_face):
    img, face = hand_face
    return {name: registry.get(name).analyse(img, face) for name in SKIN}


def test_all_eight_are_registered_with_their_mask_types():
    algos = registry.algorithms()
    for name in SKIN:
        cls = algos[name]
        assert set(cls.mask_types) == EXPECTED_MASKS[name]
        assert cls.version.count(".") == 2 and cls.description
        names = {m.tech_name for m in cls.metrics}
        assert ANCHOR_METRICS.get(name, set()) <= names
        assert set(cls.mask_types) <= set(MASK_TYPES)


@pytest.mark.parametrize("name", ["age", "hydration", "translucency", "eyes_age", "moles",
                                  "skin_type", "acne_class"])
def test_anchor_names_we_do_not_implement_are_not_supported(name):
    with pytest.raises(registry.NotSupported, match="not supported"):
        registry.get(name)


def test_an_unknown_name_is_unknown_not_unsupported():
    with pytest.raises(registry.UnknownAlgorithm) as err:
        registry.get("wrinkle_magic")
    assert not isinstance(err.value, registry.NotSupported)


@pytest.mark.parametrize("name", SKIN)
def test_no_face_is_an_error_never_a_number(name, hand_face):
    with pytest.raises(NoFaceError):
        registry.get(name).analyse(hand_face[0], None)


@pytest.mark.parametrize("name", SKIN)
def test_result_shape_metrics_and_areas(name, results, hand_face):
    res = results[name]
    cls = registry.algorithms()[name]
    face = hand_face[1]
    assert res.algorithm_tech_name == name and res.version == cls.version
    assert res.image_type == "restored" and (res.width, res.height) == face.restored.size
    main = res.main_metric
    if name == "skin_tone":
        assert main.widget_type == "category"
        assert main.value in ("Very light", "Light", "Intermediate", "Tan", "Brown", "Dark")
    elif main.value is None:  # a null score says why (pores below the px/mm they need)
        assert main.widget_type == "bad_good_line"
        assert "low_resolution" in res.feedback["problems"], res.feedback
    else:
        assert main.widget_type == "bad_good_line" and 0.0 <= main.value <= 100.0
        band_label(main.value)
    declared = {m.tech_name for m in cls.metrics}
    assert main.tech_name in declared
    assert {m.tech_name for m in res.sub_metrics} <= declared
    assert {a.area_name for a in res.area_results} <= set(cls.areas)
    assert res.area_results, "per-area results are given"
    for area in res.area_results:
        assert area.main_metric.tech_name == main.tech_name
    assert {m.mask_type for m in res.masks} == EXPECTED_MASKS[name]
    res.to_dict()  # serialisable


@pytest.mark.parametrize("name", [n for n in SKIN if n != "skin_tone"])
def test_geometry_lies_in_the_restored_face_and_maps_to_the_original(name, results,
                                                                    hand_face):
    img, face = hand_face
    res = results[name]
    w, h = face.restored.size
    feats = [f for m in res.masks for f in m.features]
    for f in feats:
        x0, y0, x1, y1 = f.geometry.bounds
        assert -1 <= x0 and x1 <= w + 1 and -1 <= y0 and y1 <= h + 1
    orig = res.transformed(face.restored.to_original, width=img.shape[1],
                           height=img.shape[0], image_type="original")
    assert orig.image_type == "original" and orig.main_metric == res.main_metric
    scale = 1 / face.restored.px_per_mm * face.px_per_mm
    for a, b in zip([f for m in res.masks for f in m.features],
                    [f for m in orig.masks for f in m.features]):
        for key in ("radius", "width"):
            if key in a.properties:
                assert b.properties[key] == pytest.approx(a.properties[key] * scale, rel=1e-3)


def test_heatmap_levels_are_nested_multipolygons(results):
    for name in ("redness", "uniformness"):
        feats = results[name].masks[0].features
        assert [f.properties["level"] for f in feats] == list(range(len(feats)))
        for outer, inner in zip(feats, feats[1:]):
            assert inner.geometry.geom_type == "MultiPolygon"
            assert outer.geometry.buffer(0.01).contains(inner.geometry)


def test_point_and_polyline_features_carry_their_size(results):
    for f in results["pores"].masks[0].features:
        assert f.geometry.geom_type == "Point" and f.properties["radius"] > 0
    lines = {m.mask_type: m for m in results["lines"].masks}
    for f in lines["polyline_mask"].features:
        assert f.geometry.geom_type == "LineString" and f.properties["width"] > 0
    for f in lines["polygon_mask"].features:
        assert f.geometry.geom_type == "Polygon"


def test_analysis_is_deterministic(hand_face):
    img, face = hand_face
    again = face_from_eyes(img, *EYES["london_021"])  # a new face object: nothing cached
    for name in ("pores", "lines", "redness"):
        a = registry.get(name).analyse(img, face).to_dict()
        b = registry.get(name).analyse(img, again).to_dict()
        assert a == b


def test_skin_tone_follows_melanin():
    from benchmarks.groundtruth import TONES, skin_tone_variant, upscale
    from skimage import data

    img = upscale(data.astronaut(), 1024)
    itas = []
    for k in (0.0, TONES["tan"], TONES["brown"], 1.6):
        variant = skin_tone_variant(img, k)
        face = face_from_eyes(variant, *[(x * 2, y * 2) for x, y in EYES["astronaut"]])
        res = registry.get("skin_tone").analyse(variant, face)
        itas.append(next(m.value for m in res.sub_metrics if m.tech_name == "ita"))
    assert all(a > b + 5 for a, b in zip(itas, itas[1:])), itas


def test_scores_measure_in_millimetres_not_pixels(face_models):
    """The same skin at two resolutions of the original photo: same restored scale, so the
    scores agree. Real landmarks: the hand-made template face's regions reach hair and
    eyes, whose spots made this a test of the template rather than of the scale."""
    from tests.conftest import load_portrait
    from algorithms.face import analyse_face
    import cv2

    img = load_portrait("london_107")
    big = cv2.resize(img, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    f1, f2 = analyse_face(img), analyse_face(big)
    for name in ("redness", "uniformness", "pigmentation", "acne"):
        s1 = registry.get(name).analyse(img, f1).main_metric.value
        s2 = registry.get(name).analyse(big, f2).main_metric.value
        assert abs(s1 - s2) <= 5, (name, s1, s2)


def test_lines_lie_on_the_wrinkles_drawn(hand_face):
    """A deep and a fine dark line drawn into the photo come back where they were drawn: a
    polygon over the deep one, a polyline along the fine one (restored coordinates)."""
    import cv2
    from shapely.geometry import LineString

    img, face = hand_face
    inv = face.restored.to_original
    # in restored pixels: across the forehead (deep) and down the right cheek (fine)
    deep = LineString([(470, 250), (560, 255)])
    fine = LineString([(330, 530), (340, 600)])
    drawn = img.copy()
    for line, width, depth in ((deep, 10, 0.45), (fine, 3, 0.4)):
        pts = np.asarray(line.coords) @ inv[:, :2].T + inv[:, 2]
        mask = np.zeros(img.shape[:2], np.uint8)
        px = max(1, round(width / face.restored.px_per_mm * face.px_per_mm))
        cv2.polylines(mask, [np.round(pts - 0.5).astype(np.int32)], False, 255, px)
        drawn = (drawn * (1 - depth * mask[..., None] / 255.0)).astype(np.uint8)
    again = face_from_eyes(drawn, *EYES["london_021"])
    res = registry.get("lines").analyse(drawn, again)
    masks = {mk.mask_type: mk for mk in res.masks}
    polys = [f.geometry for f in masks["polygon_mask"].features]
    fines = [f.geometry for f in masks["polyline_mask"].features]
    assert any(p.intersection(deep.buffer(3)).area > 0.5 * deep.buffer(3).area for p in polys)
    assert any(g.intersection(fine.buffer(4)).length > 0.6 * fine.length for g in fines)
