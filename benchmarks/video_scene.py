"""A test video made from real photos, with its ground truth: where every face is, per frame.

Portraits: the six studio portraits of tests/data/photos (Face Research Lab London Set,
DeBruine & Jones 2017, CC BY 4.0, https://doi.org/10.6084/m9.figshare.5047666.v5; see that
folder's README). Nothing is committed: the video is built by the test or benchmark that
needs it.

Scene 1 (frames before ``cut``):
  * ``walker`` (london_006) moves across the top of the frame, left to right;
  * ``turner`` (london_042) "turns away": squeezed horizontally to 30 % of its width and
    back, as a head turning to profile and back narrows the face;
  * ``hidden`` (london_107) stands still; a grey box covers the upper three quarters of its
    face for 3 frames (``OCCLUDED``), leaving mouth and chin visible.
Scene 2 (a cut: new background, new people): ``runner`` (london_021) moves right to left,
``sitter`` (london_024) stays, ``drifter`` (london_099) drifts down.

An audio track: a 440 Hz sine wave (AAC, 48 kHz mono) as long as the video.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "tests" / "data" / "photos"

# formats the test writes: container -> (ffmpeg format, video codec, audio codec)
CODECS = {"mp4": ("mp4", "libx264", "aac"), "mov": ("mov", "libx264", "aac"),
          "mkv": ("matroska", "libx264", "aac"), "webm": ("webm", "libvpx", "libopus"),
          "avi": ("avi", "mpeg4", "pcm_s16le")}


@dataclass(frozen=True)
class Face:
    name: str
    box: tuple[float, float, float, float]     # the face in frame pixels
    squeeze: float = 1.0                        # width factor (turner)
    occluded: bool = False                      # upper part under the grey box


@lru_cache(maxsize=None)
def _portrait(name: str) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The portrait and its face box in normalised coordinates (detector, once)."""
    from algorithms.face.detection import detect_faces

    with Image.open(PHOTOS / f"{name}.jpg") as im:
        rgb = np.asarray(im.convert("RGB"))
    h, w = rgb.shape[:2]
    [det] = detect_faces(rgb, model="short")[:1]
    x0, y0, x1, y1 = det.box
    return rgb, (x0 / w, y0 / h, x1 / w, y1 / h)


@lru_cache(maxsize=64)
def _tile(name: str, width: int, height: int) -> np.ndarray:
    rgb, _ = _portrait(name)
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


