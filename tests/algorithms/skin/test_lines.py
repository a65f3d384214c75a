"""Lines (wrinkles): the oriented valley filters, tone invariance, texture against lines,
hair and anatomy (docs/algorithms.md#lines).

The accuracy on lines drawn into real portraits is tests/algorithms/skin/test_groundtruth.py;
here the parts, on synthetic images and on two committed portraits.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from shapely.geometry import LineString

from algorithms import registry
from algorithms.skin import line_zones as LZ
from algorithms.skin import lines as LN
from algorithms.skin.ridges import (noise_normalised, oriented_valleys, ridge_paths,
                                    ridge_pixels)

N_OR = LN.N_ORIENT


def _line_image(shape, p0, p1, depth, width=1, base=0.5):
    """Linear light ``base`` with a shadow taking ``depth`` of the light along p0-p1."""
    cover = np.zeros(shape, np.float32)
    cv2.line(cover, p0, p1, 1.0, width, cv2.LINE_AA)
    return (base * (1.0 - depth * cover)).astype(np.float32)


@pytest.mark.parametrize("angle", [0, 15, 40, 90, 125, 165])
def test_the_filter_answers_at_the_line_orientation(angle):
    c, r = np.array([64.0, 64.0]), 45.0
    d = np.array([math.cos(math.radians(angle)), math.sin(math.radians(angle))])
    p0, p1 = (tuple(int(round(v)) for v in c - r * d), tuple(int(round(v)) for v in c + r * d))
    img = np.log(_line_image((128, 128), p0, p1, 0.2))
    resp = oriented_valleys(img, [1.0], 4.0, N_OR)[:, 0, 64, 64]
    best = int(resp.argmax()) * 180 / N_OR
    assert min(abs(best - angle), 180 - abs(best - angle)) <= 180 / N_OR / 2 + 1e-6


def test_wider_lines_answer_at_wider_scales():
    best = []
    for width in (1, 3, 7):
        img = np.log(_line_image((96, 96), (10, 48), (86, 48), 0.3, width))
        resp = oriented_valleys(img, [1.0, 1.6, 2.6, 4.0], 4.0, N_OR)[0, :, 48, 48]
        best.append(int(resp.argmax()))
    assert best[0] < best[1] < best[2], best


def test_a_shadow_is_as_deep_in_log_light_on_dark_skin_as_on_light():
    """Same share of the light, skin 10x darker: same valley in ln Y (in L* it is ~40 %
    shallower, which is why the lines algorithm works on ln Y)."""
    light = _line_image((96, 96), (10, 48), (86, 48), 0.15, base=0.45)
    dark = _line_image((96, 96), (10, 48), (86, 48), 0.15, base=0.045)
    r_light = oriented_valleys(np.log(light), [1.0], 4.0, N_OR)[0, 0, 48, 48]
    r_dark = oriented_valleys(np.log(dark), [1.0], 4.0, N_OR)[0, 0, 48, 48]
    assert r_dark == pytest.approx(r_light, rel=1e-3)


def _trace(img, zone):
    """The lines algorithm's steps on a bare image: z, ridges, paths with their evidence."""
    resp = oriented_valleys(img, [1.0, 1.6], 6.0, N_OR)
    z, orient = np.zeros(img.shape, np.float32), np.zeros(img.shape, np.int16)
    for j in range(resp.shape[1]):
        zj, oj, _ = noise_normalised(resp[:, j], zone, 24.0, LN.NOISE_FLOOR)
        better = zj > z
        z[better], orient[better] = zj[better], oj[better]
    ridge = ridge_pixels(z, orient, N_OR) & (z > LN.Z_LOW) & zone
    out = []
    for path in ridge_paths(ridge, orient, N_OR, 20.0, LN.MAX_TURN):
        length = float(np.hypot(*np.diff(path, axis=0).T).sum())
        out.append((path, float(z[path[:, 0], path[:, 1]].mean()) * math.sqrt(length / 24)))
    return [(p, e) for p, e in out if e >= LN.EVIDENCE_MIN]


