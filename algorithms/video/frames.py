"""Frames as YUV 4:2:0 planes: no full-frame RGB anywhere in the video pipeline.

A decoded 1080p frame is 3 MB of Y, U and V planes; converting it to RGB and back costs more
than the faces' masks. So the pipeline works on the planes themselves:

* :func:`planes` - NumPy views of a frame's Y, U, V planes (no copy; other pixel formats
  are converted to yuv420p by swscale first), cropped to even sizes;
* :func:`thumbnail` - the 32 x 18 Y/U/V thumbnail the cut detector compares;
* :func:`detection_rgb` - the frame reduced to the detector's size, converted to RGB and
  turned upright (the only RGB frame: ~0.5 MP instead of 2 MP);
* :func:`upright` - a new output frame with the planes turned upright (the display
  rotation applied) or copied;
* :func:`hide` - one detection hidden by the photo anonymiser
  (:func:`algorithms.detect.anonymise.anonymise`) in its own crop: the crop (detection,
  padding, feather and the blur's reach) goes to RGB and back, and only the pixels its mask
  touches are written, so every other pixel keeps its decoded value bit for bit.

Rotation: a frame's ``rotation`` (PyAV: degrees counter-clockwise of its display matrix,
the MP4/MOV ``tkhd`` matrix or the Matroska projection) says how a player turns it;
:data:`TURN` maps it to the OpenCV rotation that makes it upright.
"""
from __future__ import annotations

import math

import av
import cv2
import numpy as np
from shapely import affinity

from algorithms.detect.anonymise import AnonymiseOptions, anonymise
from algorithms.detect.raster import local_mask
from algorithms.detect.types import Detected

__all__ = ["TURN", "THUMB", "planes", "rotation", "thumbnail", "detection_size",
           "detection_rgb", "upright", "hide"]

THUMB = (32, 18)
# frame.rotation (counter-clockwise degrees) -> cv2.rotate code that shows it upright
TURN = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180,
        270: cv2.ROTATE_90_CLOCKWISE}


def rotation(frame) -> int:
    """The frame's display rotation, counter-clockwise, rounded to 0, 90, 180 or 270."""
    try:
        angle = float(frame.rotation or 0)
    except Exception:  # noqa: BLE001 - a malformed display matrix is no rotation
        return 0
    return int(round(angle / 90.0)) % 4 * 90


def _view(plane, width: int, height: int) -> np.ndarray:
    a = np.frombuffer(plane, np.uint8)
    return a[:plane.line_size * plane.height].reshape(plane.height, plane.line_size)[
        :height, :width]


