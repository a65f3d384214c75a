"""Anonymise a video: faces found, tracked and hidden in every frame; audio copied.

Two passes over the file, each streaming one frame at a time (plus what FFmpeg's decoder
threads and x264's look-ahead hold internally), so a 10-minute 1080p video costs the
memory of a few frames and a list of boxes:

1. **detect**: decode; every frame's 32 x 18 Y/U/V thumbnail is compared with the previous
   one to find cuts; every ``detect_every``-th frame (and the first frame of every scene)
   is reduced to ``detect_size`` (long side), converted to RGB, turned upright and given to
   the detector (default :func:`~algorithms.video.faces.face_detector`); its detections,
   scaled back to the frame, feed the :class:`~algorithms.video.tracker.Tracker`.
2. **encode**: decode again, with the audio packets; each frame's tracked boxes (smoothed,
   gaps interpolated, ``keep_alive`` frames of coasting on either side) are hidden by the
   photo anonymiser's effects (:func:`algorithms.detect.anonymise.anonymise`: blur, pixelate or
   fill, mask or box shape, feathered), each in its own crop of the YUV planes
   (:func:`~algorithms.video.frames.hide`); frames without a box and without a rotation go
   to the encoder as decoded. Output: H.264 (libx264, yuv420p, CRF ``crf``) in MP4, each
   frame keeping its timestamp (same frame rate, duration and frame count), the audio
   packets copied unchanged.

Threads (:mod:`~algorithms.video.workers`): the detector runs on two threads beside the
first pass's decoding, x264 is fed from its own thread beside the second pass's hiding.

Rotation: a source whose display matrix turns it (phone videos: 90 or 270 degrees) is
written upright, with no display matrix: the detector needs upright faces anyway, every
player then shows the output the same way (some ignore the matrix), and the detections
JSON's coordinates are the output's pixels (docs/decisions.md).

Why two passes and not one with a delay line: the tracker can then look ahead over any
gap (a 15-frame delay line at 1080p would hold 47 MB of frames), the second pass knows the
exact frame count, and a second decode costs ~4 ms a 1080p frame (docs/benchmarks.md).

Errors: :class:`~algorithms.video.container.VideoError` with a ``reason``; the output and
detections files are written as ``*.partial`` and renamed at the end, so a failure leaves
neither behind.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import av
import numpy as np

from algorithms.detect.anonymise import AnonymiseOptions
from algorithms.detect.types import Detected
from algorithms.video.container import (DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS,
                                        DEFAULT_MAX_SECONDS, VideoError, VideoInfo, Writer,
                                        decode, open_video, probe)
from algorithms.video.faces import face_detector
from algorithms.video.frames import (detection_rgb, detection_size, hide, planes, rotation,
                                     thumbnail, upright)
from algorithms.video.tracker import Tracker
from algorithms.video.workers import Ordered, Timed, detect_pool

__all__ = ["anonymise_video", "VideoResult", "face_detector", "CUT_FRACTION",
           "DEFAULT_DETECT_EVERY", "DEFAULT_DETECT_SIZE", "DEFAULT_KEEP_ALIVE", "STAGES"]

DEFAULT_DETECT_EVERY = 3
DEFAULT_DETECT_SIZE = 960
DEFAULT_KEEP_ALIVE = 15
CUT_LEVEL = 12            # levels (luma + |chroma| sum): a thumbnail pixel "changed"
CUT_FRACTION = 0.5        # ... in more than half of the thumbnail: a cut
DETECT_DEPTH = 2          # detection frames in flight (each thread one)
ENCODE_DEPTH = 3          # frames queued for the encoder's thread
# where the time goes (VideoResult.stages), in pipeline order: "detect" and "encode" run in
# their own threads (algorithms.video.workers), beside the others; "detect_wait" and
# "encode_wait" are the pipeline's thread waiting for them
STAGES = ("decode", "cuts", "convert", "detect", "detect_wait", "track", "decode_again",
          "planes", "hide", "encode", "encode_wait")

Progress = Callable[[str, int, int], None]


@dataclass
class VideoResult:
    """What a run produced and measured."""

    info: VideoInfo
    frames: int
    width: int                            # output frame size (upright)
    height: int
    duration: float
    audio: str | None                     # "copy", "aac" (re-encoded) or None
    tracks: int
    frames_with_masks: int
    detector_frames: int
    rotation: int = 0                     # the source's display rotation, applied
    seconds: dict = field(default_factory=dict)       # detect / encode pass, wall clock
    stages: dict = field(default_factory=dict)        # STAGES -> wall-clock seconds
    stages_cpu: dict = field(default_factory=dict)    # STAGES -> this thread's CPU seconds
    boxes: list = field(repr=False, default_factory=list)   # per frame: [TrackedBox]

    def detections_json(self) -> dict:
        """The per-frame detections document (what ``detections_path`` receives); boxes in
        the output's pixels."""
        return {
            "version": 1, "width": self.width, "height": self.height,
            "fps": float(self.info.fps), "frames": self.frames, "duration": self.duration,
            "rotation": self.rotation, "tracks": self.tracks,
            "per_frame": [{"frame": i, "detections": [b.to_dict() for b in boxes]}
                          for i, boxes in enumerate(self.boxes)],
        }