class Scene:
    """``frame(i)`` -> (RGB frame, [Face]); ``frames`` frames at ``fps``."""

    OCCLUDED_AT = 0.3          # fraction of scene 1 where the 3 occluded frames start

    def __init__(self, width: int = 640, height: int = 360, frames: int = 72, fps: int = 24):
        self.width, self.height, self.frames, self.fps = width, height, frames, fps
        self.cut = int(frames * 0.55)
        start = int(self.cut * self.OCCLUDED_AT)
        self.occluded = (start, start + 1, start + 2)
        self.side = int(round(height * 0.47))
        yy, xx = np.mgrid[0:height, 0:width]
        rng = np.random.default_rng(7)
        noise = rng.normal(0, 6, (height, width, 1))
        bg1 = np.stack([90 + 60 * xx / width, 110 + 0 * yy, 140 - 50 * yy / height], -1)
        bg2 = np.stack([150 - 40 * yy / height, 120 + 40 * xx / width, 80 + 0 * xx], -1)
        self.backgrounds = [np.clip(b + noise, 0, 255).astype(np.uint8) for b in (bg1, bg2)]

    def _place(self, canvas, name, x, y, squeeze=1.0) -> tuple[float, float, float, float]:
        s = self.side
        tw = max(8, int(round(s * squeeze)))
        tile = _tile(name, tw, s)
        x = int(round(x + (s - tw) / 2))
        y = int(round(y))
        h, w = canvas.shape[:2]
        cx0, cy0, cx1, cy1 = max(0, x), max(0, y), min(w, x + tw), min(h, y + s)
        canvas[cy0:cy1, cx0:cx1] = tile[cy0 - y:cy1 - y, cx0 - x:cx1 - x]
        _, (u0, v0, u1, v1) = _portrait(name)
        return (x + u0 * tw, y + v0 * s, x + u1 * tw, y + v1 * s)

    def frame(self, i: int) -> tuple[np.ndarray, list[Face]]:
        W, H, s = self.width, self.height, self.side
        top, bottom = 0.02 * H, H - s - 0.02 * H
        faces = []
        if i < self.cut:
            canvas = self.backgrounds[0].copy()
            t = i / max(1, self.cut - 1)
            faces.append(Face("walker", self._place(canvas, "london_006",
                                                     0.02 * W + t * (0.62 * W), top)))
            squeeze = 1.0 - 0.7 * math.sin(math.pi * t)
            faces.append(Face("turner", self._place(canvas, "london_042", 0.66 * W, bottom,
                                                    squeeze), squeeze=squeeze))
            box = self._place(canvas, "london_107", 0.30 * W + 4 * math.sin(i / 3), bottom)
            occluded = i in self.occluded
            if occluded:
                x0, y0, x1, y1 = box
                pad = 0.15 * (x1 - x0)
                canvas[max(0, int(y0 - pad)):int(y0 + 0.75 * (y1 - y0)),
                       max(0, int(x0 - pad)):int(x1 + pad)] = 128
            faces.append(Face("hidden", box, occluded=occluded))
        else:
            canvas = self.backgrounds[1].copy()
            t = (i - self.cut) / max(1, self.frames - self.cut - 1)
            faces.append(Face("runner", self._place(canvas, "london_021",
                                                     0.62 * W - t * 0.55 * W, top)))
            faces.append(Face("sitter", self._place(canvas, "london_024", 0.05 * W, bottom)))
            faces.append(Face("drifter", self._place(canvas, "london_099", 0.62 * W,
                                                     bottom - 0.1 * H + t * 0.1 * H)))
        return canvas, faces

    def truth(self) -> list[list[Face]]:
        return [self.frame(i)[1] for i in range(self.frames)]


def sine_frames(seconds: float, rate: int = 48000, samples: int = 1024, layout: str = "mono"):
    """A 440 Hz sine wave as float planar audio frames."""
    total = int(round(seconds * rate))
    t = np.arange(total) / rate
    wave = (0.3 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)
    for start in range(0, total, samples):
        chunk = wave[start:start + samples][None]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp",
                                           layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        yield frame


def write_video(path, scene: Scene, *, fmt: str = "mp4", audio: bool = True,
                crf: int = 18) -> Path:
    """Encode ``scene`` (and a sine-wave audio track) into ``path`` as ``fmt``."""
    muxer, vcodec, acodec = CODECS[fmt]
    path = Path(path)
    with av.open(str(path), "w", format=muxer) as out:
        vs = out.add_stream(vcodec, rate=Fraction(scene.fps))
        vs.width, vs.height, vs.pix_fmt = scene.width, scene.height, "yuv420p"
        if vcodec == "libx264":
            vs.options = {"crf": str(crf), "preset": "veryfast"}
        else:
            vs.bit_rate = 4_000_000
        aus = None
        if audio:
            aus = out.add_stream(acodec, rate=48000)
            aus.layout = "mono"
        for i in range(scene.frames):
            rgb, _ = scene.frame(i)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, scene.fps)
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
        if aus is not None:
            resampler = av.AudioResampler(format=aus.codec_context.format.name, layout="mono",
                                          rate=48000, frame_size=aus.codec_context.frame_size
                                          or 1024)
            for frame in sine_frames(scene.frames / scene.fps):
                for rf in resampler.resample(frame):
                    for p in aus.encode(rf):
                        out.mux(p)
            for rf in resampler.resample(None):
                for p in aus.encode(rf):
                    out.mux(p)
            for p in aus.encode(None):
                out.mux(p)
    return path
