"""Oriented valley filters and ridge tracing for the lines algorithm (docs/algorithms.md#lines).

A wrinkle is long and thin; skin texture (pores, follicles, fine mottling) is short. So the
valley filter is *elongated*: at each orientation it takes the second derivative across the
line at a width scale ``s`` and averages it along the line over ``along`` (a Gaussian), which
integrates the line's contrast over several mm while texture, coherent over a fraction of a
mm, averages out. The image is rotated once per pair of orientations (theta and theta + 90
share one rotation: filter along x, then along y), filtered with separable kernels and rotated
back (:func:`oriented_valleys`).

:func:`ridge_pixels` keeps the pixels whose response is the maximum across the line
(non-maximum suppression along the normal of the winning orientation) and :func:`ridge_paths`
links neighbouring ridge pixels whose orientations agree and whose step runs along the line,
then takes the longest path through each linked piece (what is left is searched again for
lines that cross or branch off it).

Example
-------
>>> import numpy as np, cv2
>>> img = np.zeros((64, 64), np.float32)
>>> _ = cv2.line(img, (8, 32), (56, 32), -1.0, 1)       # a dark horizontal line
>>> r = oriented_valleys(img, [1.0], 3.0, 12)
>>> int(r[:, 0, 32, 32].argmax())                       # orientation 0: along x
0
"""
from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

__all__ = ["oriented_valleys", "noise_normalised", "ridge_pixels", "ridge_paths"]

_ONE = np.ones(1, np.float32)


def _gaussian(sigma: float) -> np.ndarray:
    r = max(int(math.ceil(3 * sigma)), 1)
    x = np.arange(-r, r + 1, dtype=np.float32)
    g = np.exp(-x ** 2 / (2 * sigma * sigma))
    return (g / g.sum()).astype(np.float32)


def _valley_kernel(sigma: float) -> np.ndarray:
    """Scale-normalised second derivative of a Gaussian (sigma^2 g''), zero mean: positive
    at the bottom of a dark valley."""
    r = int(math.ceil(3 * sigma)) + 1
    x = np.arange(-r, r + 1, dtype=np.float32)
    g = np.exp(-x ** 2 / (2 * sigma * sigma))
    d2 = (x ** 2 / sigma ** 4 - 1 / sigma ** 2) * g
    d2 -= d2.mean()
    return (d2 / g.sum() * sigma * sigma).astype(np.float32)


def oriented_valleys(img: np.ndarray, scales_px, along_px: float, n_orient: int = 12
                     ) -> np.ndarray:
    """Valley responses ``(n_orient, n_scales, H, W)`` of ``img`` (float32): orientation k is a
    line at 180 k / n_orient degrees from the x axis (y down), scale j a line of width
    ~2 scales_px[j], averaged along the line by a Gaussian of ``along_px``."""
    img = np.ascontiguousarray(img, np.float32)
    h, w = img.shape
    half = n_orient // 2
    n = len(scales_px)
    out = np.empty((n_orient, n, h, w), np.float32)
    ga = _gaussian(along_px)
    d2 = [_valley_kernel(s) for s in scales_px]
    for k in range(half):
        th = 180.0 * k / n_orient
        c, s_ = abs(math.cos(math.radians(th))), abs(math.sin(math.radians(th)))
        ww, hh = int(math.ceil(w * c + h * s_)) + 2, int(math.ceil(w * s_ + h * c)) + 2
        m = cv2.getRotationMatrix2D((w / 2, h / 2), th, 1.0)
        m[:, 2] += [(ww - w) / 2, (hh - h) / 2]
        rot = (cv2.warpAffine(img, m, (ww, hh), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT) if k else img)
        along_x = cv2.sepFilter2D(rot, -1, ga, _ONE, borderType=cv2.BORDER_REFLECT)
        along_y = cv2.sepFilter2D(rot, -1, _ONE, ga, borderType=cv2.BORDER_REFLECT)
        chans = ([cv2.sepFilter2D(along_x, -1, _ONE, d, borderType=cv2.BORDER_REFLECT)
                  for d in d2]
                 + [cv2.sepFilter2D(along_y, -1, d, _ONE, borderType=cv2.BORDER_REFLECT)
                    for d in d2])
        if k:
            back = cv2.warpAffine(cv2.merge(chans) if len(chans) > 1 else chans[0],
                                  cv2.invertAffineTransform(m), (w, h), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REFLECT)
            back = back.reshape(h, w, -1)
            chans = [back[..., i] for i in range(2 * n)]
        for j in range(n):
            out[k, j] = chans[j]
            out[k + half, j] = chans[n + j]
    return out