class _Clock:
    """Seconds per stage: ``lap(stage)`` charges the wall-clock time and this thread's CPU
    time since the last lap (FFmpeg's and x264's own threads are not in the CPU time)."""

    def __init__(self, stages: dict, cpu: dict):
        self.stages, self.cpu = stages, cpu
        self.t, self.c = time.perf_counter(), time.thread_time()

    def lap(self, stage: str) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.stages[stage] = self.stages.get(stage, 0.0) + now - self.t
        self.cpu[stage] = self.cpu.get(stage, 0.0) + cpu - self.c
        self.t, self.c = now, cpu


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


def _frames(container, clock: _Clock, stage: str, *, with_audio: bool = False):
    """:func:`decode`, the wait for each item charged to ``stage``."""
    for item in decode(container, with_audio=with_audio):
        clock.lap(stage)
        yield item


def anonymise_video(src, dst, *, detections_path=None,
                    options: AnonymiseOptions = AnonymiseOptions(),
                    face_threshold: float = 0.5,
                    detector: Callable[[np.ndarray], list[Detected]] | None = None,
                    detect_every: int = DEFAULT_DETECT_EVERY,
                    detect_size: int | None = DEFAULT_DETECT_SIZE,
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
        or a filter by included / excluded areas). It receives the upright frame reduced
        to ``detect_size``; its boxes are scaled back. Tracks never mix labels.
    detect_every : int
        Run the detector on every k-th frame (and the first of each scene); the tracker
        fills the frames between.
    detect_size : int or None
        The long side (px) of the frame the detector sees; None: the full frame.
    tracking : bool
        False: detect on every frame (``detect_every`` is ignored) and mask exactly each
        frame's detections (the baseline without tracking).
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
    if not tracking:
        detect_every = 1
    src, dst = Path(src), Path(dst)
    info = probe(src, max_bytes=max_bytes, max_seconds=max_seconds, max_pixels=max_pixels)
    detect = detector or face_detector(face_threshold)
    tracker = Tracker(keep_alive=keep_alive)
    seconds: dict = {}
    stages: dict = dict.fromkeys(STAGES, 0.0)
    stages_cpu: dict = dict.fromkeys(STAGES, 0.0)

    # ---------------------------------------------------------------- pass 1: detect
    t0 = time.perf_counter()
    clock = _Clock(stages, stages_cpu)
    n = 0
    detector_frames = 0
    previous = None
    last_time = 0.0
    since_detect = detect_every
    turn = 0
    width = height = 0
    scale = (1.0, 1.0)

    def detect_scaled(rgb):
        found = detect(rgb)
        return [d.scaled(*scale) for d in found] if scale != (1.0, 1.0) else found

    def tracked(tag, found):
        frame_index, frame_cut = tag
        tracker.update(frame_index, found, cut=frame_cut)

    with open_video(src) as container, \
            Ordered(detect_pool(), DETECT_DEPTH, tracked) as detections:
        detect_task = Timed(detect_scaled, stages, stages_cpu, "detect")
        for _, frame in _frames(container, clock, "decode"):
            yuv = planes(frame)
            if n == 0:
                turn = rotation(frame)
                stored = (yuv[0].shape[1], yuv[0].shape[0])
                small = detection_size(*stored, detect_size)
                width, height = stored[::-1] if turn in (90, 270) else stored
                scale = stored[0] / small[0], stored[1] / small[1]
                if turn in (90, 270):
                    scale = scale[::-1]
            thumb = thumbnail(yuv)
            cut = previous is not None and _changed(thumb, previous) > CUT_FRACTION
            previous = thumb
            if frame.time is not None:
                last_time = float(frame.time)
                if last_time > max_seconds:
                    raise VideoError("too_long", f"the video lasts more than {max_seconds:.0f} s")
            clock.lap("cuts")
            if cut or since_detect >= detect_every:
                rgb = detection_rgb(yuv, small, turn)
                clock.lap("convert")
                detections.submit((n, cut), detect_task, rgb)   # tracker.update, in order
                clock.lap("detect_wait")
                detector_frames += 1
                since_detect = 1
            else:
                since_detect += 1
            n += 1
            _progress(progress, "detect", n, info.frames)
            clock.lap("cuts")
        detections.settle(0)
        clock.lap("detect_wait")
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
    clock.lap("track")
    seconds["detect"] = time.perf_counter() - t0

    # ---------------------------------------------------------------- pass 2: encode
    t0 = time.perf_counter()
    shape = "box" if options.shape == "box" else "contour"
    masked = 0
    i = 0
    first_pts = None
    last_end = 0.0
    with open_video(src) as container:
        with Writer(dst, container, width, height, crf=crf, preset=preset) as writer, \
                Ordered(ThreadPoolExecutor(1, thread_name_prefix="video-encode"),
                        ENCODE_DEPTH, own_pool=True) as encoder:
            encode = Timed(writer.encode, stages, stages_cpu, "encode")
            mux_audio = Timed(writer.mux_audio, stages, stages_cpu, "encode")
            clock = _Clock(stages, stages_cpu)
            for kind, item in _frames(container, clock, "decode_again", with_audio=True):
                if kind == "audio":
                    encoder.submit(None, mux_audio, item)
                    clock.lap("encode_wait")
                    continue
                frame = item
                found = boxes[i] if i < len(boxes) else []
                if not found and not turn and frame.format.name == "yuv420p" and \
                        (frame.width, frame.height) == (width, height):
                    out = frame
                    out.pict_type = av.video.frame.PictureType.NONE
                    clock.lap("planes")
                else:
                    out, yuv = upright(planes(frame), turn)
                    clock.lap("planes")
                    for b in found:
                        hide(yuv, b.to_detected(shape), options)
                    masked += bool(found)
                    clock.lap("hide")
                out.pts = frame.pts
                out.time_base = frame.time_base
                if first_pts is None and frame.time is not None:
                    first_pts = float(frame.time)
                if frame.time is not None:
                    last_end = float(frame.time) + (1 / float(info.fps) if info.fps else 0.0)
                encoder.submit(None, encode, out)
                i += 1
                _progress(progress, "encode", i, n)
                clock.lap("encode_wait")
            encoder.settle(0)
            clock.lap("encode_wait")
            if i != n:
                raise VideoError("corrupt", f"the second read gave {i} frames, the first {n}")
            audio = writer.audio
        clock.lap("encode_wait")                  # the encoder's flush and the MP4's index
        seconds["encode"] = time.perf_counter() - t0
    duration = last_end - (first_pts or 0.0)
    result = VideoResult(info, n, width, height, duration, audio, tracks, masked,
                         detector_frames, turn, seconds, stages, stages_cpu, boxes)
    if detections_path is not None:
        try:
            _write_json(Path(detections_path), result.detections_json())
        except BaseException:
            dst.unlink(missing_ok=True)
            raise
    return result
