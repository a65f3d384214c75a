"""Robust local backgrounds: a channel's departure from the skin around it, in its own noise.

A spot is measured against the skin around it. A plain Gaussian background is lifted by the
spot itself, so the background here is re-estimated without the pixels that stand out
(:class:`RobustDifferences`); pigmentation computes ten such maps per face (darkness at two
smoothings, melanin, haemoglobin, L*, each at two background widths), which share their work.

>>> import numpy as np, torch
>>> from types import SimpleNamespace
>>> zone = np.ones((40, 40), bool)
>>> skin = SimpleNamespace(zone=zone, shape=zone.shape, px=lambda mm: 4.0 * mm,
...                        linear=torch.zeros(1))
>>> channel = torch.zeros(40, 40); channel[18:22, 18:22] = 10.0
>>> maps = RobustDifferences(skin, zone)
>>> d, sigma = maps.get("c", channel, 0.25, 2.5)
>>> bool(d[20, 20] > 5 * d[5, 5] + 1)
True
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from algorithms.skin.filters import blur
from algorithms.skin.geometry import bbox_slices
from algorithms.skin.spots import robust_sigma

if TYPE_CHECKING:
    from algorithms.skin.skin_image import SkinImage

__all__ = ["EXCLUDE_SIGMAS", "ROBUST_ROUNDS", "RobustDifferences"]

EXCLUDE_SIGMAS = 2.0       # robust background: pixels this many noise sigmas above the
ROBUST_ROUNDS = 3          # previous estimate are left out of the next, this many times
MASKED_EPS = 1e-3          # filters.masked_blur's floor of the mask's blur


class RobustDifferences:
    """``smooth(channel) - background(channel)`` inside ``zone``, and its robust noise sigma,
    for several channels on one zone (:meth:`get`).

    Both are masked Gaussians over the zone; the background is re-estimated ROBUST_ROUNDS
    times without the pixels more than EXCLUDE_SIGMAS noise sigmas above the previous
    estimate, so a spot (up to about twice the background's sigma across) does not lift its
    own reference. Computed on the zone's bounding box (with a margin of three background
    sigmas). What the maps share is computed once: per background width, that box and the
    blurs of the zone mask (the normalisation of every masked blur before the robust
    rounds), and per channel and width its first background (the same for both
    smoothings); each map once, however often it is asked for."""

    def __init__(self, skin: SkinImage, zone: np.ndarray):
        self.skin = skin
        self.zone = zone
        self._boxes: dict = {}
        self._memo: dict = {}

    def _once(self, key, make):
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def _box(self, background_mm: float):
        def make():
            ys, xs = bbox_slices(self.zone, int(3 * self.skin.px(background_mm)) + 2)
            zn = self.zone[ys, xs]
            return ys, xs, zn, torch.from_numpy(zn.copy()).to(self.skin.linear.device)
        return self._once(("box", background_mm), make)

    def _norm(self, background_mm: float, sigma: float) -> torch.Tensor:
        """The zone mask's blur: the denominator of a masked blur over the zone."""
        def make():
            zt = self._box(background_mm)[3]
            return blur(zt.to(torch.float32), sigma).clamp_min(MASKED_EPS)
        return self._once(("norm", background_mm, sigma), make)

    def _zone_blur(self, name: str, channel: torch.Tensor, background_mm: float,
                   sigma: float) -> torch.Tensor:
        """masked_blur(channel, zone, sigma) on the box of ``background_mm``."""
        def make():
            ys, xs, _, zt = self._box(background_mm)
            ch = channel[ys, xs]
            return blur(ch * zt.to(ch.dtype), sigma) / self._norm(background_mm, sigma)
        return self._once(("blur", name, background_mm, sigma), make)

    def get(self, name: str, channel: torch.Tensor, smooth_mm: float,
            background_mm: float) -> tuple[np.ndarray, float]:
        """The difference map of ``channel`` (called ``name``: the key its shared blurs are
        kept under) at ``smooth_mm`` against its robust background at ``background_mm``,
        full size (0 outside the box), and its robust noise sigma over the zone."""
        return self._once(("diff", name, smooth_mm, background_mm),
                          lambda: self._difference(name, channel, smooth_mm, background_mm))

    def _difference(self, name, channel, smooth_mm, background_mm):
        out = np.zeros(self.skin.shape, np.float32)
        if not self.zone.any():
            return out, 0.0
        ys, xs, zn, zt = self._box(background_mm)
        ch = channel[ys, xs]
        bg = self.skin.px(background_mm)
        fine = self._zone_blur(name, channel, background_mm, self.skin.px(smooth_mm))
        coarse = self._zone_blur(name, channel, background_mm, bg)
        sigma = 0.0
        for _ in range(ROBUST_ROUNDS):
            d = fine - coarse
            sigma = max(robust_sigma(d.cpu().numpy()[zn]), 1e-3)
            # masked_blur(ch, keep, bg), its numerator and denominator blurred in one call
            keep = (zt & (d <= EXCLUDE_SIGMAS * sigma)).to(ch.dtype)
            num, den = blur(torch.stack((ch * keep, keep)), bg)
            coarse = num / den.clamp_min(MASKED_EPS)
        d = (fine - coarse).cpu().numpy()
        sigma = max(robust_sigma(d[zn]), 1e-3)
        out[ys, xs] = d
        return out, sigma

    def largest(self, name: str, channel: torch.Tensor, smooth_mm: float,
                backgrounds_mm) -> np.ndarray:
        """The largest difference over the ``backgrounds_mm`` widths, per pixel."""
        return np.maximum.reduce([self.get(name, channel, smooth_mm, b)[0]
                                  for b in backgrounds_mm])
