"""The torch device image filters run on: ``RASTERISATION_DEVICE`` (default ``cpu``).

Set ``RASTERISATION_DEVICE=cuda`` (or ``cuda:1``, ``mps``) where a GPU is present. An
unavailable device is an error at first use, not a silent fallback, so a misconfigured
GPU host does not quietly run ten times slower.
"""
from __future__ import annotations

import functools
import os

import torch

__all__ = ["get_device", "DEVICE_ENV"]

DEVICE_ENV = "RASTERISATION_DEVICE"


@functools.lru_cache(maxsize=None)
def _device(name: str) -> torch.device:
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"{DEVICE_ENV}={name} but torch sees no CUDA device")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"{DEVICE_ENV}={name} but torch sees no MPS device")
    return device


def get_device() -> torch.device:
    """The configured torch device (read from the environment on each call, cached per name)."""
    return _device(os.environ.get(DEVICE_ENV, "cpu").strip() or "cpu")