def ridge_pixels(z: np.ndarray, orient: np.ndarray, n_orient: int) -> np.ndarray:
    """Pixels of ``z`` that are at least as high as both neighbours across their line (the
    normal of orientation ``orient``, sampled bilinearly)."""
    h, w = z.shape
    th = np.deg2rad(orient.astype(np.float32) * (180.0 / n_orient))
    nx, ny = -np.sin(th), np.cos(th)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    z = np.ascontiguousarray(z, np.float32)
    a = cv2.remap(z, xx + nx, yy + ny, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    b = cv2.remap(z, xx - nx, yy - ny, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return (z >= a) & (z >= b)


def _graph(ridge: np.ndarray, orient: np.ndarray, n_orient: int, max_turn: int,
           step_cos: float):
    yy, xx = np.nonzero(ridge)
    n = len(yy)
    index = -np.ones(ridge.shape, np.int64)
    index[yy, xx] = np.arange(n)
    th = orient[yy, xx].astype(np.int64)
    ang = np.deg2rad(th * (180.0 / n_orient))
    ux, uy = np.cos(ang), np.sin(ang)
    h, w = ridge.shape
    rows, cols, wts = [], [], []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        step = math.hypot(dx, dy)
        y2, x2 = yy + dy, xx + dx
        ok = (y2 >= 0) & (y2 < h) & (x2 >= 0) & (x2 < w)
        j = np.full(n, -1)
        j[ok] = index[y2[ok], x2[ok]]
        i = np.flatnonzero(j >= 0)
        j = j[i]
        turn = np.abs(th[i] - th[j]) % n_orient
        turn = np.minimum(turn, n_orient - turn)
        along = np.maximum(np.abs(dx * ux[i] + dy * uy[i]), np.abs(dx * ux[j] + dy * uy[j]))
        keep = (turn <= max_turn) & (along / step >= step_cos)
        rows.append(i[keep])
        cols.append(j[keep])
        wts.append(np.full(int(keep.sum()), step))
    g = sparse.coo_matrix((np.concatenate(wts), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n, n)).tocsr()
    return g + g.T, yy, xx


def ridge_paths(ridge: np.ndarray, orient: np.ndarray, n_orient: int, min_len: float,
                max_turn: int = 1, step_angle: float = 50.0, branch: float = 1.0,
                keep_piece=None):
    """Lines through the ridge pixels, as ``(n, 2)`` (row, col) paths at least ``min_len`` px.

    Two 8-neighbouring ridge pixels are linked when their orientations differ by at most
    ``max_turn`` steps and the step between them runs within ``step_angle`` degrees of the
    line (so parallel lines and crossings do not merge). In each linked piece the longest path
    (two Dijkstra sweeps) is a line; what is left once it is taken out is searched again for
    lines ``branch`` times ``min_len`` long."""
    # pieces too small to hold a line are dropped before the graph is built
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ridge.astype(np.uint8), 8)
    ok = stats[:, cv2.CC_STAT_AREA] >= 0.7 * min_len
    if keep_piece is not None:
        ok &= keep_piece(labels, n, stats[:, cv2.CC_STAT_AREA])
    big = np.flatnonzero(ok)
    big = big[big > 0]
    if len(big) == 0:
        return []
    ridge = np.isin(labels, big)
    g, yy, xx = _graph(ridge, orient, n_orient, max_turn, math.cos(math.radians(step_angle)))
    ncomp, comp = csgraph.connected_components(g, directed=False)
    order = np.argsort(comp, kind="stable")
    g = g[order][:, order].tocsr()      # each linked piece a contiguous block
    yy, xx = yy[order], xx[order]
    bounds = np.searchsorted(comp[order], np.arange(ncomp + 1))
    queue = [(np.arange(bounds[c], bounds[c + 1]), min_len) for c in range(ncomp)
             if bounds[c + 1] - bounds[c] >= 0.7 * min_len]
    paths = []
    while queue:
        nodes, need = queue.pop()
        if len(nodes) < 0.7 * need:
            continue
        contiguous = nodes[-1] - nodes[0] + 1 == len(nodes)
        sub = (g[nodes[0]:nodes[-1] + 1, nodes[0]:nodes[-1] + 1] if contiguous
               else g[nodes][:, nodes])
        d0 = csgraph.dijkstra(sub, directed=True, indices=0)   # sub is symmetric
        a = int(np.argmax(np.where(np.isfinite(d0), d0, -1)))
        da, pred = csgraph.dijkstra(sub, directed=True, indices=a, return_predecessors=True)
        b = int(np.argmax(np.where(np.isfinite(da), da, -1)))
        if da[b] < need:
            continue
        seq = [b]
        while seq[-1] != a:
            seq.append(pred[seq[-1]])
        seq = np.asarray(seq)
        paths.append(np.stack([yy[nodes[seq]], xx[nodes[seq]]], 1))
        rest = np.ones(len(nodes), bool)
        rest[seq] = False
        if rest.sum() >= 0.7 * branch * min_len:
            keep = np.flatnonzero(rest)
            n2, comp2 = csgraph.connected_components(sub[keep][:, keep], directed=False)
            queue.extend((nodes[keep[comp2 == c]], branch * min_len) for c in range(n2))
    return paths


def noise_normalised(responses: np.ndarray, zone: np.ndarray, window: float, floor: float,
                     sample: int = 8000):
    """``(z, orientation, response)`` of one scale's responses ``(n_orient, H, W)`` at the
    best orientation, in units of the texture noise around each pixel.

    Each orientation is divided by its robust sigma over ``zone`` (a subsample of
    ``sample`` pixels: JPEG's 8x8 blocks make 0 and 90 degrees noisier), then by the local
    RMS of that (each value clipped at 3, so a wrinkle does not raise its own noise) in a
    Gaussian ``window`` (px) over the zone, at least ``floor``: under the eyes, on stubble or
    on dark skin's coarse texture the bar is higher than on a smooth cheek."""
    import torch

    n_or, h, w = responses.shape
    idx = np.flatnonzero(zone.ravel())
    if len(idx) > sample:
        idx = idx[:: len(idx) // sample]
    flat = responses.reshape(n_or, -1)
    inv = np.array([1.0 / max(_robust_sigma(flat[i, idx]), 1e-9) for i in range(n_or)],
                   np.float32)
    st = 4                                   # the local RMS is smooth: a coarse grid will do
    sub = responses[:, ::st, ::st] * inv[:, None, None]
    energy = np.minimum(sub * sub, 9.0).mean(axis=0)
    zs = zone[::st, ::st].astype(np.float32)
    num = cv2.GaussianBlur(energy * zs, (0, 0), window / st)
    den = cv2.GaussianBlur(zs, (0, 0), window / st)
    local = np.sqrt(np.maximum(num / np.maximum(den, 1e-3), floor * floor))
    local = cv2.resize(local, (w, h), interpolation=cv2.INTER_LINEAR)
    t = torch.from_numpy(responses)
    zmax, arg = (t * torch.from_numpy(inv)[:, None, None]).max(dim=0)
    resp = torch.gather(t, 0, arg[None])[0]
    return ((zmax.numpy() / local).astype(np.float32), arg.numpy().astype(np.int16),
            resp.numpy())


def _robust_sigma(v: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(v - np.median(v)))) if v.size else 0.0
