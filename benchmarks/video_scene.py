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


# display rotation (counter-clockwise, as PyAV's frame.rotation) -> how an upright frame is
# stored so that a player turning it by that angle shows it upright
STORE_TURN = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180,
              270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def write_video(path, scene: Scene, *, fmt: str = "mp4", audio: bool = True,
                crf: int = 18, rotation: int = 0) -> Path:
    """Encode ``scene`` (and a sine-wave audio track) into ``path`` as ``fmt``.

    ``rotation`` (90, 180, 270; MP4 / MOV): the frames are stored turned and the stream's
    display matrix says to turn them back by ``rotation`` degrees counter-clockwise, as a
    phone held upright writes its video; a player shows the scene upright.
    """
    muxer, vcodec, acodec = CODECS[fmt]
    path = Path(path)
    width, height = scene.width, scene.height
    if rotation in (90, 270):
        width, height = height, width
    with av.open(str(path), "w", format=muxer) as out:
        vs = out.add_stream(vcodec, rate=Fraction(scene.fps))
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        if rotation:
            vs.set_display_rotation(rotation)
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
            if rotation:
                rgb = cv2.rotate(rgb, STORE_TURN[rotation])
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
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


# ------------------------------------------------------------------ the checks
def covered(face_box, boxes) -> float:
    """The fraction of ``face_box`` inside the union of the masks' padded ``boxes``
    (TrackedBox; padded by 10 % of their size, the anonymiser's default padding)."""
    x0, y0, x1, y1 = (int(round(v)) for v in face_box)
    grid = np.zeros((max(1, y1 - y0), max(1, x1 - x0)), bool)
    for b in boxes:
        bx0, by0, bx1, by1 = b.box
        pad = 0.1 * max(bx1 - bx0, by1 - by0)
        bx0, by0, bx1, by1 = bx0 - pad, by0 - pad, bx1 + pad, by1 + pad
        grid[max(0, int(by0) - y0):max(0, int(np.ceil(by1)) - y0),
             max(0, int(bx0) - x0):max(0, int(np.ceil(bx1)) - x0)] = True
    return float(grid.mean())


def missed_frames(per_frame_boxes, truth) -> list[int]:
    """Frames in which some real face is less than 80 % inside the masks (a face's box is
    its portrait's BlazeFace box, squeezed with the face; a squeezed face's own detection
    box is up to 15 % shorter, so 80 % and not 100 %)."""
    return [i for i, (faces, boxes) in enumerate(zip(truth, per_frame_boxes))
            if any(covered(f.box, boxes) < 0.8 for f in faces)]


def _overlap(a, b) -> float:
    """Intersection over the smaller box's area: a face found in part counts."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / max(smaller, 1e-6)


def leaked_frames(path, truth, threshold: float = 0.3) -> list[int]:
    """Frames of the video at ``path`` in which the face detector, at a low ``threshold``
    (the engine uses 0.5), finds a face of the input: a detection that overlaps a real
    face by more than 30 % of the smaller of the two boxes."""
    from algorithms.video.faces import face_detector
    from algorithms.video.frames import detection_rgb, planes

    detect = face_detector(threshold)
    out = []
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            yuv = planes(frame)
            rgb = detection_rgb(yuv, (yuv[0].shape[1], yuv[0].shape[0]), 0)
            if any(_overlap(f.box, d.box) > 0.3 for d in detect(rgb) for f in truth[i]):
                out.append(i)
    return out