def test_a_long_faint_line_adds_up_and_pores_do_not():
    """Per pixel the line (6 % of the light) is fainter than the pores (10 %) and barely
    above the texture (sd 2 %); over its length it is the only line (at 4 px/mm the line
    is 40 mm long)."""
    rng = np.random.default_rng(2)
    size = 200
    noise = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 0.7)
    img = 0.02 * noise / noise.std()
    pores = np.zeros((size, size), np.float32)
    for x, y in rng.uniform(5, size - 5, (150, 2)):
        cv2.circle(pores, (int(x), int(y)), 1, 1.0, -1, cv2.LINE_AA)
    pores = cv2.GaussianBlur(pores, (0, 0), 0.7)
    img -= 0.1 * pores / pores.max()
    cover = np.zeros((size, size), np.float32)
    cv2.line(cover, (20, 60), (180, 75), 1.0, 1, cv2.LINE_AA)
    found = _trace((img - 0.06 * cover).astype(np.float32), np.ones((size, size), bool))
    assert len(found) == 1, [(np.median(p, axis=0), e) for p, e in found]
    path = found[0][0]
    assert np.all(np.abs(path[:, 0] - 60 - (path[:, 1] - 20) * 15 / 160) < 3)
    assert np.ptp(path[:, 1]) > 100                          # most of its 160 px
    assert not _trace(img.astype(np.float32), np.ones((size, size), bool))   # pores alone


@pytest.fixture(scope="module")
def portraits(face_models):
    from algorithms.face import analyse_face
    from tests.conftest import load_portrait

    out = {}
    for name in ("london_021", "london_107"):
        img = load_portrait(name)
        out[name] = (img, analyse_face(img))
    return out


def prepare_skin(face):
    from algorithms.skin.skin_image import prepare

    return prepare(face)


def _detect(img, face):
    skin = prepare_skin(face)
    pts = face.landmarks_restored
    zone = (skin.finding_zone(LN.ZONE) & ~LZ.anatomy_bands(pts, skin.px_per_mm, skin.shape)
            & ~LN.near_highlights(skin))
    return skin, zone, LZ.typed(LN.detect(skin, zone), skin, pts,
                                skin.surface_slope)


def _draw(img, face, lines, ods):
    """``img`` with each of ``lines`` (restored px, 1 px wide, anti-aliased) absorbing its
    optical density ``ods[k]`` (per R, G, B) in linear light."""
    inv = face.restored.to_original
    lin = (img.astype(np.float32) / 255.0) ** 2.2
    for line, od in zip(lines, ods):
        pts = np.asarray(line.coords) @ inv[:, :2].T + inv[:, 2]
        cover = np.zeros(img.shape[:2], np.float32)
        cv2.polylines(cover, [np.round(pts - 0.5).astype(np.int32)], False, 1.0, 1,
                      cv2.LINE_AA)
        lin = lin * np.exp(-cover[..., None] * np.asarray(od, np.float32))
    return np.clip(np.round(255 * lin ** (1 / 2.2)), 0, 255).astype(np.uint8)


def _shadow(img, face, lines, depth=0.25):
    """``img`` with shadows taking ``depth`` of the light along ``lines`` (restored px)."""
    return _draw(img, face, lines, [np.full(3, -np.log(1 - depth))] * len(lines))


def _found(lines, g, share=0.6):
    """Whether the detected ``lines`` cover ``share`` of the drawn line ``g`` (4 px band)."""
    return any(ln["line"].intersection(g.buffer(4)).length > share * g.length for ln in lines)


