"""Upload decoding: format from the bytes, pixel limit before decoding, orientation, colour,
metadata stripped."""
from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image, ImageCms

from rasterisation.services.imaging import ImageRejected, prepare_upload, sniff_format


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("orientation,size,red_at", [
    (1, (60, 40), (5, 5)), (3, (60, 40), (55, 35)), (6, (40, 60), (35, 5)),
    (8, (40, 60), (5, 55)),
])
def test_exif_orientation(orientation, size, red_at):
    im = Image.new("RGB", (60, 40), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 20, 15))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = prepare_upload(encode(im, "JPEG", exif=exif, quality=95), max_pixels=10_000)
    with Image.open(io.BytesIO(out.data)) as stored:
        assert stored.size == size == (out.width, out.height)
        assert stored.getpixel(red_at)[0] > 200, orientation


def test_png_exif_orientation_too():
    im = Image.new("RGB", (30, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = prepare_upload(encode(im, "PNG", exif=exif), max_pixels=10_000)
    assert (out.width, out.height) == (10, 30)


def test_metadata_is_not_kept():
    im = Image.new("RGB", (20, 20), (10, 20, 30))
    exif = Image.Exif()
    exif[0x010F] = "MakerName"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for fmt, kw in (("JPEG", {"exif": exif, "icc_profile": icc, "comment": b"CommentText"}),
                    ("PNG", {"exif": exif, "icc_profile": icc}),
                    ("WEBP", {"exif": exif, "icc_profile": icc, "lossless": True})):
        raw = encode(im, fmt, **kw)
        assert b"MakerName" in raw
        out = prepare_upload(raw, max_pixels=10_000)
        for marker in (b"MakerName", b"Exif", b"CommentText", b"iCCP", b"ICC_PROFILE"):
            assert marker not in out.data, (fmt, marker)
        with Image.open(io.BytesIO(out.data)) as stored:
            assert not stored.getexif() and "icc_profile" not in stored.info


def test_srgb_profile_keeps_the_colours():
    """The colour-management path runs and leaves sRGB numbers as they are."""
    im = Image.new("RGB", (8, 8), (200, 120, 90))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    same = prepare_upload(encode(im, "PNG", icc_profile=srgb), max_pixels=100)
    with Image.open(io.BytesIO(same.data)) as stored:
        assert np.abs(np.asarray(stored, int) - (200, 120, 90)).max() <= 1


def test_broken_icc_profile_keeps_the_photo():
    im = Image.new("RGB", (8, 8), (200, 120, 90))
    out = prepare_upload(encode(im, "PNG", icc_profile=b"garbage" * 20), max_pixels=100)
    assert (out.width, out.height) == (8, 8)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "I;16", "CMYK", "1"])
def test_every_mode_becomes_rgb(mode):
    im = Image.new("RGBA", (10, 10), (255, 0, 0, 0)).convert(mode) if mode != "I;16" \
        else Image.fromarray(np.full((10, 10), 40000, np.uint16))
    fmt = "JPEG" if mode in ("CMYK", "L") else "PNG"
    out = prepare_upload(encode(im, fmt), max_pixels=1000)
    with Image.open(io.BytesIO(out.data)) as stored:
        assert stored.mode == "RGB"
        if mode == "RGBA":  # fully transparent flattens to white
            assert stored.getpixel((0, 0)) == (255, 255, 255)
        if mode == "I;16":  # 40000/65535 of full scale, not clipped to 255
            assert 150 < stored.getpixel((0, 0))[0] < 160


def test_jpeg_stays_jpeg_others_become_png():
    im = Image.new("RGB", (10, 10))
    assert prepare_upload(encode(im, "JPEG"), max_pixels=100).format == "jpeg"
    assert prepare_upload(encode(im, "PNG"), max_pixels=100).format == "png"
    webp = prepare_upload(encode(im, "WEBP"), max_pixels=100)
    assert (webp.format, webp.upload_format, webp.content_type) == ("png", "webp", "image/png")


def test_pixel_limit_is_checked_before_decoding():
    big = encode(Image.new("RGB", (4000, 3000)), "PNG")
    start = time.perf_counter()
    with pytest.raises(ImageRejected) as info:
        prepare_upload(big, max_pixels=11_999_999)
    assert info.value.status == 413 and "4000 x 3000" in info.value.message
    assert time.perf_counter() - start < 0.5
    assert prepare_upload(big, max_pixels=12_000_000).width == 4000


@pytest.mark.parametrize("data,status", [
    (b"", 422), (b"GIF89a" + b"\0" * 30, 415), (b"%PDF-1.4 hello", 415),
    (b"\x89PNG\r\n\x1a\n\0\0", 422), (b"\xff\xd8\xff\xe0", 422), (b"RIFF\0\0\0\0WEBPVP8 ", 422),
])
def test_rejections(data, status):
    with pytest.raises(ImageRejected) as info:
        prepare_upload(data, max_pixels=1000)
    assert info.value.status == status and info.value.message


def test_sniff_format():
    assert sniff_format(b"\xff\xd8\xff\xdb") == "JPEG"
    assert sniff_format(b"RIFF1234WEBPVP8L") == "WEBP"
    assert sniff_format(b"hello") is None
