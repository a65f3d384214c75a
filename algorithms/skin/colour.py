"""Colour: 8-bit sRGB -> linear light -> CIELAB (D65), as torch ops.

Examples
--------
>>> import numpy as np
>>> lab = rgb_to_lab(to_tensor(np.full((1, 1, 3), 255, np.uint8), device="cpu"))
>>> [round(float(v), 2) for v in lab[:, 0, 0]]
[100.0, 0.0, 0.0]
"""
from __future__ import annotations

import numpy as np
import torch

from algorithms.device import get_device

__all__ = ["to_tensor", "linear_rgb", "linear_from_uint8", "rgb_to_lab", "LINEAR_LUT",
           "Y_FROM_LINEAR", "log_luminance"]


def to_tensor(image: np.ndarray, device: torch.device | None = None) -> torch.Tensor:
    """``(H, W, 3)`` uint8 RGB -> ``(3, H, W)`` float32 in [0, 1] on the device."""
    t = torch.from_numpy(np.ascontiguousarray(image[..., :3]))
    t = t.to(device or get_device()).permute(2, 0, 1).float().div_(255.0)
    return t.contiguous()


_RGB2XYZ = ((0.4124564, 0.3575761, 0.1804375),
            (0.2126729, 0.7151522, 0.0721750),
            (0.0193339, 0.1191920, 0.9503041))
_WHITE = (0.95047, 1.0, 1.08883)
Y_FROM_LINEAR = _RGB2XYZ[1]   # linear RGB -> CIE Y (D65, Y_white = 1)


def linear_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded [0, 1] -> linear light (IEC 61966-2-1)."""
    return torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


LINEAR_LUT = linear_rgb(torch.arange(256, dtype=torch.float32) / 255.0).numpy()


def linear_from_uint8(image: np.ndarray, device: torch.device | None = None) -> torch.Tensor:
    """``(H, W, 3)`` uint8 sRGB -> ``(3, H, W)`` linear light, by a 256-entry lookup table
    (a decode, not a filter: done by numpy before the tensor goes to the device)."""
    planes = np.moveaxis(np.asarray(image[..., :3]), -1, 0)
    return torch.from_numpy(LINEAR_LUT[planes]).to(device or get_device())


def rgb_to_lab(rgb: torch.Tensor | None, lin: torch.Tensor | None = None) -> torch.Tensor:
    """``(3, H, W)`` sRGB [0, 1] -> ``(3, H, W)`` CIELAB (L* 0-100, a*, b*), D65 white.
    ``lin``: the same image in linear light, if already at hand."""
    lin = linear_rgb(rgb) if lin is None else lin
    m = torch.tensor(_RGB2XYZ, dtype=lin.dtype, device=lin.device)
    xyz = torch.einsum("ij,jhw->ihw", m, lin)
    xyz = xyz / torch.tensor(_WHITE, dtype=lin.dtype, device=lin.device).view(3, 1, 1)
    eps, kappa = 216 / 24389, 24389 / 27
    f = torch.where(xyz > eps, xyz.clamp_min(1e-12) ** (1 / 3), (kappa * xyz + 16) / 116)
    fx, fy, fz = f[0], f[1], f[2]
    return torch.stack((116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)))


def log_luminance(lin: torch.Tensor) -> torch.Tensor:
    """ln Y of a ``(3, ...)`` linear-light image: a shadow that takes a fraction f of the
    light is -ln(1 - f) deep on any skin.

    >>> round(float(log_luminance(torch.full((3, 1), 0.5))[0]), 4)
    -0.6931
    """
    r, g, b = Y_FROM_LINEAR
    return torch.log((r * lin[0] + g * lin[1] + b * lin[2]).clamp_min(1e-4))
