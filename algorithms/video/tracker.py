"""Face tracks across video frames: association, a Kalman filter with a smoother, coasting.

The anonymiser runs in two passes (:mod:`algorithms.video.anonymise_video`): the first
detects and feeds :class:`Tracker` one frame at a time; the second draws each frame's masks
from the finished tracks. So the tracks can look ahead: a miss between two detections is
filled by the smoother (interpolation over the gap), and a face is masked ``keep_alive``
frames before its first detection as well as after its last one.

Per frame (:meth:`Tracker.update`):

1. every live track predicts its box to this frame (constant-velocity Kalman filter, one
   per coordinate of (cx, cy, w, h), in units of the track's face size so that a 40 px and
   a 400 px face get the same smoothing);
2. detections are assigned to tracks by :func:`scipy.optimize.linear_sum_assignment` on the
   cost ``1 - IoU`` (predicted box vs detected box); a pair with IoU < ``min_iou`` is
   still allowed when the centres are within ``max_centre`` face sizes (fast motion), at a
   cost above every overlapping pair. Labels never mix (a face never joins a person track);
3. matched tracks update; unmatched detections start tracks; a track with no detection for
   more than ``keep_alive`` detection frames ends;
4. on a scene cut every track ends: nothing is carried, interpolated or coasted across a
   cut.

Finishing (:meth:`Tracker.finish`): each track's filter is run forward over its frames and
smoothed backward (Rauch-Tung-Striebel), which removes the detector's frame-to-frame jitter
without lag and interpolates the gaps; frames past the last detection are the prediction,
frames before the first are extrapolated backward from the smoothed velocity; a coasting
box keeps the largest size detected in the ``keep_alive`` frames next to it (a face turning
away narrows before the detector loses it). Each box is
grown by one standard deviation of its position uncertainty (capped at half the face size),
so coasting boxes widen as they get less certain. Shape: the face contour of the nearest
detection, scaled into the smoothed box.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment
from shapely import affinity

from algorithms.detect.types import Detected

__all__ = ["Tracker", "Track", "TrackedBox", "iou_matrix"]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4), (x0, y0, x1, y1).

    >>> iou_matrix(np.array([[0, 0, 2, 2]]), np.array([[1, 0, 3, 2], [5, 5, 6, 6]])).round(3)
    array([[0.333, 0.   ]])
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ix0 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy0 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix1 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _cxcywh(box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], np.float64)


def _xyxy(s) -> tuple[float, float, float, float]:
    cx, cy, w, h = s
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


# Constant-velocity model per coordinate, state (p, v), one step = one frame.
_F = np.array([[1.0, 1.0], [0.0, 1.0]])
_Q_UNIT = np.array([[1 / 3, 1 / 2], [1 / 2, 1.0]])      # white-noise acceleration


@dataclass
class _Obs:
    frame: int
    state: np.ndarray          # (cx, cy, w, h) px: the detection's box
    confidence: float
    template: object           # contour in box-normalised coordinates, or None
    label: str
    fit: np.ndarray | None = None   # (cx, cy, w, h) px the filter takes: the held box


@dataclass
class Track:
    """One object across frames: its detections and the frames it may cover."""

    id: int
    label: str
    first_allowed: int                  # first frame of its scene
    observations: list = field(default_factory=list)
    last_allowed: int | None = None     # last frame of its scene (set at a cut / finish)
    # online filter (for association): x (4, 2), P (4, 2, 2) in size units
    x: np.ndarray | None = None
    P: np.ndarray | None = None
    scale: float = 1.0
    at: int = -1                        # frame the online state is at
    misses: int = 0
    ended: bool = False

    @property
    def first(self) -> int:
        return self.observations[0].frame

    @property
    def last(self) -> int:
        return self.observations[-1].frame


@dataclass(frozen=True)
class TrackedBox:
    """One track's box in one frame: ``detected`` when a detection of that frame is in it."""

    track_id: int
    label: str
    box: tuple[float, float, float, float]
    confidence: float
    detected: bool
    template: object = None

    def to_detected(self, shape: str = "contour") -> Detected:
        """A :class:`Detected` for the photo anonymiser: the template contour in the box."""
        from shapely.geometry import box as shapely_box

        x0, y0, x1, y1 = self.box
        if self.template is None:
            contour = shapely_box(x0, y0, x1, y1)
        else:
            contour = affinity.affine_transform(self.template,
                                                [x1 - x0, 0, 0, y1 - y0, x0, y0])
        return Detected(self.label, self.confidence, contour, self.box, shape)

    def to_dict(self, ndigits: int = 1) -> dict:
        x0, y0, x1, y1 = self.box
        return {"track_id": self.track_id, "label": self.label,
                "x_min": round(x0, ndigits), "y_min": round(y0, ndigits),
                "x_max": round(x1, ndigits), "y_max": round(y1, ndigits),
                "confidence": round(self.confidence, 4),
                "source": "detected" if self.detected else "tracked"}


