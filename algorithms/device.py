"""The torch device image filters run on: ``RASTERISATION_DEVICE`` (default ``cpu``).

Set ``RASTERISATION_DEVICE=cuda`` (or ``cuda:1``, ``mps``) where a GPU is present. An
unavailable device is an error at first use, not a silent fallback, so a misconfigured
GPU host does not quietly run ten times slower.

CPU threads: ``RASTERISATION_TORCH_THREADS`` (default 1) sets torch's intra-op threads at
first use. One thread per worker is what a server with several workers wants, and on a
busy machine torch's own thread pool thrashes: a 800x800 blur measured 15 ms with one
thread and 210-330 ms with two while other processes kept both cores busy.
"""
from __future__ import annotations

import functools
import os

import torch

__all__ = ["get_device", "DEVICE_ENV", "THREADS_ENV"]

DEVICE_ENV = "RASTERISATION_DEVICE"
THREADS_ENV = "RASTERISATION_TORCH_THREADS"


@functools.lru_cache(maxsize=None)
def _threads(n: int) -> None:
    if n > 0 and torch.get_num_threads() != n:
        torch.set_num_threads(n)


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
    _threads(int(os.environ.get(THREADS_ENV, "1") or 1))
    return _device(os.environ.get(DEVICE_ENV, "cpu").strip() or "cpu")