def planes(frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views (no copy) of the frame's Y, U and V planes at the even size below its own
    (libx264's 4:2:0 needs even sizes); read-only by convention: a decoded frame's memory
    may be a reference picture of the decoder."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    w, h = frame.width - frame.width % 2, frame.height - frame.height % 2
    y, u, v = frame.planes[:3]
    return _view(y, w, h), _view(u, w // 2, h // 2), _view(v, w // 2, h // 2)


def thumbnail(yuv) -> np.ndarray:
    """A 32 x 18 thumbnail of luma and both chroma planes (int16, 3 channels): each
    thumbnail pixel the mean of a grid of ~8 x 8 samples of its area (every pixel of a
    1080p frame would cost 5x more for the same cut decisions)."""
    out = []
    for p in yuv:
        step = max(1, min(p.shape[0] // (THUMB[1] * 8), p.shape[1] // (THUMB[0] * 8)))
        out.append(cv2.resize(p[::step, ::step], THUMB, interpolation=cv2.INTER_AREA))
    return np.stack(out, -1).astype(np.int16)


def detection_size(width: int, height: int, longest: int | None) -> tuple[int, int]:
    """The (even) size a width x height frame is reduced to for the detector: its long side
    at most ``longest`` (None: unchanged).

    >>> detection_size(1920, 1080, 960), detection_size(640, 360, 960)
    ((960, 540), (640, 360))
    """
    if not longest or max(width, height) <= longest:
        return width, height
    s = longest / max(width, height)
    return max(2, int(round(width * s / 2)) * 2), max(2, int(round(height * s / 2)) * 2)


def _i420(y, u, v) -> np.ndarray:
    """One contiguous I420 buffer (H * 3 / 2, W) of the three planes."""
    h, w = y.shape
    buf = np.empty((h * 3 // 2, w), np.uint8)
    buf[:h] = y
    chroma = buf[h:].reshape(2, h // 2, w // 2)
    chroma[0] = u
    chroma[1] = v
    return buf


def detection_rgb(yuv, size: tuple[int, int], turn: int) -> np.ndarray:
    """The frame at ``size`` (w, h, as stored), RGB, turned upright by ``turn`` degrees."""
    y, u, v = yuv
    w, h = size
    if (w, h) != (y.shape[1], y.shape[0]):
        y = cv2.resize(y, (w, h), interpolation=cv2.INTER_AREA)
        u = cv2.resize(u, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        v = cv2.resize(v, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(_i420(y, u, v), cv2.COLOR_YUV2RGB_I420)
    return cv2.rotate(rgb, TURN[turn]) if turn else rgb


def upright(yuv, turn: int):
    """A new yuv420p :class:`av.VideoFrame` holding the planes turned upright; its
    writable plane views come with it: ``(frame, (Y, U, V))``."""
    y, u, v = yuv
    h, w = y.shape
    if turn in (90, 270):
        w, h = h, w
    out = av.VideoFrame(w, h, "yuv420p")
    dst = planes(out)
    for src, d in zip(yuv, dst):
        if turn:
            d[...] = cv2.rotate(src, TURN[turn])
        else:
            np.copyto(d, src)
    return out, dst


def _blurred(plane: np.ndarray, x0: int, y0: int, x1: int, y1: int,
             sigma: float) -> np.ndarray:
    """The area [x0:x1, y0:y1] of ``plane`` blurred with ``sigma`` px, as the photo
    anonymiser blurs (``algorithms.detect.anonymise``): a Gaussian over the area grown by
    three sigmas, computed on a copy reduced by ~sigma / 3 when that is 2 or more. Here the
    factor is a whole number (OpenCV's area reduction is then 6x faster) and only the area
    itself is enlarged back.
    """
    h, w = plane.shape
    m = int(math.ceil(3 * sigma))
    ex0, ey0, ex1, ey1 = max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)
    f = int(sigma // 3)
    if f < 2:
        out = cv2.GaussianBlur(plane[ey0:ey1, ex0:ex1], (0, 0), max(sigma, 0.1),
                               borderType=cv2.BORDER_REPLICATE)
        return out[y0 - ey0:y1 - ey0, x0 - ex0:x1 - ex0]
    rw, rh = (ex1 - ex0) // f * f, (ey1 - ey0) // f * f     # whole cells (drops < f px)
    if rw < f or rh < f:
        return np.full((y1 - y0, x1 - x0), int(plane[y0:y1, x0:x1].mean()), np.uint8)
    small = cv2.resize(plane[ey0:ey0 + rh, ex0:ex0 + rw], (rw // f, rh // f),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f, borderType=cv2.BORDER_REPLICATE)
    # enlarge the cells over the area (one cell more on each side, so that the
    # interpolation reads real neighbours), then cut the area out
    ox, oy = x0 - ex0, y0 - ey0
    i0, j0 = max(0, oy // f - 1), max(0, ox // f - 1)
    i1 = min(small.shape[0], -(-(oy + y1 - y0) // f) + 1)
    j1 = min(small.shape[1], -(-(ox + x1 - x0) // f) + 1)
    big = cv2.resize(small[i0:i1, j0:j1], ((j1 - j0) * f, (i1 - i0) * f),
                     interpolation=cv2.INTER_LINEAR)
    out = big[oy - i0 * f:oy - i0 * f + y1 - y0, ox - j0 * f:ox - j0 * f + x1 - x0]
    short = (y1 - y0 - out.shape[0], x1 - x0 - out.shape[1])
    if short[0] or short[1]:          # the area reaches into the dropped edge of the frame
        out = cv2.copyMakeBorder(out, 0, short[0], 0, short[1], cv2.BORDER_REPLICATE)
    return out


def _fill_yuv(color) -> tuple[int, int, int]:
    """The Y, U, V values of an RGB colour (OpenCV's BT.601 I420, as the frames)."""
    patch = np.empty((2, 2, 3), np.uint8)
    patch[...] = color
    yuv = cv2.cvtColor(patch, cv2.COLOR_RGB2YUV_I420).reshape(-1)
    return int(yuv[0]), int(yuv[4]), int(yuv[5])


def _blend(plane: np.ndarray, effect, alpha: np.ndarray) -> None:
    """plane = (plane * (255 - alpha) + effect * alpha + 127) // 255, in place, in integers:
    where alpha is 0 the pixel is left exactly as it was."""
    a = alpha.astype(np.uint16)
    mixed = plane.astype(np.uint16) * (255 - a)
    mixed += np.asarray(effect, np.uint16) * a
    mixed += 127
    mixed //= 255
    np.copyto(plane, mixed, casting="unsafe", where=alpha > 0)


def hide(yuv, det: Detected, options: AnonymiseOptions = AnonymiseOptions()) -> bool:
    """Hide ``det`` (frame pixels) in the writable planes ``yuv`` in place, as the photo
    anonymiser (:func:`algorithms.detect.anonymise.anonymise`) hides it in an RGB photo;
    False when nothing was drawn (method ``detect``, an empty mask, off the frame).

    Blur and fill work on the planes themselves (both are linear, so blurring Y, U and V is
    blurring R, G and B): the mask (shape, padding, feather: the photo's
    :func:`~algorithms.detect.raster.local_mask`) is drawn at chroma resolution and
    enlarged for luma; the blur is the photo's (same sigma, same reduced copy); the mix is
    the photo's integer formula, so every pixel outside the mask keeps its decoded value.
    Pixelation goes through RGB with the photo anonymiser itself (:func:`_hide_rgb`): its
    cells must sit on the frame's grid in luma and chroma alike.
    """
    if options.method == "detect":
        return False
    if options.method == "pixelate":
        return _hide_rgb(yuv, det, options)
    y, u, v = yuv
    H, W = y.shape
    bx0, by0, bx1, by1 = det.box
    size = max(1.0, bx1 - bx0, by1 - by0)
    shape = "box" if options.shape == "box" else "contour"
    geometry = det.geometry(shape) if det.contour is not None else det.geometry("box")
    local = local_mask([affinity.scale(geometry, 0.5, 0.5, origin=(0, 0))], (W // 2, H // 2),
                       padding=options.padding * size / 2,
                       blur=options.edge_softness * 0.25 * size / 2, shape=shape)
    if local is None:
        return False
    cx0, cy0, half = local
    ch, cw = half.shape
    x0, y0 = 2 * cx0, 2 * cy0
    full = cv2.resize(half, (2 * cw, 2 * ch), interpolation=cv2.INTER_LINEAR)
    luma = y[y0:y0 + 2 * ch, x0:x0 + 2 * cw]
    chroma = [p[cy0:cy0 + ch, cx0:cx0 + cw] for p in (u, v)]
    if options.method == "blur":
        sigma = max(0.5, options.blur_strength * 0.25 * size)
        _blend(luma, _blurred(y, x0, y0, x0 + 2 * cw, y0 + 2 * ch, sigma), full)
        for plane, area in zip((u, v), chroma):
            _blend(area, _blurred(plane, cx0, cy0, cx0 + cw, cy0 + ch, sigma / 2), half)
    else:
        fy, fu, fv = _fill_yuv(options.fill_color)
        _blend(luma, fy, full)
        _blend(chroma[0], fu, half)
        _blend(chroma[1], fv, half)
    return True


def _hide_rgb(yuv, det: Detected, options: AnonymiseOptions) -> bool:
    """Pixelate ``det`` in the planes ``yuv`` with the photo anonymiser itself, in RGB, in
    the detection's own crop: the mask's reach (padding, feather) plus one cell, from and
    to multiples of the cell size (and of 2, for 4:2:0 chroma), so that the cells are the
    photo's: on the frame's grid, whole. A chroma pixel is written when any of its four
    luma pixels is masked.
    """
    y, u, v = yuv
    H, W = y.shape
    x0, y0, x1, y1 = det.box
    if det.contour is not None and not det.contour.is_empty:
        gx0, gy0, gx1, gy1 = det.contour.bounds
        x0, y0, x1, y1 = min(x0, gx0), min(y0, gy0), max(x1, gx1), max(y1, gy1)
    bx0, by0, bx1, by1 = det.box
    size = max(1.0, bx1 - bx0, by1 - by0)
    cell = options.pixel_size or max(2, round(size / 8))
    align = cell * 2 // math.gcd(cell, 2)
    m = max(0.0, options.padding + options.edge_softness * 0.25) * size + 4 + cell
    cx0 = max(0, int(math.floor(x0 - m)) // align * align)
    cy0 = max(0, int(math.floor(y0 - m)) // align * align)
    cx1 = min(W, -(-int(math.ceil(x1 + m)) // align) * align)
    cy1 = min(H, -(-int(math.ceil(y1 + m)) // align) * align)
    if cx1 - cx0 < 2 or cy1 - cy0 < 2:
        return False
    ys, uvs = (slice(cy0, cy1), slice(cx0, cx1)), (slice(cy0 // 2, cy1 // 2),
                                                    slice(cx0 // 2, cx1 // 2))
    rgb = cv2.cvtColor(_i420(y[ys], u[uvs], v[uvs]), cv2.COLOR_YUV2RGB_I420)
    bx0, by0, bx1, by1 = det.box
    local = Detected(det.label, det.confidence,
                     affinity.translate(det.contour, -cx0, -cy0)
                     if det.contour is not None else None,
                     (bx0 - cx0, by0 - cy0, bx1 - cx0, by1 - cy0), det.shape)
    out, mask, _ = anonymise(rgb, [local], options=options)
    if not cv2.countNonZero(mask):
        return False
    h, w = mask.shape
    new = cv2.cvtColor(out, cv2.COLOR_RGB2YUV_I420)
    np.copyto(y[ys], new[:h], where=mask > 0)
    # a chroma pixel is written when any of its 2 x 2 luma pixels is masked
    half = np.maximum(np.maximum(mask[0::2, 0::2], mask[0::2, 1::2]),
                      np.maximum(mask[1::2, 0::2], mask[1::2, 1::2])) > 0
    chroma = new[h:].reshape(2, h // 2, w // 2)
    np.copyto(u[uvs], chroma[0], where=half)
    np.copyto(v[uvs], chroma[1], where=half)
    return True
