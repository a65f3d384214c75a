"""Shared fixtures for the whole suite (one conftest, as the style guide asks).

Sections: photos (real skin to test on), then the Flask app / client / company / token
fixtures of the service.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

DATA_DIR = Path(__file__).parent / "data"
PHOTO_DIR = DATA_DIR / "photos"  # Face Research Lab London Set, CC BY 4.0: see its README
PORTRAIT_NAMES = sorted(p.stem for p in PHOTO_DIR.glob("london_*.jpg"))


# ---------------------------------------------------------------- photos
@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut (public domain), 512x512 RGB uint8, one small face."""
    from skimage import data

    return data.astronaut()


def load_portrait(name: str) -> np.ndarray:
    with Image.open(PHOTO_DIR / f"{name}.jpg") as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="session", params=PORTRAIT_NAMES)
def portrait(request) -> np.ndarray:
    """Each of the six studio portraits in turn (1350x1350 RGB uint8)."""
    return load_portrait(request.param)


@pytest.fixture(scope="session")
def portraits() -> dict[str, np.ndarray]:
    return {name: load_portrait(name) for name in PORTRAIT_NAMES}
