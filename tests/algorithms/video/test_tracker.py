"""The tracker on recorded detections: no video, no model (fast).

The turning face is the one the first tracker let through at 1080p (13-14 of 96 frames):
the "turner" of benchmarks/video_scene.py narrows to 30 % of its width and back; the
detector's boxes follow it down to its eyes (frames 16-18) and then find nothing until the
face widens again (frame 35). The boxes below are the detector's on the 1080p scene."""
from __future__ import annotations

import numpy as np
import pytest

from algorithms.detect.types import Detected
from algorithms.video.tracker import Tracker
from benchmarks.video_scene import covered

# frame: detection box (x0, y0, x1, y1), the "video" detector on the 1080p scene
TURNER_DETECTIONS = {
    0: (1419, 694, 1615, 910), 1: (1421, 696, 1613, 910), 2: (1418, 695, 1615, 908),
    3: (1421, 696, 1612, 907), 4: (1420, 696, 1614, 908), 5: (1422, 697, 1611, 905),
    6: (1424, 699, 1611, 903), 7: (1429, 701, 1609, 900), 8: (1430, 701, 1608, 898),
    9: (1431, 702, 1608, 896), 10: (1434, 704, 1602, 887), 11: (1438, 707, 1600, 880),
    12: (1446, 713, 1590, 862), 13: (1454, 720, 1581, 848), 14: (1454, 718, 1582, 847),
    15: (1454, 723, 1582, 853), 16: (1478, 701, 1558, 785), 17: (1481, 704, 1555, 782),
    18: (1484, 698, 1553, 773),
}
# the face itself (its portrait's box, squeezed): x0, x1 per frame; y 728-907 throughout
TURNER_X = [(1428, 1607), (1432, 1603), (1436, 1599), (1440, 1596), (1445, 1593),
            (1448, 1589), (1452, 1585), (1456, 1582), (1459, 1578), (1463, 1576),
            (1466, 1573), (1469, 1570), (1472, 1566), (1475, 1564), (1477, 1561),
            (1480, 1559), (1482, 1557), (1484, 1555), (1486, 1553), (1488, 1552),
            (1490, 1551), (1491, 1549), (1492, 1549), (1493, 1548), (1493, 1547),
            (1494, 1547), (1494, 1547), (1493, 1547), (1493, 1548), (1492, 1549),
            (1491, 1549), (1490, 1551), (1489, 1552), (1488, 1553)]


class _Face:
    def __init__(self, box):
        self.box = box


def det(box, confidence=0.9) -> Detected:
    return Detected("face", confidence, None, tuple(float(v) for v in box), "box")


def run(detections: dict, frames: int, **kw):
    tracker = Tracker(**kw)
    for f in range(frames):
        if f in detections:
            tracker.update(f, [det(detections[f])])
        else:
            tracker.update(f, [])
    return tracker.finish(frames)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_face_turning_away_stays_masked(k):
    """Shrinking detections (the half of the face the detector still sees, then its eyes)
    do not shrink or drag the mask: it keeps the size detected over the last ``size_hold``
    frames, placed where the track predicts it, and coasts in place once the face is lost."""
    frames = len(TURNER_X)
    seen = {f: b for f, b in TURNER_DETECTIONS.items() if f % k == 0}
    boxes = run(seen, frames)
    low = [(f, round(covered((x0, 728, x1, 907), boxes[f]), 2))
           for f, (x0, x1) in enumerate(TURNER_X) if covered((x0, 728, x1, 907), boxes[f]) < 1.0]
    assert low == []
    # and the mask stays a face's size: coasting grows it by its uncertainty, at most by
    # half the face's size on each side
    widths = [b.box[2] - b.box[0] for f in range(19, frames) for b in boxes[f]]
    assert max(widths) <= 2.0 * 196


def test_a_wrong_velocity_does_not_carry_the_mask_off_a_stopped_face():
    """Detections that run off upward for a few frames (the detector boxing less and less of
    a face) and stop: a coasting box holds the last place seen as well as the prediction."""
    dets = {f: (400, 400, 600, 600) for f in range(10)}
    dets.update({10: (400, 380, 600, 580), 11: (400, 360, 600, 560), 12: (400, 340, 600, 540)})
    boxes = run(dets, 28, keep_alive=15)
    for f in range(13, 28):
        assert covered((400, 340, 600, 540), boxes[f]) == 1.0, f


def test_a_moving_face_lost_for_a_while_is_followed():
    """Constant velocity, then a gap of 8 frames, then the face again: the gap is
    interpolated (both ends known), and the boxes past the last detection follow the
    motion."""
    def box(f):
        return (100 + 12 * f, 300, 260 + 12 * f, 460)
    dets = {f: box(f) for f in range(40) if not 15 <= f < 23 and f < 32}
    boxes = run(dets, 40)
    for f in range(40):
        assert covered(box(f), boxes[f]) == 1.0, f
        assert len(boxes[f]) == 1
    assert {b.detected for f in range(15, 23) for b in boxes[f]} == {False}


def test_held_size_lets_a_face_shrink_after_the_hold():
    """A face that really gets smaller (walking away) is held at its larger size only for
    ``size_hold`` frames: later the box follows the detections."""
    dets = {f: (500 - 2 * f, 300 - 2 * f, 700 - 6 * f, 500 - 6 * f) for f in range(40)}
    boxes = run(dets, 40, size_hold=10)
    w = [boxes[f][0].box[2] - boxes[f][0].box[0] for f in range(40)]
    detected = [dets[f][2] - dets[f][0] for f in range(40)]
    assert all(a >= b for a, b in zip(w, detected))
    # 200 -> 44 px in 40 frames: the box lags by the hold (and the smoother), no more
    assert all(w[f] < detected[f - 15] for f in range(15, 40))


def test_no_tracking_gives_the_detections_alone():
    dets = {0: (10, 10, 50, 50), 2: (12, 10, 52, 50)}
    boxes = run(dets, 4)
    plain = Tracker()
    for f in range(4):
        plain.update(f, [det(dets[f])] if f in dets else [])
    raw = plain.finish(4, smooth=False)
    assert [len(b) for b in raw] == [1, 0, 1, 0]
    assert raw[0][0].box == (10, 10, 50, 50)
    assert [len(b) for b in boxes] == [1, 1, 1, 1]
    assert np.allclose(sorted(b.track_id for f in boxes for b in f), 1)