def _template(det: Detected):
    x0, y0, x1, y1 = det.box
    w, h = max(x1 - x0, 1e-6), max(y1 - y0, 1e-6)
    if det.contour is None or det.contour.is_empty:
        return None
    return affinity.affine_transform(det.contour, [1 / w, 0, 0, 1 / h, -x0 / w, -y0 / h])


class Tracker:
    """Online association, offline smoothing (see the module docstring).

    Parameters
    ----------
    keep_alive : int
        A track survives this many detection frames without a detection, and its boxes
        extend this many frames past its last detection and before its first one.
    min_iou : float
        Below this IoU a detection matches a track only by centre distance.
    max_centre : float
        ... within this many face sizes of the predicted centre.
    measurement_sigma, accel_sigma : float
        Kalman noise, in face sizes: the detector's box jitter (per frame) and the change
        of velocity a face may have per frame.
    size_hold : int, optional
        Frames over which a track's box keeps the largest width and height detected
        (default ``keep_alive``): a detection smaller than that is read as the visible part
        of the face (turning away, partly hidden), see :meth:`held`.
    """

    def __init__(self, *, keep_alive: int = 15, min_iou: float = 0.1, max_centre: float = 0.75,
                 measurement_sigma: float = 0.04, accel_sigma: float = 0.006,
                 size_hold: int | None = None):
        if keep_alive < 0:
            raise ValueError(f"keep_alive must be >= 0 frames; got {keep_alive}")
        self.keep_alive = keep_alive
        self.size_hold = keep_alive if size_hold is None else size_hold
        self.min_iou = min_iou
        self.max_centre = max_centre
        self.r = measurement_sigma ** 2
        self.q = accel_sigma ** 2
        self.tracks: list[Track] = []
        self._live: list[Track] = []
        self._scene_start = 0
        self._next_id = 1
        self.frames = 0

    # ------------------------------------------------------------------ online part
    def _predict(self, t: Track, frame: int) -> None:
        for _ in range(frame - t.at):
            t.x = t.x @ _F.T
            t.P = _F @ t.P @ _F.T + self.q * _Q_UNIT
        t.at = frame

    def _box(self, t: Track) -> np.ndarray:
        return np.array(_xyxy(t.x[:, 0] * t.scale))

    def _start(self, frame: int, det: Detected) -> None:
        s = _cxcywh(det.box)
        scale = max(s[2], s[3], 1.0)
        t = Track(self._next_id, det.label, self._scene_start, scale=scale, at=frame)
        self._next_id += 1
        t.x = np.stack([s / scale, np.zeros(4)], axis=1)
        t.P = np.tile(np.diag([self.r, 0.05 ** 2]), (4, 1, 1))
        t.observations.append(_Obs(frame, s, det.confidence, _template(det), det.label, s))
        self.tracks.append(t)
        self._live.append(t)

    def held(self, t: Track, frame: int, s: np.ndarray) -> np.ndarray:
        """The measurement the filter takes for the detection ``s`` (cx, cy, w, h px) of
        track ``t`` in ``frame`` (``t``'s prediction is at ``frame``).

        A face's real width and height change slowly (a face does not halve in a third of a
        second), but its detected box shrinks fast when the face turns to profile (the
        detector boxes the half it sees, or only the eyes) or is partly hidden. So the box
        keeps, per axis, the largest size detected over the last ``size_hold`` frames, and
        is placed as near to the track's prediction as it can be while containing the
        detection: the smaller box says where some of the face is, not how big it is.
        A detection as large as the envelope is taken as it is.

        >>> tr = Tracker(size_hold=10)
        >>> tr.update(0, [Detected("face", 0.9, None, (100, 100, 200, 220), "box")])
        >>> t = tr.tracks[0]; tr._predict(t, 5)
        >>> tr.held(t, 5, np.array([150.0, 130.0, 40.0, 40.0])).round(1).tolist()
        [150.0, 160.0, 100.0, 120.0]
        """
        window = [o.state[2:] for o in t.observations if frame - o.frame <= self.size_hold]
        size = np.max(window + [s[2:]], axis=0)
        pred = t.x[:, 0] * t.scale
        z = s.astype(np.float64).copy()
        for a in (0, 1):
            if s[2 + a] < size[a]:
                lo, hi = s[a] - s[2 + a] / 2, s[a] + s[2 + a] / 2
                z[a] = min(max(pred[a], hi - size[a] / 2), lo + size[a] / 2)
                z[2 + a] = size[a]
        return z

    def _update(self, t: Track, frame: int, det: Detected) -> None:
        raw = _cxcywh(det.box)
        fit = self.held(t, frame, raw)
        z = fit / t.scale
        S = t.P[:, 0, 0] + self.r                                   # (4,)
        K = t.P[:, :, 0] / S[:, None]                               # (4, 2)
        t.x = t.x + K * (z - t.x[:, 0])[:, None]
        t.P = t.P - K[:, :, None] * t.P[:, 0, :][:, None, :]
        t.misses = 0
        t.observations.append(_Obs(frame, raw, det.confidence, _template(det), det.label, fit))

    def _end(self, t: Track, last_allowed: int) -> None:
        t.ended = True
        t.last_allowed = last_allowed
        self._live.remove(t)

    def update(self, frame: int, detections: list[Detected], *, cut: bool = False) -> None:
        """The detections of ``frame`` (frames in increasing order; skipped frames had no
        detection run). ``cut``: ``frame`` starts a new scene."""
        if cut:
            for t in list(self._live):
                self._end(t, frame - 1)
            self._scene_start = frame
        self.frames = max(self.frames, frame + 1)
        for t in self._live:
            self._predict(t, frame)
        dets = list(detections)
        matched_tracks: set[int] = set()
        matched_dets: set[int] = set()
        if self._live and dets:
            pred = np.array([self._box(t) for t in self._live])
            boxes = np.array([d.box for d in dets], np.float64)
            iou = iou_matrix(pred, boxes)
            pc = (pred[:, None, :2] + pred[:, None, 2:]) / 2
            dc = (boxes[None, :, :2] + boxes[None, :, 2:]) / 2
            size = np.maximum(pred[:, 2] - pred[:, 0], pred[:, 3] - pred[:, 1])[:, None]
            dist = np.linalg.norm(pc - dc, axis=2) / np.maximum(size, 1.0)
            cost = np.where(iou >= self.min_iou, 1.0 - iou, 1.0 + dist)
            allowed = (iou >= self.min_iou) | (dist <= self.max_centre)
            labels_ok = np.array([[t.label == d.label for d in dets] for t in self._live])
            allowed &= labels_ok
            cost = np.where(allowed, cost, 1e6)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if allowed[r, c]:
                    self._update(self._live[r], frame, dets[c])
                    matched_tracks.add(id(self._live[r]))
                    matched_dets.add(c)
        for t in list(self._live):
            if id(t) not in matched_tracks:
                t.misses += 1
                if t.misses > self.keep_alive:
                    self._end(t, frame - 1)
        for i, d in enumerate(dets):
            if i not in matched_dets:
                self._start(frame, d)

    # ------------------------------------------------------------------ offline part
    def _smooth(self, t: Track, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """RTS-smoothed (cx, cy, w, h) and their position sigmas for frames first..stop-1
        (start = first observation); px."""
        n = stop - start
        obs = {o.frame: o.fit / t.scale for o in t.observations}
        first = obs[start]
        xs_f = np.zeros((n, 4, 2))
        Ps_f = np.zeros((n, 4, 2, 2))
        xs_p = np.zeros((n, 4, 2))
        Ps_p = np.zeros((n, 4, 2, 2))
        x = np.stack([first, np.zeros(4)], axis=1)
        P = np.tile(np.diag([self.r, 0.05 ** 2]), (4, 1, 1))
        for i in range(n):
            if i:
                x = x @ _F.T
                P = _F @ P @ _F.T + self.q * _Q_UNIT
            xs_p[i], Ps_p[i] = x, P
            z = obs.get(start + i)
            if z is not None and i:
                S = P[:, 0, 0] + self.r
                K = P[:, :, 0] / S[:, None]
                x = x + K * (z - x[:, 0])[:, None]
                P = P - K[:, :, None] * P[:, 0, :][:, None, :]
            xs_f[i], Ps_f[i] = x, P
        xs, Ps = xs_f.copy(), Ps_f.copy()
        for i in range(n - 2, -1, -1):
            C = Ps_f[i] @ _F.T @ np.linalg.inv(Ps_p[i + 1])        # (4, 2, 2)
            xs[i] = xs_f[i] + np.einsum("kab,kb->ka", C, xs[i + 1] - xs_p[i + 1])
            Ps[i] = Ps_f[i] + C @ (Ps[i + 1] - Ps_p[i + 1]) @ C.transpose(0, 2, 1)
        return xs * t.scale, np.sqrt(Ps[:, :, 0, 0]) * t.scale

    def _tracked_box(self, t: Track, state: np.ndarray, sd: np.ndarray, nearest: _Obs,
             detected: bool) -> TrackedBox:
        """The box of ``state`` (cx, cy, w, h) grown by one position sigma per side (at most
        half the face's size)."""
        size = max(state[2], state[3], 1.0)
        grow = np.minimum(sd[:2], 0.5 * size)
        w = max(state[2], 1.0) + 2 * grow[0]
        h = max(state[3], 1.0) + 2 * grow[1]
        return TrackedBox(t.id, t.label, _xyxy((state[0], state[1], w, h)), nearest.confidence,
                          detected, nearest.template)

    def finish(self, frames: int | None = None, *, smooth: bool = True
               ) -> list[list[TrackedBox]]:
        """End every track and return each frame's boxes (``frames`` frames in all).

        With ``smooth`` False, boxes are the detections alone (no tracking): the baseline
        the tests and the benchmark compare against.
        """
        frames = max(frames or 0, self.frames)
        for t in list(self._live):
            self._end(t, frames - 1)
        out: list[list[TrackedBox]] = [[] for _ in range(frames)]
        for t in self.tracks:
            if not smooth:
                for o in t.observations:
                    out[o.frame].append(TrackedBox(t.id, t.label, _xyxy(o.state), o.confidence,
                                                   True, o.template))
                continue
            lo = max(t.first_allowed, t.first - self.keep_alive)
            hi = min(t.last_allowed if t.last_allowed is not None else frames - 1,
                     t.last + self.keep_alive, frames - 1)
            xs, sig = self._smooth(t, t.first, hi + 1)
            obs_frames = np.array([o.frame for o in t.observations])
            for f in range(lo, hi + 1):
                nearest = t.observations[int(np.abs(obs_frames - f).argmin())]
                if t.first <= f <= t.last:
                    out[f].append(self._tracked_box(t, xs[f - t.first, :, 0], sig[f - t.first],
                                            nearest, f in obs_frames))
                    continue
                # coasting (after the last detection, or before the first): the filter's
                # prediction (extrapolated backward from the first frame's smoothed velocity
                # before it), grown by its position sigma, keeping the largest size held
                # near the end it coasts from (a face narrowing as it turns away does not
                # shrink to nothing), united with the box where the track was last (first)
                # seen: a lost face may have stopped, and a wrong velocity must not carry
                # the mask off a face that did
                end = 0 if f < t.first else t.last - t.first
                if f < t.first:
                    k = t.first - f
                    state = xs[0, :, 0] - k * xs[0, :, 1]
                    sd = sig[0] + k * np.abs(xs[0, :, 1]) * 0.5 + 0.02 * k * t.scale
                else:
                    state, sd = xs[f - t.first, :, 0], sig[f - t.first]
                near = [o.fit[2:] for o in t.observations
                        if abs(o.frame - nearest.frame) <= max(self.keep_alive, 1)]
                size = np.max(near, axis=0)
                state = np.concatenate([state[:2], np.maximum(state[2:], size)])
                anchor = np.concatenate([xs[end, :2, 0], np.maximum(xs[end, 2:, 0], size)])
                moving = self._tracked_box(t, state, sd, nearest, False)
                still = _xyxy(anchor)
                box = (min(moving.box[0], still[0]), min(moving.box[1], still[1]),
                       max(moving.box[2], still[2]), max(moving.box[3], still[3]))
                out[f].append(TrackedBox(t.id, t.label, box, moving.confidence, False,
                                         moving.template))
        return out
