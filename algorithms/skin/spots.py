"""Spots and components: local contrast against a masked background, robust noise, and
the connected components of a contrast map that make spots (hysteresis, size, thickness,
shape).

Examples
--------
>>> import numpy as np
>>> robust_sigma(np.array([0.0, 1.0, -1.0, 0.0, 100.0]))
1.4826
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch

from algorithms.skin.filters import masked_blur
from algorithms.skin.geometry import bbox_slices, polygon_features

if TYPE_CHECKING:
    from algorithms.skin.skin_image import SkinImage

__all__ = ["hysteresis", "component_means", "local_difference", "median", "robust_sigma",
           "spot_components"]


def hysteresis(strong: np.ndarray, weak: np.ndarray, connectivity: int = 8):
    """Components of ``weak`` that contain a ``strong`` pixel: ``(labels, stats, keep)``."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(weak.astype(np.uint8), connectivity)
    hits = np.bincount(labels[strong & weak], minlength=n)
    keep = np.flatnonzero(hits[1:] > 0) + 1
    return labels, stats, keep


def component_means(labels: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``values`` over each label 0..n-1 (0 where a label has no pixel)."""
    cnt = np.bincount(labels.ravel(), minlength=n).astype(np.float64)
    tot = np.bincount(labels.ravel(), weights=values.ravel().astype(np.float64), minlength=n)
    return np.divide(tot, cnt, out=np.zeros(n), where=cnt > 0)


def local_difference(skin: SkinImage, channel: torch.Tensor, zone: np.ndarray,
                     smooth_mm: float, background_mm: float,
                     exclude_above: float | None = None, rounds: int = 1) -> np.ndarray:
    """``smooth(channel) - background(channel)`` inside ``zone`` (numpy, full size).

    Both are normalised (masked) blurs over the zone only, so what lies outside it (eyes,
    brows, hair, background) neither darkens nor reddens the reference. With
    ``exclude_above``, the background is estimated ``rounds`` more times, each without the
    pixels that rose more than that above the previous estimate, so spots, hair and
    neighbouring features do not lift their own reference (a robust local background).
    Computed on the zone's bounding box.
    """
    out = np.zeros(skin.shape, np.float32)
    if not zone.any():
        return out
    ys, xs = bbox_slices(zone, int(3 * skin.px(background_mm)) + 2)
    ch = channel[ys, xs]
    zt = torch.from_numpy(zone[ys, xs].copy()).to(ch.device)
    fine = masked_blur(ch, zt, skin.px(smooth_mm))
    coarse = masked_blur(ch, zt, skin.px(background_mm))
    if exclude_above is not None:
        for _ in range(rounds):
            keep = zt & (fine - coarse <= exclude_above)
            coarse = masked_blur(ch, keep, skin.px(background_mm))
    out[ys, xs] = (fine - coarse).cpu().numpy()
    return out


def robust_sigma(values: np.ndarray) -> float:
    """1.4826 * median absolute deviation: the standard deviation of the noise, unmoved by
    the few pixels that are features."""
    if values.size == 0:
        return 0.0
    values = np.ravel(values)
    return float(1.4826 * median(np.abs(values - median(values))))


SELECT_FROM = 4096    # values: from this many, median selects within a sample's bracket
SELECT_SAMPLE = 2048  # values in that sample
SELECT_MARGIN = 64    # sample ranks either side of the median's in the bracket


def median(values: np.ndarray):
    """``np.median(values)``, the same value (the middle one, or the mean of the two middle
    ones), about three times faster on a face's worth of pixels: the middle ranks are
    selected among only the values within a bracket taken from a sorted sample of
    SELECT_SAMPLE, shifted by the count below it. Where the bracket misses the middle (or
    there are NaNs), ``np.median`` itself.

    >>> float(median(np.array([3.0, 1.0, 2.0, 10.0])))
    2.5
    """
    v = np.ravel(values)
    n = v.size
    if n < SELECT_FROM:
        return np.median(v)
    ks = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
    sample = np.sort(v[::max(n // SELECT_SAMPLE, 1)])
    m = sample.size
    lo = sample[max(ks[0] * m // n - SELECT_MARGIN, 0)]
    hi = sample[min(ks[-1] * m // n + SELECT_MARGIN, m - 1)]
    below = int(np.count_nonzero(v < lo))
    inside = v[(v >= lo) & (v <= hi)]
    above = int(np.count_nonzero(v > hi))
    if below + inside.size + above != n or not below <= ks[0] <= ks[-1] < below + inside.size:
        return np.median(v)
    ks = [k - below for k in ks]
    return np.mean(np.partition(inside, ks)[ks])


def spot_components(contrast: np.ndarray, zone: np.ndarray, skin: SkinImage, high: float,
                    low: float, min_area_mm2: float, max_area_mm2: float,
                    min_thickness_mm: float, max_aspect: float = 1e9,
                    min_solidity: float = 0.0):
    """Spots: components of ``contrast > low`` holding a pixel ``> high``, inside ``zone``,
    whose area is within bounds and whose thickness (twice the largest inscribed radius)
    reaches ``min_thickness_mm`` (so lines and hair are not spots) and whose oriented
    bounding box is at most ``max_aspect`` times longer than wide (folds and creases) and
    which fill at least ``min_solidity`` of their convex hull (ragged shading patterns).

    Returns a list of dicts: polygon, area_mm2, intensity (mean contrast), centre (x, y).
    """
    weak = (contrast > low) & zone
    strong = (contrast > high) & zone
    labels, stats, keep = hysteresis(strong, weak)
    if len(keep) == 0:
        return []
    mm2 = skin.px_per_mm ** 2
    area = stats[keep, cv2.CC_STAT_AREA] / mm2
    keep = keep[(area >= min_area_mm2) & (area <= max_area_mm2)]
    if len(keep) == 0:
        return []
    mask = np.isin(labels, keep).astype(np.uint8)
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    n = labels.max() + 1
    thick = np.zeros(n)
    np.maximum.at(thick, labels[mask > 0], dist[mask > 0])
    keep = keep[2 * thick[keep] >= skin.px(min_thickness_mm)]
    means = component_means(labels, contrast, n)
    out = []
    for i, poly in polygon_features(labels, keep, stats):
        if max_aspect < 1e9:
            (_, (rw, rh), _) = cv2.minAreaRect(np.asarray(poly.exterior.coords, np.float32))
            if max(rw, rh) > max_aspect * max(min(rw, rh), 1e-6):
                continue
        if min_solidity > 0 and poly.area < min_solidity * poly.convex_hull.area:
            continue
        c = poly.centroid
        out.append({"polygon": poly, "area_mm2": float(stats[i, cv2.CC_STAT_AREA] / mm2),
                    "intensity": float(means[i]), "centre": (c.x, c.y)})
    return out
