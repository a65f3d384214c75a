"""Building blocks of the skin algorithms: filters, colour, geometry, scores (no models)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
import torch
from shapely.geometry import Point, box

from algorithms.device import get_device
from algorithms.skin.chromophores import HAEMOGLOBIN, MELANIN, OD_TO_INDEX, chromophore_indices
from algorithms.skin.colour import rgb_to_lab, to_tensor
from algorithms.skin.filters import _direct_blur, _filter1d, _kernel, blur, hessian_eigenvalues
from algorithms.skin.geometry import heatmap_features, polygons_from_mask, rasterise
from algorithms.skin.scores import exp_score
from algorithms.skin.skin_image import _CACHE, prepare
from algorithms.skin.spots import robust_sigma, spot_components


def test_device_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("RASTERISATION_DEVICE", "cpu")
    assert get_device().type == "cpu"
    monkeypatch.setenv("RASTERISATION_DEVICE", "cuda:7")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            get_device()


def test_lab_matches_scikit_image():
    from skimage.color import rgb2lab

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    ours = rgb_to_lab(to_tensor(img)).permute(1, 2, 0).cpu().numpy()
    ref = rgb2lab(img)
    assert np.abs(ours - ref).max() < 0.05


@pytest.mark.parametrize("sigma", [0.8, 2.0, 3.5, 7.0, 16.0])
def test_pyramid_blur_matches_direct_blur(sigma):
    torch.manual_seed(0)
    x = _direct_blur(torch.rand(256, 240) * 100, 1.0)  # skin-like: no pixel noise
    fast, ref = blur(x, sigma), _direct_blur(x, sigma)
    inner = (slice(50, -50), slice(50, -50))
    assert (fast - ref)[inner].abs().mean() < 0.1
    assert (fast - ref)[inner].abs().max() < 1.0


@pytest.mark.parametrize("shape", [(64, 50), (3, 40, 33), (2, 2, 30, 31)])
@pytest.mark.parametrize("sigma", [0.6, 1.0, 2.9])
def test_opencvs_separable_blur_is_the_tap_loops(shape, sigma):
    """On the CPU _direct_blur hands float32 planes to cv2.sepFilter2D (7-10x faster): the
    same correlation, reflect-101 borders included, batched and on a strided view."""
    torch.manual_seed(1)
    x = torch.rand(*shape[:-1], shape[-1] * 2)[..., ::2] * 100   # not contiguous
    k = _kernel(sigma, x.device)
    ref = _filter1d(_filter1d(x, k, -1), k, -2)
    out = _direct_blur(x, sigma)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert float((out - ref).abs().max()) < 1e-4


def test_blur_keeps_mass_and_position():
    x = torch.zeros(120, 121)
    x[61, 60] = 1.0
    x = _direct_blur(x, 1.5)  # a small blob, as a pore is; a lone pixel would alias
    b = blur(x, 9.0)
    ys, xs = torch.meshgrid(torch.arange(120.0), torch.arange(121.0), indexing="ij")
    assert abs(float(b.sum()) - 1.0) < 0.01
    assert abs(float((b * ys).sum() / b.sum()) - 61) < 0.5
    assert abs(float((b * xs).sum() / b.sum()) - 60) < 0.5


def test_hessian_finds_a_dark_line_not_a_dark_dot():
    img = torch.full((80, 80), 60.0)
    img[:, 39:41] -= 10          # vertical dark line, 2 px wide
    img[20:24, 10:14] -= 10      # dark dot
    l1, l2 = hessian_eigenvalues(img, 1.5)
    assert float(l1[40, 40]) > 2.0 and abs(float(l2[40, 40])) < 0.2 * float(l1[40, 40])
    assert float(l2[22, 12]) > 0.5 * float(l1[22, 12])  # round: both large


def test_chromophore_indices_ignore_shading_and_each_other():
    rng = np.random.default_rng(1)
    lin = rng.uniform(0.2, 0.6, (8, 8, 3)).astype(np.float32)

    def srgb(light):
        c = np.where(light <= 0.0031308, light * 12.92, 1.055 * light ** (1 / 2.4) - 0.055)
        return torch.from_numpy(np.clip(c, 0, 1)).permute(2, 0, 1).float()

    h0, m0 = chromophore_indices(srgb(lin))
    h1, m1 = chromophore_indices(srgb(lin * 0.7))                       # shadow
    h2, m2 = chromophore_indices(srgb(lin * np.exp(-0.2 * np.array(MELANIN))))
    h3, m3 = chromophore_indices(srgb(lin * np.exp(-0.2 * np.array(HAEMOGLOBIN))))
    assert torch.allclose(h1, h0, atol=0.05) and torch.allclose(m1, m0, atol=0.05)
    assert torch.allclose(h2, h0, atol=0.05) and float((m2 - m0).mean()) == pytest.approx(
        0.2 * OD_TO_INDEX, rel=0.01)
    assert torch.allclose(m3, m0, atol=0.05) and float((h3 - h0).mean()) == pytest.approx(
        0.2 * OD_TO_INDEX, rel=0.01)


def test_rasterise_and_polygons_round_trip_in_continuous_coordinates():
    sq = box(10, 20, 30, 50)  # pixel i spans [i, i + 1): columns 10..29, rows 20..49
    m = rasterise(sq, (64, 64))
    assert m[20, 10] and m[49, 29] and not m[51, 31] and not m[18, 8]
    assert abs(int(m.sum()) - 20 * 30) <= sq.length / 2 + 1  # OpenCV fills ~1/2 px fat
    (poly,) = polygons_from_mask(m, simplify_px=0)
    assert poly.symmetric_difference(sq).area <= sq.length / 2 + 1
    assert poly.buffer(1e-6).contains(sq) and sq.buffer(1.01, join_style="mitre").contains(poly)
    holed = sq.difference(box(15, 30, 20, 40))
    (poly,) = polygons_from_mask(rasterise(holed, (64, 64)), simplify_px=0)
    assert len(poly.interiors) == 1
    assert poly.symmetric_difference(holed).area <= holed.length / 2 + 2


def test_heatmap_levels_are_nested():
    yy, xx = np.mgrid[0:100, 0:100]
    value = 20 - np.hypot(xx - 50, yy - 50) / 2.5
    feats = heatmap_features(value, np.ones((100, 100), bool), (2, 6, 10, 14), 4.0)
    assert [f.properties["level"] for f in feats] == [0, 1, 2, 3]
    for outer, inner in zip(feats, feats[1:]):
        assert outer.geometry.buffer(1e-6).contains(inner.geometry)
        assert inner.properties["value"] > outer.properties["value"]


def test_exp_score_is_monotone_and_bounded():
    xs = np.linspace(0, 10, 50)
    ys = [exp_score(x, 2.0) for x in xs]
    assert ys[0] == 100.0 and all(a > b for a, b in zip(ys, ys[1:])) and min(ys) > 0
    assert exp_score(2.0, 2.0) == pytest.approx(100 / math.e)
    assert exp_score(-3.0, 2.0) == 100.0


def test_robust_sigma_ignores_outliers():
    rng = np.random.default_rng(2)
    v = rng.normal(0, 2.0, 10000)
    v[:300] = 80.0
    assert robust_sigma(v) == pytest.approx(2.0, rel=0.1)


def test_spot_components_filter_lines_and_keep_round_spots():
    from benchmarks.handface import face_from_eyes

    img = np.full((300, 300, 3), 180, np.uint8)
    face = face_from_eyes(img, (100, 150), (200, 150))
    skin = prepare(face)
    contrast = np.zeros(skin.shape, np.float32)
    contrast[rasterise(Point(400, 600).buffer(10), skin.shape)] = 10   # round spot
    contrast[700:703, 300:500] = 10                                       # line, 3 px
    zone = np.ones(skin.shape, bool)
    spots = spot_components(contrast, zone, skin, 8, 4, 1.0, 500, 1.5, 3.5, 0.7)
    assert len(spots) == 1
    assert shapely.distance(Point(spots[0]["centre"]), Point(400, 600)) < 1.0


def test_prepared_skin_is_freed_with_its_face(face_of):
    """The per-face cache must not keep a face alive (it once held every photo for ever)."""
    import gc
    import weakref

    from algorithms.face.analyse import face_from_landmarks
    from algorithms.face.roi import Pyramid

    image, base = face_of("london_107")
    cached_before = len(_CACHE)
    face = face_from_landmarks(Pyramid(image), base.landmarks, base.landmarks_z)
    skin = prepare(face)
    assert prepare(face) is skin  # shared while the face lives
    face_alive, skin_alive = weakref.ref(face), weakref.ref(skin)
    del face, skin
    gc.collect()
    assert face_alive() is None and skin_alive() is None
    assert len(_CACHE) == cached_before


def test_median_is_numpys_median():
    """spots.median selects within a sample's bracket: the same value as np.median (odd and
    even counts, ties, sorted input, NaN), and robust_sigma with it."""
    from algorithms.skin.spots import SELECT_FROM, median, robust_sigma

    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(SELECT_FROM - 10, 200_000)) + trial % 2
        v = (rng.standard_t(3, n) * rng.uniform(0.1, 10)).astype(np.float32)
        if trial % 3 == 0:
            v = np.round(v, 1)
        if trial % 4 == 0:
            v[: n // 2] = 0
        if trial % 5 == 0:
            v = np.sort(v)
        assert median(v) == np.median(v)
        assert robust_sigma(v) == float(1.4826 * np.median(np.abs(v - np.median(v))))
    v[7] = np.nan
    assert np.isnan(median(v))
