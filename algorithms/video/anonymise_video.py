"""Anonymise a video: faces found, tracked and hidden in every frame; audio copied.

Two passes over the file, each streaming one frame at a time (plus what FFmpeg's decoder
threads and x264's look-ahead hold internally), so a 10-minute 1080p video costs the
memory of a few frames and a list of boxes:

1. **detect**: decode; every ``detect_every``-th frame (and the first frame of every scene)
   goes to the detector (default: the photo anonymiser's faces, BlazeFace short + full
   range, tiled on large frames, confirmed by the landmark model); every frame's 32 x 18
   grey thumbnail is compared with the previous one to find cuts; detections feed the
   :class:`~algorithms.video.tracker.Tracker`.
2. **encode**: decode again, with the audio packets; each frame's tracked boxes
   (smoothed, gaps interpolated, ``keep_alive`` frames of coasting on either side) are hidden
   by the photo anonymiser (:func:`algorithms.detect.anonymise.anonymise`: blur, pixelate or
   fill, mask or box shape, feathered); frames without a box go to the encoder as decoded.
   Output: H.264 (libx264, yuv420p, CRF ``crf``) in MP4, each frame keeping its timestamp
   (same frame rate, duration and frame count), the audio packets copied unchanged.

Why two passes and not one with a delay line: the tracker can then look ahead over any
gap (a 10-frame delay line at 1080p would hold 60 MB of frames), the second pass knows the
exact frame count, and decoding is the cheap part of the pipeline (see docs/benchmarks.md).

Errors: :class:`~algorithms.video.container.VideoError` with a ``reason``; the output and
detections files are written as ``*.partial`` and renamed at the end, so a failure leaves
neither behind.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import av
import cv2
import numpy as np

from algorithms.detect.anonymise import AnonymiseOptions, anonymise
from algorithms.detect.types import Detected
from algorithms.video.container import (DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS,
                                        DEFAULT_MAX_SECONDS, VideoError, VideoInfo, Writer,
                                        decode, even, from_rgb, open_video, probe, to_rgb)
from algorithms.video.tracker import TrackedBox, Tracker

__all__ = ["anonymise_video", "VideoResult", "face_detector", "CUT_FRACTION",
           "DEFAULT_DETECT_EVERY", "DEFAULT_KEEP_ALIVE"]

DEFAULT_DETECT_EVERY = 1
DEFAULT_KEEP_ALIVE = 15
THUMB = (32, 18)
CUT_LEVEL = 12            # levels (luma + |chroma| sum): a thumbnail pixel "changed"
CUT_FRACTION = 0.5        # ... in more than half of the thumbnail: a cut
MAX_FACES = 64

Progress = Callable[[str, int, int], None]


def face_detector(threshold: float = 0.5, *, detector: str = "video",
                  max_faces: int = MAX_FACES) -> Callable[[np.ndarray], list[Detected]]:
    """Faces as a per-frame function RGB -> detections.

    ``"video"`` (default): BlazeFace short + full range on the whole frame and the full-range
    model on square tiles of the frame's height (two on 16:9), each detection
    confirmed by the landmark model, whose same single pass (memoised) gives the face oval;
    no iris model, no re-centred second mesh pass, no search of turned frames: 3x cheaper
    than the photo path at 1080p, and the tracker absorbs a detection's wobble. A face's box
    is the union of the detector's box and the oval's bounds, as for photos.
    ``"tiled"``: the photo anonymiser's own detection (adds the full-range model on tiles:
    faces down to ~2 % of the frame's width; ~2x slower at 1080p).
    """
    from algorithms.detect.faces import _tile_centres, detect_face_shapes, part_contour
    from algorithms.face.detection import _SPECS, _detections, _verified, detect_faces
    from algorithms.face.landmark_model import _mesh, face_roi
    from algorithms.face.roi import Pyramid, Roi, crop

    if detector not in ("video", "tiled", "short", "full", "both"):
        raise ValueError(f"detector must be video, tiled, short, full or both; got {detector!r}")

    def detect_tiled(rgb: np.ndarray) -> list[Detected]:
        return detect_face_shapes(Pyramid(rgb), detector=detector, parts=("face",),
                                  confidence=threshold, max_faces=max_faces)

    def _whole_and_halves(pyr, threshold):
        # the whole frame (short + full range), plus the full-range model on square tiles
        # of the frame's short side along its long side (2 on a 16:9 frame): faces of ~5 %
        # of the frame's height are found (the whole 16:9 frame alone needs ~9 %)
        found = detect_faces(pyr, model="both", min_score=threshold, verify=False,
                             try_rotations=False)
        w, h = pyr.size
        side = min(w, h)
        if max(w, h) > 1.2 * side:
            size = _SPECS["full"].size
            for c in _tile_centres(max(w, h), side):
                roi = Roi(c, h / 2, side, side) if w > h else Roi(w / 2, c, side, side)
                canvas, m = crop(pyr, roi, size, size, border=cv2.BORDER_CONSTANT)
                found += _detections(canvas, m, "full", threshold)
        kept = []
        for d in sorted(found, key=lambda d: (-d.area, -d.score)):
            x0, y0, x1, y1 = d.box
            if not any(max(0.0, min(x1, k.box[2]) - max(x0, k.box[0]))
                       * max(0.0, min(y1, k.box[3]) - max(y0, k.box[1])) > 0.5 * d.area
                       for k in kept):
                kept.append(d)
        return sorted(_verified(pyr, kept), key=lambda d: -d.area)

    def detect_video(rgb: np.ndarray) -> list[Detected]:
        pyr = Pyramid(rgb)
        h, w = rgb.shape[:2]
        out = []
        for det in _whole_and_halves(pyr, threshold)[:max_faces]:
            mesh, _ = _mesh(pyr, face_roi(det, pyr.size))      # memoised: the verify pass
            contour = part_contour(mesh[:, :2], "face")
            x0, y0, x1, y1 = contour.bounds if not contour.is_empty else det.box
            bx = det.box
            box = (max(0.0, min(x0, bx[0])), max(0.0, min(y0, bx[1])),
                   min(float(w), max(x1, bx[2])), min(float(h), max(y1, bx[3])))
            out.append(Detected("face", det.score, contour, box, "contour"))
        return out

    return detect_video if detector == "video" else detect_tiled


@dataclass
class VideoResult:
    """What a run produced and measured."""

    info: VideoInfo
    frames: int
    width: int
    height: int
    duration: float
    audio: str | None                     # "copy", "aac" (re-encoded) or None
    tracks: int
    frames_with_masks: int
    detector_frames: int
    seconds: dict = field(default_factory=dict)       # detect / encode pass, wall clock
    boxes: list = field(repr=False, default_factory=list)   # per frame: [TrackedBox]

    def detections_json(self) -> dict:
        """The per-frame detections document (what ``detections_path`` receives)."""
        return {
            "version": 1, "width": self.width, "height": self.height,
            "fps": float(self.info.fps), "frames": self.frames, "duration": self.duration,
            "tracks": self.tracks,
            "per_frame": [{"frame": i, "detections": [b.to_dict() for b in boxes]}
                          for i, boxes in enumerate(self.boxes)],
        }


def _thumb(frame) -> np.ndarray:
    """A 32 x 18 thumbnail of luma and both chroma planes (int16, 3 channels)."""
    if frame.format.name in ("yuv420p", "yuvj420p") and frame.height % 2 == 0:
        h, w = frame.height, frame.width
        flat = frame.to_ndarray()
        planes = [flat[:h], flat[h:h + h // 4].reshape(h // 2, w // 2),
                  flat[h + h // 4:].reshape(h // 2, w // 2)]
    else:
        planes = list(cv2.split(cv2.cvtColor(frame.to_ndarray(format="rgb24"),
                                             cv2.COLOR_RGB2YCrCb)))
    return np.stack([cv2.resize(p, THUMB, interpolation=cv2.INTER_AREA) for p in planes],
                    -1).astype(np.int16)


def _changed(a: np.ndarray, b: np.ndarray) -> float:
    """The fraction of thumbnail pixels whose colour changed by more than CUT_LEVEL."""
    return float(np.mean(np.abs(a - b).sum(-1) > CUT_LEVEL))


def _progress(callback: Progress | None, stage: str, done: int, total: int) -> None:
    if callback is not None:
        callback(stage, done, max(total, done))


def _write_json(path: Path, document: dict) -> None:
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_text(json.dumps(document, separators=(",", ":")))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def anonymise_video(src, dst, *, detections_path=None,
                    options: AnonymiseOptions = AnonymiseOptions(),
                    face_threshold: float = 0.5,
                    detector: Callable[[np.ndarray], list[Detected]] | None = None,
                    detect_every: int = DEFAULT_DETECT_EVERY,
                    tracking: bool = True, keep_alive: int = DEFAULT_KEEP_ALIVE,
                    progress: Progress | None = None,
                    max_bytes: int = DEFAULT_MAX_BYTES,
                    max_seconds: float = DEFAULT_MAX_SECONDS,
                    max_pixels: int = DEFAULT_MAX_PIXELS,
                    crf: int = 20, preset: str = "veryfast") -> VideoResult:
    """Anonymise the video file ``src`` into the H.264 MP4 ``dst``.

    Parameters
    ----------
    src, dst : path
        Input (MP4, MOV, AVI, MKV or WEBM, recognised by content) and output file.
    detections_path : path, optional
        Where to write the per-frame detections JSON (:meth:`VideoResult.detections_json`).
    options : AnonymiseOptions
        The photo anonymiser's method / shape / strength / padding, applied to every frame.
    face_threshold : float
        Detector confidence for the default detector.
    detector : callable, optional
        ``detector(rgb) -> [Detected]`` replacing the default faces (e.g. faces + people,
        or a filter by included / excluded areas). Tracks never mix labels.
    detect_every : int
        Run the detector on every k-th frame (and the first of each scene); the tracker
        fills the frames between.
    tracking : bool
        False: mask exactly the detections of each frame (the baseline without tracking).
    keep_alive : int
        Frames a track is kept (and masked) after its last detection and before its first.
    progress : callable, optional
        ``progress(stage, frames_done, frames_total)``, stage ``"detect"`` (first pass) then
        ``"encode"`` (second pass); an exception raised in it aborts the run (nothing left).
    max_bytes, max_seconds, max_pixels : limits checked before decoding (:func:`probe`).
    crf, preset : libx264 quality and speed.

    Raises
    ------
    VideoError
        With ``reason`` ``too_large``, ``too_long``, ``too_many_pixels``,
        ``unsupported_format``, ``no_video``, ``corrupt`` or ``truncated``.
    """
    if detect_every < 1:
        raise ValueError(f"detect_every must be >= 1; got {detect_every}")
    src, dst = Path(src), Path(dst)
    info = probe(src, max_bytes=max_bytes, max_seconds=max_seconds, max_pixels=max_pixels)
    detect = detector or face_detector(face_threshold)
    tracker = Tracker(keep_alive=keep_alive)
    seconds = {}

    # ---------------------------------------------------------------- pass 1: detect
    t0 = time.perf_counter()
    n = 0
    detector_frames = 0
    previous = None
    last_time = 0.0
    since_detect = detect_every
    with open_video(src) as container:
        for _, frame in decode(container):
            thumb = _thumb(frame)
            cut = previous is not None and \
                _changed(thumb, previous) > CUT_FRACTION
            previous = thumb
            if frame.time is not None:
                last_time = float(frame.time)
                if last_time > max_seconds:
                    raise VideoError("too_long", f"the video lasts more than {max_seconds:.0f} s")
            if cut or since_detect >= detect_every:
                rgb = to_rgb(frame)[:even(frame.height), :even(frame.width)]
                tracker.update(n, detect(rgb), cut=cut)
                detector_frames += 1
                since_detect = 1
            else:
                since_detect += 1
            n += 1
            _progress(progress, "detect", n, info.frames)
    if n == 0:
        raise VideoError("corrupt", "no frame could be decoded")
    if info.exact_frames and n < info.frames - max(2, info.frames // 100):
        raise VideoError("truncated", f"the header announces {info.frames} frames; only {n} "
                                      "could be read")
    if not info.exact_frames and info.duration and \
            last_time < info.duration - max(0.5, 0.05 * info.duration):
        raise VideoError("truncated", f"the header announces {info.duration:.1f} s; frames end "
                                      f"at {last_time:.1f} s")
    boxes = tracker.finish(n, smooth=tracking)
    if not tracking:
        tracks = len({b.track_id for frame_boxes in boxes for b in frame_boxes})
    else:
        tracks = len(tracker.tracks)
    seconds["detect"] = time.perf_counter() - t0

    # ---------------------------------------------------------------- pass 2: encode
    t0 = time.perf_counter()
    width, height = even(info.width), even(info.height)
    same_size = (width, height) == (info.width, info.height)
    shape = "box" if options.shape == "box" else "contour"
    masked = 0
    i = 0
    first_pts = None
    last_end = 0.0
    with open_video(src) as container:
        with Writer(dst, container, width, height, crf=crf, preset=preset) as writer:
            for kind, item in decode(container, with_audio=True):
                if kind == "audio":
                    writer.mux_audio(item)
                    continue
                frame = item
                found = [b.to_detected(shape) for b in boxes[i]] if i < len(boxes) else []
                if found or not same_size or frame.format.name != "yuv420p":
                    rgb = to_rgb(frame)[:height, :width]
                    if found:
                        rgb, _, _ = anonymise(rgb, found, options=options)
                        masked += 1
                    out = from_rgb(np.ascontiguousarray(rgb))
                else:
                    out = frame
                    out.pict_type = av.video.frame.PictureType.NONE
                out.pts = frame.pts
                out.time_base = frame.time_base
                if first_pts is None and frame.time is not None:
                    first_pts = float(frame.time)
                if frame.time is not None:
                    last_end = float(frame.time) + (1 / float(info.fps) if info.fps else 0.0)
                writer.encode(out)
                i += 1
                _progress(progress, "encode", i, n)
            if i != n:
                raise VideoError("corrupt", f"the second read gave {i} frames, the first {n}")
            audio = writer.audio
        seconds["encode"] = time.perf_counter() - t0
    duration = last_end - (first_pts or 0.0)
    result = VideoResult(info, n, width, height, duration, audio, tracks, masked,
                         detector_frames, seconds, boxes)
    if detections_path is not None:
        try:
            _write_json(Path(detections_path), result.detections_json())
        except BaseException:
            dst.unlink(missing_ok=True)
            raise
    return result
