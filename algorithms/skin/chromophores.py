"""Chromophores: haemoglobin and melanin index maps, blind to shading and to each other.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from algorithms.skin.colour import linear_rgb

__all__ = ["MELANIN", "HAEMOGLOBIN", "OD_TO_INDEX", "chromophore_indices"]

# Optical density OD_c = -ln(linear RGB_c). In OD space, shading (less light) adds the same
# amount to R, G and B (direction (1, 1, 1)); melanin adds along MELANIN (absorption ~
# lambda^-3.5 sampled at 620/540/460 nm, normalised to G), haemoglobin along HAEMOGLOBIN
# (oxy-haemoglobin extinction averaged over broad camera bands, normalised to G). An index
# orthogonal to shading and to the other chromophore is the cross product of the two
# (Tsumura et al. 1999 find these directions by ICA; we fix them from the spectra).
MELANIN = (0.62, 1.0, 1.75)
HAEMOGLOBIN = (0.05, 1.0, 0.80)
OD_TO_INDEX = 100.0 / math.log(10.0)  # same units as EI = 100 log10(R/G)


def _index_weights(cancel: Sequence[float], measure: Sequence[float]) -> torch.Tensor:
    w = np.cross(np.ones(3), np.asarray(cancel, float))
    w = w / float(np.dot(w, measure))  # unit response to one OD unit of the chromophore
    return torch.tensor(w * OD_TO_INDEX, dtype=torch.float32)


def chromophore_indices(rgb: torch.Tensor | None, lin: torch.Tensor | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(haemoglobin index, melanin index)`` maps of a ``(3, H, W)`` sRGB image (``lin``:
    the same in linear light, if at hand).

    Each is insensitive to shading / exposure (adding OD equally to R, G, B) and to the
    other chromophore, and reads 100/ln(10) ~ 43 per unit of its own optical density.
    """
    od = -torch.log((linear_rgb(rgb) if lin is None else lin).clamp_min(1e-4))
    wh = _index_weights(MELANIN, HAEMOGLOBIN).to(od.device)
    wm = _index_weights(HAEMOGLOBIN, MELANIN).to(od.device)
    return (torch.einsum("c,chw->hw", wh, od), torch.einsum("c,chw->hw", wm, od))