@pytest.mark.slow
def test_drawn_lines_are_found_alike_on_light_and_on_darker_skin(portraits):
    """london_107 as photographed and with melanin added all over (the photo's own texture
    and noise, darker): the same drawn lines, the same lines found."""
    from benchmarks import accuracy_real as ar
    from benchmarks import groundtruth as gt

    img, face = portraits["london_107"]
    found = {}
    for tone, od in (("light", 0.0), ("dark", 1.6)):
        photo = ar.jpeg(gt.skin_tone_variant(img, od), 90)
        f0 = ar.same_geometry(face, photo)
        scene = gt.inject(photo, f0, "lines", 6, seed=2)
        res = ar.original(registry.get("lines").analyse(
            ar.jpeg(scene.image, 90), ar.same_geometry(face, ar.jpeg(scene.image, 90))), f0)
        hit, _ = gt.match_lines(scene.truths, ar.detections("lines", res))
        found[tone] = (len(hit), len(scene.truths),
                       np.median([t.props["dL"] for t in scene.truths]))
    print(found)
    assert found["dark"][2] > 0.9 * found["light"][2]       # shallower in L* on darker skin
    assert found["light"][0] >= 5 and found["dark"][0] >= 5, found


@pytest.mark.slow
def test_no_line_on_anatomy_and_one_line_per_fold(portraits):
    """Lines keep out of the bands around the face outline, nose, lips, lids and brows; a
    wide fold is one line (its two edges are not traced as two more)."""
    img, face = portraits["london_021"]
    skin, zone, lines = _detect(img, face)
    bands = LZ.anatomy_bands(face.landmarks_restored, skin.px_per_mm, skin.shape)
    assert lines
    for ln in lines:
        xy = np.asarray(ln["line"].coords)
        xi = np.clip(xy[:, 0].astype(int), 0, skin.shape[1] - 1)
        yi = np.clip(xy[:, 1].astype(int), 0, skin.shape[0] - 1)
        assert not bands[yi, xi].any()
    # a 2.5 mm wide fold across the forehead (restored pixels), 45 % of the light
    inv = face.restored.to_original
    fold = LineString([(470, 250), (560, 255)])
    pts = np.asarray(fold.coords) @ inv[:, :2].T + inv[:, 2]
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.polylines(mask, [np.round(pts - 0.5).astype(np.int32)], False, 255,
                  max(1, round(10 / face.restored.px_per_mm * face.px_per_mm)))
    drawn = (img * (1 - 0.45 * mask[..., None] / 255.0)).astype(np.uint8)
    from benchmarks.accuracy_real import same_geometry
    _, _, lines = _detect(drawn, same_geometry(face, drawn))
    on_fold = [ln for ln in lines
               if ln["line"].intersection(fold.buffer(8)).length > 0.5 * ln["line"].length]
    assert len(on_fold) == 1 and on_fold[0]["deep"], [(ln["width"], ln["depth"])
                                                      for ln in on_fold]


@pytest.mark.slow
def test_a_hair_coloured_line_is_no_wrinkle_and_a_shadow_is(portraits):
    """Two lines drawn on the cheek of london_107: a shadow (the same share of every
    channel) is a wrinkle; a strand as dark but with melanin and without the blood of the
    skin under it is hair."""
    from algorithms.skin.chromophores import HAEMOGLOBIN, MELANIN
    from benchmarks.accuracy_real import same_geometry

    img, face = portraits["london_107"]
    shadow = LineString([(300, 560), (315, 630)])        # right cheek (restored pixels)
    strand = LineString([(720, 560), (705, 630)])        # left cheek
    hair = 0.25 * np.asarray(MELANIN) - 0.25 * np.asarray(HAEMOGLOBIN)
    drawn = _draw(img, face, (shadow, strand), (np.full(3, 0.25), 0.25 + hair))
    _, _, lines = _detect(drawn, same_geometry(face, drawn))
    assert _found(lines, shadow)
    assert not _found(lines, strand)


