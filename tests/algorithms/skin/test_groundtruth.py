"""Skin algorithms against ground truth injected into the six committed real portraits.

``benchmarks/accuracy_real.py`` draws features at physical sizes (``benchmarks/groundtruth.py``)
into all 36 development portraits (figures in docs/benchmarks.md, "Injected ground truth on
real portraits"); here the same benchmark runs on the six portraits of tests/data/photos, once
(about 30 s), and the bars sit a little below what the algorithms measured when the test was
written, so a regression fails. The issue's goal (precision and recall >= 0.85) is checked by
``test_issue_goal``: asserted for acne and pigmentation; a strict xfail for pores on the
portraits as taken (3.3 px/mm, under the 6 px/mm pores need), asserted on their 3x upscales
(``test_pores_reach_the_goal_where_the_photo_resolves_them``, about 45 s); a strict xfail for
lines on these six (two of them black faces), asserted on the 36 development portraits when
they are there (``test_lines_reach_the_goal_on_the_development_population``, about 30 s).

Bars, as measured (session 6: features drawn where the skin mask lets findings lie; six
portraits, seed 0, JPEG q90) -> asserted:
pores at 3x 0.89 / 0.95 (36 portraits at 3x: 0.88 / 0.99) -> the goal; at 1x only the xfail;
lines 0.78 / 0.97 (28 of 36: 4 of 6 on london_042 and 099; 36 portraits: 0.90 / 0.91) ->
0.75 / 0.85, the goal on the 36;
acne 0.96 / 0.98 -> 0.85 / 0.85 and the goal;
pigmentation 0.94 / 0.94 -> 0.90 / 0.85 and the goal; redness: flush disk inside the heatmap
0.99 -> 0.9.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from shapely.ops import unary_union

from algorithms import registry
from benchmarks import accuracy_real as ar
from benchmarks import groundtruth as gt
from tests.conftest import PHOTO_DIR, PORTRAIT_NAMES

pytestmark = pytest.mark.slow

ETH = {"london_006": "west_asian", "london_021": "white", "london_024": "east_asian",
       "london_042": "black", "london_099": "black", "london_107": "white"}
BARS = {"lines": (0.75, 0.85), "acne": (0.85, 0.85), "pigmentation": (0.90, 0.85)}
GOAL = 0.85


@pytest.fixture(scope="module")
def photos(face_models):
    return [ar.Photo(n, PHOTO_DIR / f"{n}.jpg", ETH.get(n, "?")) for n in PORTRAIT_NAMES]


@pytest.fixture(scope="module")
def rows(photos):
    """Every detector on every portrait, seeds as the benchmark gives them."""
    return {kind: [ar.evaluate(p, kind, seed=i) for i, p in enumerate(photos)]
            for kind in ar.DETECTORS}


@pytest.mark.parametrize("kind", sorted(BARS))
def test_precision_and_recall_on_injected_features(kind, rows):
    t = ar.totals(rows[kind])
    print(kind, {k: round(v, 3) if isinstance(v, float) else v for k, v in t.items()})
    assert t["truths"] >= 5 * len(rows[kind])
    rec, prec = BARS[kind]
    assert t["recall"] >= rec and t["precision"] >= prec, t


def test_pores_are_drawn_where_the_photo_resolves_them(rows):
    t = ar.totals(rows["pores"])
    print("pores", t)
    assert t["truths"] >= 25 * len(rows["pores"])        # all six resolve >= 0.3 mm pores
    for r in rows["pores"]:
        lo, hi = gt.pore_radius_range(r.px_per_mm)
        assert all(lo - 1e-6 <= p["radius_mm"] <= hi + 1e-6 for p, _ in r.per_truth)


# acne and pigmentation reach the goal: asserted; pores on the portraits as taken (~3.3
# px/mm, pores need 6) do not: strict xfail, so the day they get there the test says so and
# the mark must go (at 3x they do: test_pores_reach_the_goal_where_the_photo_resolves_them).
# Lines on these six fall short (0.78: two of the six faces are black, where a drawn line
# is 2.4x closer to the camera's noise; docs/algorithms.md#lines); their goal is asserted on
# the 36 (test_lines_reach_the_goal_on_the_development_population), as the benchmark
# measures it.
NOT_YET = {"pores", "lines"}


@pytest.mark.parametrize("kind", [
    pytest.param(k, marks=pytest.mark.xfail(strict=True, reason="issue 13 goal not reached "
                                            "yet (docs/benchmarks.md)")) if k in NOT_YET else k
    for k in ar.DETECTORS])
def test_issue_goal(kind, rows):
    t = ar.totals(rows[kind])
    assert t["recall"] >= GOAL and t["precision"] >= GOAL, t


POPULATION = os.environ.get("RASTERISATION_TEST_POPULATION_DIR")


@pytest.mark.skipif(not POPULATION, reason="RASTERISATION_TEST_POPULATION_DIR unset")
def test_lines_reach_the_goal_on_the_development_population(face_models):
    """benchmarks/accuracy_real.py --kinds lines on the 36 portraits, same seeds (~40 s)."""
    from benchmarks.population import portraits

    people = portraits([Path(POPULATION)])
    assert len(people) >= 36
    rows = [ar.evaluate(ar.Photo(p["stem"], p["path"], p["eth"]), "lines", seed=i)
            for i, p in enumerate(people)]
    t = ar.totals(rows)
    print("lines, 36", {k: round(v, 3) if isinstance(v, float) else v for k, v in t.items()})
    assert t["recall"] >= GOAL and t["precision"] >= GOAL, t


def test_the_flush_is_inside_the_redness_heatmap(photos):
    res = [ar.evaluate_redness(p, seed=i) for i, p in enumerate(photos)]
    for r in res:
        print(r)
    assert min(r["flush_covered"] for r in res) >= 0.9
    assert all(r["score_flushed"] < r["score_clean"] - 5 for r in res)


@pytest.fixture(scope="module")
def photos_3x(face_models):
    """The six portraits upscaled 3x (~10 px/mm), where the drawn 0.15-0.45 mm pores are
    resolved (``gt.pore_radius_range``) and the pores algorithm has its 6 px/mm."""
    return [ar.Photo(n, PHOTO_DIR / f"{n}.jpg", ETH.get(n, "?"), upscale=3.0)
            for n in PORTRAIT_NAMES]


def test_pores_reach_the_goal_where_the_photo_resolves_them(photos_3x):
    rows = [ar.evaluate(p, "pores", seed=i) for i, p in enumerate(photos_3x)]
    t = ar.totals(rows)
    print("pores 3x", {k: round(v, 3) if isinstance(v, float) else v for k, v in t.items()})
    assert t["truths"] == 30 * len(rows)
    assert t["recall"] >= GOAL and t["precision"] >= GOAL, t


# ------------------------------------------------------------------ the generator itself
@pytest.mark.parametrize("kind", ["pores", "lines", "acne", "pigmentation"])
def test_features_sit_on_clear_skin_at_physical_sizes(kind, photos):
    from algorithms.face.regions import feature_polygons

    for i, p in enumerate(photos[:3]):
        scene = gt.inject(p.image, p.face, kind, ar.COUNTS[kind], seed=i, skin=p.skin)
        mm = p.face.px_per_mm
        f = feature_polygons(p.face.landmarks)
        parts = {"eyes": ("right_eye", "left_eye"), "brows": ("right_brow", "left_brow"),
                 "lips": ("lips",), "nostrils": ("right_nostril", "left_nostril")}
        oval = f["face_oval"]
        assert len(scene.truths) == ar.COUNTS[kind], scene.note
        foot = [t.geometry.buffer(t.size if kind == "pores" else
                                  t.size / 2 if kind == "lines" else 0) for t in scene.truths]
        for t, g in zip(scene.truths, foot):
            for part, keys in parts.items():   # where the skin mask lets findings lie
                margin = gt.ANATOMY_MARGINS_MM[part] * mm
                assert all(g.distance(f[k]) >= margin - 1e-6 for k in keys), part
            assert oval.buffer(-gt.ANATOMY_MARGINS_MM["outline"] * mm + 1e-6).contains(g)
            assert p.skin.ok[int(g.centroid.y), int(g.centroid.x)]
            pr = t.props
            if kind == "pores":
                assert 0.15 <= pr["radius_mm"] <= 0.45
            elif kind == "lines":
                assert 8 <= pr["length_mm"] <= 30 and 0.2 <= pr["width_mm"] <= 0.6
                assert abs(t.geometry.length / mm - pr["length_mm"]) < 0.35 * pr["length_mm"]
            elif kind == "acne":
                assert 1 <= pr["radius_mm"] <= 3 and pr["da"] > 2      # red
            else:
                assert 1 <= max(pr["semi_axes_mm"]) <= 6
                assert -25 < pr["dL"] < -3                              # visible, not black
        for a in range(len(foot)):                                      # not on each other
            for b in range(a + 1, len(foot)):
                assert foot[a].distance(foot[b]) > 0


def test_nothing_is_drawn_on_hand_labelled_hair(photos):
    """A beard the colour and texture tests let through is kept clear when it is labelled
    (benchmarks/skin_hair.not_skin): here the whole left half of the face is 'hair'."""
    from shapely.geometry import box

    p = photos[1]
    x_mid = float(np.asarray(p.face.landmarks)[:, 0].mean())
    half = box(0, 0, x_mid, p.image.shape[0])
    skin = gt.clear_skin(p.image, p.face, not_skin=[np.asarray(half.exterior.coords)])
    scene = gt.inject(p.image, p.face, "pores", 30, seed=0, skin=skin)
    assert len(scene.truths) == 30
    assert not any(t.geometry.buffer(t.size).intersects(half) for t in scene.truths)
    assert not np.any(scene.image[:, : int(x_mid) - 1] != p.image[:, : int(x_mid) - 1])


def test_the_benchmark_draws_around_the_hand_labels(photos):
    """accuracy_real.Photo hands each portrait's hair labels to the generator: its clear skin
    leaves out their pixels (london_029's and 125's beards had 12-13 of 30 pores on them)."""
    from benchmarks.skin_hair import not_skin

    for p in photos:
        polys = not_skin(p.stem)
        assert polys and not p.skin.not_skin.is_empty, p.stem
        inside = p.skin.not_skin.representative_point()
        assert not p.skin.ok[int(inside.y), int(inside.x)], p.stem


def test_injection_changes_only_the_drawn_places(photos):
    p = photos[0]
    scene = gt.inject(p.image, p.face, "acne", 5, seed=3, skin=p.skin)
    changed = np.any(scene.image != p.image, axis=2)
    near = np.zeros_like(changed)
    for t in scene.truths:
        r = math.sqrt(t.geometry.area / math.pi)
        x0, y0, x1, y1 = (int(v) for v in t.geometry.buffer(r + 6).bounds)
        near[max(y0, 0):y1, max(x0, 0):x1] = True
    assert changed.any() and not (changed & ~near).any()


# ------------------------------------------------------------------ scores move the right way
def _nested(image, face, skin, kind, batches, per_batch):
    scenes = [gt.Scene(image, [])]
    for b in range(batches):
        prev = scenes[-1]
        scenes.append(gt.inject(prev.image, face, kind, per_batch, seed=100 + b,
                                avoid=prev.truths, skin=skin))
    return scenes


@pytest.mark.parametrize("kind,per_batch", [("acne", 3), ("pigmentation", 3)])
def test_more_features_lower_the_score_step_by_step(kind, per_batch, photos):
    p = next(q for q in photos if q.stem == "london_107")
    scenes = _nested(p.image, p.face, p.skin, kind, 3, per_batch)
    scores = [registry.get(kind).analyse(s.image, ar.same_geometry(p.face, s.image))
              .main_metric.value for s in scenes]
    print(kind, [len(s.truths) for s in scenes], [round(v, 1) for v in scores])
    assert all(a > b for a, b in zip(scores, scores[1:])), scores


def test_darker_bands_under_the_eyes_are_dark_circles(photos):
    p = next(q for q in photos if q.stem == "london_107")
    alg = registry.get("eye_area_condition")
    scene = gt.inject(p.image, p.face, "eye_area_condition", 2, skin=p.skin)
    clean = alg.analyse(p.image, p.face)
    res = alg.analyse(scene.image, ar.same_geometry(p.face, scene.image))

    def dark(r):
        return next(m.value for m in r.sub_metrics if m.tech_name == "dark_circles_score")

    print("dark circles", dark(clean), "->", dark(res))
    assert dark(res) < dark(clean) - 10


def test_recall_in_zone_counts_only_features_where_the_algorithm_looks(photos):
    """``in_analysed_zone``: a pore drawn in the brows' fringe (4.5 mm above a brow: clear
    skin for the generator, left out by pores) is outside; one mid-cheek is inside."""
    from shapely.geometry import Point

    from algorithms.face.regions import feature_polygons

    for p in photos[:3]:
        mm = p.face.px_per_mm
        brow = feature_polygons(p.face.landmarks)["left_brow"]
        top = brow.centroid.x, brow.bounds[1] - 4.5 * mm
        cheek = p.regions["left_cheek"].representative_point()
        truths = [gt.Truth("pores", Point(top), 0.3 * mm, {}),
                  gt.Truth("pores", cheek, 0.3 * mm, {})]
        assert ar.in_analysed_zone("pores", p.face, truths).tolist() == [False, True]
        # acne has no fringe rule: there it is measured like any clear skin in its zone
        assert ar.in_analysed_zone("acne", p.face, truths)[1]
