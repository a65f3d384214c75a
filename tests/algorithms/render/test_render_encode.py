"""Encoders: formats round-trip, JPEG is 4:4:4, nothing of the source's metadata leaks."""
from __future__ import annotations

import importlib
import io

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from algorithms.render import CONTENT_TYPES, OUTPUT_FORMATS, encode

encode_module = importlib.import_module("algorithms.render.encode")  # the function shadows it


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    rng = np.random.default_rng(1)
    img = np.zeros((61, 83, 3), np.uint8)
    img[..., 0] = np.linspace(0, 255, 83)[None, :]
    img[..., 1] = np.linspace(0, 255, 61)[:, None]
    img[20:40, 30:50] = rng.integers(0, 256, (20, 20, 3))
    return img


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
def test_round_trip(picture, fmt):
    data = encode(picture, format=fmt)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format.lower() == fmt
        assert Image.MIME[im.format] == CONTENT_TYPES[fmt]
        assert im.size == (83, 61)
        decoded = np.asarray(im.convert("RGB"))
        assert not im.getexif()
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(im.info)
    error = np.abs(decoded.astype(int) - picture.astype(int)).mean()
    assert error == 0 if fmt == "png" else error < 6


def test_jpeg_keeps_full_chroma_and_takes_a_quality(picture):
    with Image.open(io.BytesIO(encode(picture))) as im:
        assert im.format == "JPEG"
        assert JpegImagePlugin.get_sampling(im) == 0  # 4:4:4
    assert len(encode(picture, quality=30)) < len(encode(picture, quality=95))


def test_png_without_fpng_uses_opencv(monkeypatch, picture):
    monkeypatch.setattr(encode_module, "fpng", None)
    with Image.open(io.BytesIO(encode(picture, format="png"))) as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), picture)


def test_unknown_format_lists_the_valid_ones(picture):
    with pytest.raises(ValueError, match="jpeg, png, webp"):
        encode(picture, format="gif")


@pytest.mark.parametrize("quality", [0, 101, 9.5])
def test_bad_quality_is_refused(picture, quality):
    with pytest.raises(ValueError, match="quality"):
        encode(picture, quality=quality)


def test_bad_image_is_refused():
    with pytest.raises(ValueError, match="uint8"):
        encode(np.zeros((4, 4), np.uint8))