@pytest.mark.slow
def test_cheek_lines_along_the_faces_turn_and_across_the_chin_crease_are_anatomy(portraits):
    """On london_107: a shadow on the cheek where the face turns more than 60 degrees from
    the camera, running along the turn, is the outline's shading; a shadow along the
    mentolabial sulcus is the chin's fold; a shadow on the front of the cheek is a
    wrinkle."""
    from benchmarks.accuracy_real import same_geometry

    img, face = portraits["london_107"]
    skin = prepare_skin(face)
    mm = skin.px_per_mm
    grad = skin.surface_slope
    steep = np.hypot(grad[..., 0], grad[..., 1])
    core = cv2.erode(skin.mask(("right_cheek",)).astype(np.uint8),
                     np.ones((int(6 * mm),) * 2, np.uint8)).astype(bool)
    ys, xs = np.nonzero(core & (steep > 2.0) & (steep < 3.5))   # 63-74 degrees
    assert len(ys)
    i = int(np.argmin(np.abs(ys - ys.mean())))
    c, g = np.array([xs[i], ys[i]], float), grad[ys[i], xs[i]]
    along = np.array([-g[1], g[0]]) / np.hypot(*g)
    turn = LineString([c - 6 * mm * along, c + 6 * mm * along])
    pts = face.landmarks_restored
    mid = 0.5 * (pts[18] + pts[200])                      # the sulcus, below the lower lip
    chin = LineString([mid - (5 * mm, 0), mid + (5 * mm, 0)])
    front = LineString([(300, 560), (315, 630)])
    drawn = _shadow(img, face, (turn, chin, front))
    _, _, lines = _detect(drawn, same_geometry(face, drawn))
    assert _found(lines, front)
    assert not _found(lines, turn)
    assert not _found(lines, chin)


@pytest.mark.slow
def test_the_knee_of_the_shading_where_the_face_turns_is_no_line_and_a_groove_there_is(
        portraits):
    """london_107's left cheek, where the face turns 35-60 degrees from the camera: a bend
    of the shading along the turn (a valley lit on the side facing the camera only, no
    minimum of light across it) is no line; a shadow drawn there along the turn (a groove:
    lit on both sides) is found."""
    from benchmarks.accuracy_real import same_geometry

    img, face = portraits["london_107"]
    skin, _, lines = _detect(img, face)
    mm = skin.px_per_mm
    grad = skin.surface_slope
    steep = np.hypot(grad[..., 0], grad[..., 1])
    cheek = skin.mask(("left_cheek",))

    def on_the_turn(ln):
        xy = np.asarray([ln["line"].interpolate(t, normalized=True).coords[0]
                         for t in np.linspace(0.1, 0.9, 17)]).astype(int)
        g = np.median(grad[xy[:, 1], xy[:, 0]], axis=0)
        n, d = float(np.hypot(*g)), xy[-1] - xy[0]
        along = abs(float(d @ g)) <= 0.5 * n * float(np.hypot(*d))   # within 30 degrees
        return along and math.tan(math.radians(35)) < n <= math.tan(math.radians(60))

    turning = [ln for ln in lines if ln["type"] == "cheek" and on_the_turn(ln)
               and cheek[int(ln["centre"][1]), int(ln["centre"][0])]]
    assert not turning, [(ln["centre"], ln["depth"]) for ln in turning]
    core = cv2.erode(cheek.astype(np.uint8), np.ones((int(6 * mm),) * 2, np.uint8)).astype(bool)
    ys, xs = np.nonzero(core & (steep > math.tan(math.radians(45)))
                        & (steep < math.tan(math.radians(55))))
    assert len(ys)
    i = int(np.argmin(np.abs(ys - ys.mean())))
    c, g = np.array([xs[i], ys[i]], float), grad[ys[i], xs[i]]
    along = np.array([-g[1], g[0]]) / np.hypot(*g)
    groove = LineString([c - 6 * mm * along, c + 6 * mm * along])
    drawn = _shadow(img, face, (groove,), depth=0.2)
    _, _, lines = _detect(drawn, same_geometry(face, drawn))
    assert _found(lines, groove)
