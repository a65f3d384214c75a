"""Turn uploaded bytes into the photo we store: checked, upright, sRGB, without metadata.

Pure (bytes in, bytes out; no Flask, no DB). Order matters:

1. the format is read from the bytes (never the file name) and limited to JPEG, PNG, WEBP;
2. the pixel count is read from the header and checked *before* any pixel is decoded, so a
   40000 x 40000 PNG bomb is refused in microseconds with no memory spent;
3. the pixels are decoded (a truncated or corrupt file is refused here);
4. the EXIF orientation is applied, ICC colours converted to sRGB, the mode made RGB;
5. the result is re-encoded (JPEG stays JPEG at high quality and 4:4:4; PNG and WEBP become
   lossless PNG) without EXIF, GPS, XMP, ICC or text chunks.

Example
-------
>>> import io
>>> from PIL import Image as PILImage
>>> buf = io.BytesIO(); PILImage.new("RGB", (4, 2)).save(buf, "PNG")
>>> prepared = prepare_upload(buf.getvalue(), max_pixels=100)
>>> prepared.format, prepared.width, prepared.height
('png', 4, 2)
"""
from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

__all__ = ["ACCEPTED_FORMATS", "ImageRejected", "PreparedImage", "prepare_upload",
           "sniff_format"]

log = logging.getLogger(__name__)

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
_MAGIC = {
    "JPEG": (b"\xff\xd8\xff",),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
}


class ImageRejected(ValueError):
    """The upload cannot be accepted; ``status`` is the HTTP code to answer (413/415/422)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PreparedImage:
    data: bytes
    format: str          # stored format: "jpeg" or "png"
    content_type: str
    width: int
    height: int
    upload_format: str   # what was uploaded: "jpeg", "png" or "webp"


def sniff_format(data: bytes) -> str | None:
    """The accepted format the first bytes announce, or None.

    >>> sniff_format(b"\\x89PNG\\r\\n\\x1a\\n....")
    'PNG'
    """
    for name, magics in _MAGIC.items():
        if any(data.startswith(m) for m in magics):
            return name
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _open(data: bytes) -> Image.Image:
    claimed = sniff_format(data)
    try:
        with warnings.catch_warnings():
            # our own limit below is the one that counts; Pillow's warning would only be noise
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageRejected(413, f"the image has too many pixels to be processed ({exc})") \
            from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        if claimed:
            raise ImageRejected(422, f"the file starts like a {claimed} image but its header "
                                     "is truncated or corrupt") from None
        raise ImageRejected(415, "the file is not a JPEG, PNG or WEBP image (the format is "
                                 "read from the content, not the file name)") from None


def _to_srgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return im
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.createProfile("sRGB")
        mode = "RGBA" if im.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(im, source, srgb, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        # a broken profile must not cost the user their photo: keep the numbers as they are
        log.info("ignoring unusable ICC profile: %s", exc)
        return im


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grey: scale to 8 bits instead of clipping at 255
        arr = np.asarray(im, dtype=np.uint32)
        top = 65535 if arr.max(initial=0) > 255 else 255
        im = Image.fromarray((arr * 255 // top).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        # transparency has no meaning for skin analysis: flatten onto white
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB") if im.mode != "RGB" else im


def prepare_upload(data: bytes, *, max_pixels: int, jpeg_quality: int = 95,
                   png_compress_level: int = 3) -> PreparedImage:
    """Check, decode, orient, clean and re-encode an uploaded photo.

    Parameters
    ----------
    data
        The uploaded bytes.
    max_pixels
        Largest accepted ``width * height`` (checked from the header, before decoding).
    jpeg_quality, png_compress_level
        Encoder settings of the stored copy (see docs/decisions.md).

    Raises
    ------
    ImageRejected
        422 empty/truncated/corrupt, 415 not JPEG/PNG/WEBP, 413 too many pixels.
    """
    if not data:
        raise ImageRejected(422, "the file is empty")
    im = _open(data)
    upload_format = im.format
    width, height = im.size
    if width < 1 or height < 1:
        raise ImageRejected(422, f"the image has no pixels ({width} x {height})")
    if width * height > max_pixels:
        raise ImageRejected(
            413, f"the image is {width} x {height} = {width * height} pixels; the limit is "
                 f"{max_pixels} (RASTERISATION_MAX_IMAGE_PIXELS)")
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected(422, f"the {upload_format} image is truncated or corrupt: {exc}") \
            from None

    try:
        oriented = ImageOps.exif_transpose(im)
    except Exception as exc:  # noqa: BLE001 - malformed EXIF must not reject the photo
        log.info("ignoring unreadable EXIF orientation: %s", exc)
        oriented = im
    oriented.info.setdefault("icc_profile", im.info.get("icc_profile"))
    rgb = _to_rgb(_to_srgb(oriented))
    # Pillow's encoders copy some of im.info (e.g. the PNG iCCP chunk) unless told otherwise
    rgb.info.clear()

    out = io.BytesIO()
    if upload_format == "JPEG":
        # no exif=, icc_profile=, comment= arguments: nothing but pixels is written
        rgb.save(out, "JPEG", quality=jpeg_quality, subsampling=0, optimize=False)
        fmt, content_type = "jpeg", "image/jpeg"
    else:
        rgb.save(out, "PNG", compress_level=png_compress_level)
        fmt, content_type = "png", "image/png"
    return PreparedImage(data=out.getvalue(), format=fmt, content_type=content_type,
                         width=rgb.width, height=rgb.height,
                         upload_format=upload_format.lower())
